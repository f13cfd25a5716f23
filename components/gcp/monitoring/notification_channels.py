"""The channels a stack's alerts notify: existing ones by name, and email channels it creates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.gcp.iam.principals import member_slug
from components.gcp.monitoring.alerts_spec import AlertsSpec

TYPE = "mlinfra:gcp:NotificationChannels"


@dataclass(frozen=True, kw_only=True)
class NotificationChannelsArgs:
    spec: AlertsSpec
    """Where alerts go, as the stack file says it."""
    project: str
    """The project whose Cloud Monitoring sends them."""


class NotificationChannels(Component):
    """Outputs: names (every channel's resource name, existing ones first)."""

    def __init__(self, name: str, args: NotificationChannelsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        created = [gcp.monitoring.NotificationChannel(
            f"{name}-{member_slug(email)}", type="email", project=args.project, display_name=f"mlinfra alerts: {email}",
            labels={"email_address": email}, opts=self.child()) for email in args.spec.emails]
        self.names: list[pulumi.Input[str]] = list(args.spec.channels) + [c.name for c in created]
        self.register_outputs({"names": self.names})
