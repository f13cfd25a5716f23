"""The Google Cloud APIs a pattern needs, enabled before anything that uses them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component

TYPE = "mlinfra:gcp:ProjectServices"


@dataclass(frozen=True, kw_only=True)
class ProjectServicesArgs:
    apis: Sequence[str]
    """Service names to enable, e.g. run.googleapis.com."""
    project: Optional[str] = None
    """Defaults to the provider's project."""


class ProjectServices(Component):
    """Enables each API; `resources` is what other components pass to `depends_on`.

    APIs are never disabled on destroy: other stacks in the project may use them.
    """

    def __init__(self, name: str, args: ProjectServicesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        apis, project = args.apis, args.project
        self.resources = [
            gcp.projects.Service(
                f"{name}-{api.split('.')[0]}",
                project=project,
                service=api,
                disable_on_destroy=False,
                disable_dependent_services=False,
                opts=self.child(),
            )
            for api in sorted(set(apis))
        ]
        self.register_outputs({"apis": sorted(set(apis))})
