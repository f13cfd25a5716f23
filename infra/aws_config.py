"""The stack file's contract on AWS (`mlinfra:cloud: aws`): the `mlinfra:` keys an AWS stack
may have, and the provider's own `aws:region`.

The same key names as on Google Cloud wherever the meaning is the same (`storage.dataLake`,
`cluster.nodePools`, `services`, `jobs`); keys only Google Cloud has (`triggers`,
`cluster.releaseChannel`, `nodePools[].machineType`, `gcp:project`) are named as such.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Mapping, Optional

from pydantic import model_validator

from components.aws.eks.eks_cluster_spec import EksClusterSpec
from components.aws.eks.eks_job_spec import EksJobSpec
from components.aws.monitoring.alert_topic_spec import AwsAlertsSpec
from components.aws.monitoring.eks_request_logging_spec import drift_job_name
from components.aws.network.vpc_spec import VpcSpec
from components.aws.storage.s3_storage_spec import BUCKET_ROLES, S3StorageSpec
from components.core.issues import Issue, duplicate_names
from components.core.spec import Context, Spec
from infra.errors import ProviderKey
from infra.patterns.registry import AWS_PATTERNS
from infra.sections import ServiceSpec, WaiverSpec, waiver_issues

REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_TAG = re.compile(r"^[\w .:/=+@-]*$")


class AwsMlinfraConfig(Spec):
    """Every `mlinfra:` key of an AWS stack file."""

    cloud: Literal["aws"]
    """The cloud: aws (gcp is the default)."""
    pattern: Literal[tuple(AWS_PATTERNS)]
    """The architecture of this stack (on AWS: kubernetes)."""
    environment: Literal["dev", "staging", "prod"]
    """Drives the safety defaults: prod protects stateful resources and turns on deletion protection."""
    labels: dict[str, str] = {}
    """Tags added to every tagged resource, beside environment, stack, pattern and managed-by."""
    network: VpcSpec = VpcSpec()
    """The VPC."""
    storage: S3StorageSpec = S3StorageSpec()
    """The data lake and model-artifact buckets."""
    services: list[ServiceSpec] = []
    """Model servers (`platform: eks`, the default)."""
    cluster: Optional[EksClusterSpec] = None
    """The EKS cluster and its managed node groups."""
    jobs: list[EksJobSpec] = []
    """Training and batch-scoring jobs on EKS."""
    alerts: AwsAlertsSpec = AwsAlertsSpec()
    """Who the services' burn-rate alarms notify: email addresses and HTTPS endpoints subscribed to
    the stack's SNS topic, and existing SNS topics; and the stack's CloudWatch dashboard. Defaults to
    nobody; required in prod when the stack has services."""
    waivers: list[WaiverSpec] = []
    """Guardrail exceptions, each with a written reason."""

    @model_validator(mode="before")
    @classmethod
    def _default_platform(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("services"), list):
            pattern = AWS_PATTERNS.get(data.get("pattern")) if isinstance(data.get("pattern"), str) else None
            default = pattern.default_platform if pattern else "eks"
            data = {**data, "services": [{"platform": default, **s} if isinstance(s, dict) and "platform" not in s else s
                                         for s in data["services"]]}
        return data

    def issues(self, ctx: Context) -> list[Issue]:
        issues: list[Issue] = []
        if len(self.labels) > 40:
            issues.append(Issue(("labels",), "too many tags: AWS allows 50 per resource and mlinfra adds 4 (and Name)",
                                len(self.labels), fix="remove tags until at most 40 remain"))
        for key, value in self.labels.items():
            if not 1 <= len(key) <= 128 or not _TAG.match(key) or key.lower().startswith("aws:"):
                issues.append(Issue(("labels", key), "tag key is not valid", key,
                                    allowed="1 to 128 letters, digits, spaces and _.:/=+-@, not starting with aws:",
                                    fix="rename the tag"))
            if not isinstance(value, str) or len(value) > 256 or not _TAG.match(value):
                issues.append(Issue(("labels", key), "tag value is not valid", value,
                                    allowed="up to 256 letters, digits, spaces and _.:/=+-@, as a string",
                                    fix="quote numbers and drop other characters"))
        issues += duplicate_names("services", [s.name for s in self.services])
        issues += duplicate_names("jobs", [j.name for j in self.jobs])
        issues += self._drift_job_issues()
        issues += waiver_issues(self.waivers)
        issues += self._gpu_metrics_issues()
        return issues

    def _drift_job_issues(self) -> list[Issue]:
        """A drift job runs in the jobs namespace as `drift-<service>`: no job of the stack's may take that name."""
        drift = {drift_job_name(s.name): i for i, s in enumerate(self.services)
                 if getattr(s, "logging", None) is not None and s.logging.drift is not None}
        return [Issue(("jobs", i, "name"), f"is the name of services[{drift[j.name]}]'s drift job (same namespace)",
                      j.name, fix="rename the job") for i, j in enumerate(self.jobs) if j.name in drift]

    def _gpu_metrics_issues(self) -> list[Issue]:
        """GPU alerts read the add-on's metrics: refused when `alerts.gpuMetrics` turns it off."""
        gpu_pools = self.cluster is not None and any(p.gpu is not None for p in self.cluster.node_pools)
        issues: list[Issue] = []
        if self.alerts.gpu_metrics and not gpu_pools:
            issues.append(Issue(("alerts", "gpuMetrics"), "has no effect: the cluster has no GPU pools", True,
                                fix="remove gpuMetrics, or add a pool with `gpu`"))
        if self.alerts.gpu_metrics is False:
            issues += [Issue(("services", i, "gpuAlerts"), "reads Container Insights' GPU metrics, which "
                             "`alerts.gpuMetrics: false` turns off", fix="remove gpuAlerts, or remove `gpuMetrics: false`")
                       for i, s in enumerate(self.services) if getattr(s, "gpu_alerts", None) is not None]
        return issues


def provider_issues(values: Mapping[str, Any]) -> list[Issue]:
    """`aws:region` is required (Google Cloud's keys, and every other key outside mlinfra:, are
    infra/config_keys.py's)."""
    issues: list[Issue] = []
    region = values.get("aws:region")
    if not region:
        issues.append(Issue((ProviderKey("aws:region"),), "is required", fix="add `aws:region: us-east-1` under config:"))
    elif not isinstance(region, str) or not REGION.match(region):
        issues.append(Issue((ProviderKey("aws:region"),), "is not an AWS region", region,
                            allowed="e.g. us-east-1, eu-west-1", fix="write the region's code, e.g. us-east-1"))
    return issues


CONTEXT_EXTRA = {"bucket_roles": BUCKET_ROLES}
