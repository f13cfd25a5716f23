"""Request and prediction logging of an EKS model server, and the drift job that reads the log,
as the stack file says them (`services[].logging` on AWS): the same keys as on Google Cloud.

The server puts one JSON line per logged request (the fields of RECORD_FIELDS) to the Amazon
Data Firehose stream named in REQUEST_LOG_STREAM (PutRecord or PutRecordBatch), as its own IAM
role (EKS Pod Identity). Firehose writes them GZIP'd to the stack's data lake, under
`request-logs/<service>/<yyyy>/<MM>/<dd>/` (the day it received them, UTC), encrypted with the
buckets' KMS key; an S3 lifecycle rule expires the prefix after `retentionDays`. The drift job
(a CronJob on the cluster) reads the windows back from there and writes CloudWatch metrics.
"""

from __future__ import annotations

from typing import ClassVar, Optional

from pydantic import Field

from components.core.naming import dns_name
from components.serving import request_logging_spec as neutral

STREAM_ENV = "REQUEST_LOG_STREAM"
ENV_NAMES = (STREAM_ENV, neutral.SAMPLE_RATE_ENV, neutral.SERVICE_ENV, neutral.REVISION_ENV)
"""What a logging EKS server gets in its environment (set by mlinfra), as on GKE with the stream for the topic."""
RECORD_FIELDS = {
    **neutral.RECORD_FIELDS,
    "revision": "the server's revision (K_REVISION: <service>-<track>-v<version>)",
    "timestamp": "when the server answered, RFC 3339 in UTC (e.g. 2026-12-01T06:00:00Z): the drift job's windows",
}
"""The fields of each JSON line (strings); lines without a readable timestamp are skipped by the drift job."""
LOG_ROOT = "request-logs"
DRIFT_NAMESPACE = "mlinfra/drift"
"""The drift job's CloudWatch namespace (its role may write metrics there only)."""
PSI_METRIC = "PSI"
"""Per feature: dimensions Service and Feature."""
MAX_PSI_METRIC = "MaxPSI"
"""Per service, the largest of its features' PSI in a run: dimension Service (the alarm watches it)."""


class EksDriftSpec(neutral.DriftSpec):
    """A CronJob on the stack's EKS cluster (jobs/drift, DRIFT_SOURCE=s3) computing the population
    stability index of each logged numeric feature, current window against baseline window, as
    CloudWatch metrics (namespace mlinfra/drift); an alarm fires above `threshold`."""

    cron_dialect: ClassVar[str] = "kubernetes"

    image: str
    """The drift job's image, built from jobs/drift (`docker build jobs/drift`) and pushed to a
    registry the cluster's nodes pull from (e.g. the stack's ECR repository)."""
    schedule: str = "0 6 * * *"
    """Cron schedule of the CronJob (Kubernetes: 5 fields or a macro such as @daily, Etc/UTC).
    Defaults to "0 6 * * *" (daily at 06:00)."""
    alert: Optional[bool] = None
    """Alarm (the stack's SNS alert topic, `mlinfra:alerts`) when a feature's PSI is above the
    threshold. Defaults to true in prod, false elsewhere."""


class EksRequestLoggingSpec(neutral.RequestLoggingSpec):
    """Log requests and predictions to the stack's data lake through Amazon Data Firehose, and
    optionally watch them for drift."""

    retention_days: int = Field(90, ge=1, le=3650)
    """Days each record is kept under the log's prefix of the data lake (an S3 lifecycle rule).
    Defaults to 90."""
    drift: Optional[EksDriftSpec] = None
    """The scheduled drift job over the log. Defaults to none."""


def log_prefix(service: str) -> str:
    """Where a service's records land in the data lake (their day partitions below it)."""
    return f"{LOG_ROOT}/{service}/"


def stream_name(stack: str, service: str) -> str:
    """The Firehose stream of a service's log (at most 64 characters, unique per account and region)."""
    return dns_name("mlinfra", stack, service, "requests", max_len=64)


def drift_job_name(service: str) -> str:
    """The drift job's CronJob and service account (in the stack's jobs namespace)."""
    return dns_name("drift", service, max_len=40)


def server_env(spec: EksRequestLoggingSpec, stream: str, service: str) -> dict[str, str]:
    """What the logging server gets in its environment (`service`: services[].name, the value the
    drift job selects the records by); K_REVISION is per track."""
    return {STREAM_ENV: stream, neutral.SAMPLE_RATE_ENV: f"{spec.sample_rate:g}", neutral.SERVICE_ENV: service}


def job_env(spec: EksDriftSpec, bucket: str, service: str, region: str) -> dict[str, str]:
    """The drift job's configuration (jobs/drift/main.py reads it)."""
    return {"DRIFT_SOURCE": "s3", "DRIFT_BUCKET": bucket, "DRIFT_PREFIX": log_prefix(service),
            "DRIFT_NAMESPACE": DRIFT_NAMESPACE, "DRIFT_SERVICE": service, "AWS_REGION": region,
            "DRIFT_THRESHOLD": f"{spec.threshold:g}", "DRIFT_BINS": str(spec.bins),
            "DRIFT_BASELINE_DAYS": str(spec.baseline_days), "DRIFT_CURRENT_DAYS": str(spec.current_days),
            "DRIFT_MIN_COUNT": str(spec.min_count), "DRIFT_FEATURES": ",".join(spec.features)}
