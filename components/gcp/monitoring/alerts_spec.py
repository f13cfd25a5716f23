"""Where a stack's alerts go, as the stack file says it (`mlinfra:alerts`)."""

from __future__ import annotations

import re
from typing import Optional

from components.core.issues import Issue
from components.core.spec import Context, Spec

_CHANNEL = re.compile(r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/notificationChannels/[0-9]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


class AlertsSpec(Spec):
    """Notification channels every alert of the stack notifies, and the stack's dashboard."""

    channels: list[str] = []
    """Existing Cloud Monitoring channels, `projects/<project>/notificationChannels/<id>` (a pager,
    a chat room, the rollback topic). Defaults to none."""
    emails: list[str] = []
    """Addresses the stack creates email channels for. Defaults to none."""
    dashboard: Optional[bool] = None
    """Build the stack's Cloud Monitoring dashboard (requests, latency and instances or replicas of
    every service, GPU utilization, streaming pipelines' lag and watermark age, chains' failed
    runs). Defaults to true in prod, false elsewhere."""

    def issues(self, ctx: Context) -> list[Issue]:
        issues = [Issue(("channels", i), "is not a notification channel's resource name", c,
                        allowed="projects/<project>/notificationChannels/<numeric id>",
                        fix="copy the name from `gcloud beta monitoring channels list`")
                  for i, c in enumerate(self.channels) if not _CHANNEL.match(c)]
        issues += [Issue(("emails", i), "is not an email address", e, fix="write name@domain")
                   for i, e in enumerate(self.emails) if not _EMAIL.match(e)]
        return issues

    @property
    def any(self) -> bool:
        return bool(self.channels or self.emails)
