"""Where an AWS stack's alerts go, as the stack file says it (`mlinfra:alerts` with `mlinfra:cloud: aws`).

The same meaning as on Google Cloud: every alert of the stack notifies these. `emails` is the
same key; what Google Cloud calls existing notification channels are, on AWS, existing SNS
topics (`topics`), and AWS adds HTTPS endpoints (a chat or paging webhook) subscribed to the
stack's own topic."""

from __future__ import annotations

import re
from typing import Optional

from components.core.issues import Issue
from components.core.spec import Context, Spec

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
_TOPIC = re.compile(r"^arn:aws(-[a-z]+)*:sns:[a-z]{2}(-gov)?-[a-z]+-\d:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
_HTTPS = re.compile(r"^https://[^\s/?#]+[^\s]*$")


class AwsAlertsSpec(Spec):
    """Who the stack's alarms notify: through the stack's SNS topic, and existing topics; and its dashboard."""

    emails: list[str] = []
    """Addresses subscribed to the stack's alert topic (SNS email subscriptions: each address
    confirms once, from the message SNS sends it). Defaults to none."""
    https_endpoints: list[str] = []
    """HTTPS URLs subscribed to the stack's alert topic (a paging or chat webhook; SNS posts a
    confirmation request first, which the endpoint must answer). Defaults to none."""
    topics: list[str] = []
    """Existing SNS topics the alarms also notify, by ARN (a pager's or another team's topic; its
    policy, and its key's if it is encrypted, must let CloudWatch publish). Defaults to none."""

    dashboard: Optional[bool] = None
    """Build the stack's CloudWatch dashboard, `mlinfra-<stack>` (per model server its target
    groups' requests, 5xx, response-time percentiles and healthy hosts by track, and its objectives'
    alarms); a stack without model servers has none. Defaults to true in prod, false elsewhere."""
    gpu_metrics: Optional[bool] = None
    """Install the Amazon CloudWatch Observability add-on (Container Insights with enhanced
    observability: the CloudWatch agent, and NVIDIA's DCGM exporter on GPU nodes) when the cluster
    has GPU pools, for the GPU servers' alarms (`services[].gpuAlerts`) and dashboard charts. Billed
    per observation by CloudWatch. Defaults to true in prod, and elsewhere when a server has
    gpuAlerts; false otherwise."""

    def issues(self, ctx: Context) -> list[Issue]:
        issues = [Issue(("emails", i), "is not an email address", e, fix="write name@domain")
                  for i, e in enumerate(self.emails) if not _EMAIL.match(e)]
        issues += [Issue(("httpsEndpoints", i), "is not an HTTPS URL", u, allowed="https://<host>/<path>",
                         fix="use the endpoint's https:// URL (alerts are never posted over plain HTTP)")
                   for i, u in enumerate(self.https_endpoints) if not _HTTPS.match(u)]
        issues += [Issue(("topics", i), "is not an SNS topic ARN", arn, allowed="arn:aws:sns:<region>:<account>:<topic>",
                         fix="copy the ARN from `aws sns list-topics`")
                   for i, arn in enumerate(self.topics) if not _TOPIC.match(arn)]
        return issues

    def gpu_metrics_on(self, *, prod: bool, gpu_pools: bool, alerted: bool) -> bool:
        """Whether the stack runs the CloudWatch Observability add-on: only with GPU pools; as
        `gpuMetrics` says, else in prod or when a server asks for GPU alerts."""
        return gpu_pools and (self.gpu_metrics if self.gpu_metrics is not None else prod or alerted)

    @property
    def any(self) -> bool:
        return bool(self.emails or self.https_endpoints or self.topics)
