"""Request and prediction logging of a Cloud Run or GKE service, and the drift job that reads the
log, as the stack file says them (`services[].logging`).

The server publishes one JSON message per logged request to the topic named in
REQUEST_LOG_TOPIC (`projects/<project>/topics/<id>`), with the fields of RECORD_FIELDS (extra
fields are dropped), as its own account (on GKE, the Google account its Kubernetes account is
bound to by Workload Identity). A Pub/Sub BigQuery subscription writes each message to the table
as it arrives, with the message's publish time; the drift job compares windows of that table.
The runtime writes nothing by itself: the record (its features above all) is the server's to make.
"""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from components.core.images import image_issues
from components.core.naming import dns_name, revision_suffix
from components.core.issues import Issue
from components.core.schedules import cron_issues
from components.core.spec import Context, Spec

ENV_NAMES = ("REQUEST_LOG_TOPIC", "REQUEST_LOG_SAMPLE_RATE", "REQUEST_LOG_SERVICE")
"""What a logging server gets in its environment (set by mlinfra)."""
GKE_ENV_NAMES = ENV_NAMES + ("K_REVISION",)
"""What a logging GKE server gets: the same, and K_REVISION as Cloud Run (Knative) names it."""
RECORD_FIELDS = {
    "service": "the service's name (services[].name, in REQUEST_LOG_SERVICE)",
    "revision": "the server's revision (K_REVISION: Cloud Run's, or on GKE <service>-<track>-v<version>)",
    "request_id": "the request's ID",
    "features": "the request's features as a JSON object, encoded as a string",
    "prediction": "the prediction as JSON, encoded as a string",
}
"""The message fields the table keeps (all STRING), beside the subscription's metadata columns."""


class DriftSpec(Spec):
    """A scheduled Cloud Run job (jobs/drift) computing the population stability index of each
    logged numeric feature, current window against baseline window, as the metric
    custom.googleapis.com/mlinfra/drift/psi; an alert fires above `threshold`."""

    image: str
    """The drift job's image, built from jobs/drift (`docker build jobs/drift`)."""
    schedule: str = "0 6 * * *"
    """Cron schedule of the job (Cloud Scheduler, Etc/UTC). Defaults to "0 6 * * *" (daily at 06:00)."""
    threshold: float = Field(0.2, gt=0, le=10)
    """PSI above which a feature has drifted (0.1 to 0.2 is usually read as a moderate shift,
    above 0.2 as a significant one). Defaults to 0.2."""
    bins: int = Field(10, ge=2, le=100)
    """Bins, cut at the baseline window's quantiles. Defaults to 10."""
    baseline_days: int = Field(7, ge=1, le=365)
    """Days of the baseline window, which ends where the current window starts. Defaults to 7."""
    current_days: int = Field(1, ge=1, le=90)
    """Days of the current window, up to the job's run. Defaults to 1."""
    min_count: int = Field(100, ge=1)
    """Values each window needs before a feature gets an index. Defaults to 100."""
    features: list[str] = []
    """Feature names to compare. Defaults to every numeric feature logged."""
    alert: Optional[bool] = None
    """Alert (the stack's `mlinfra:alerts` channels) when a feature's PSI is above the threshold.
    Defaults to true in prod, false elsewhere."""

    def issues(self, ctx: Context) -> list[Issue]:
        issues = image_issues(self.image, key=("image",)) + cron_issues(self.schedule, "scheduler", key=("schedule",))
        seen: set[str] = set()
        for i, name in enumerate(self.features):
            if not name.strip():
                issues.append(Issue(("features", i), "is empty", name, fix="name a logged feature, or remove the entry"))
            elif name in seen:
                issues.append(Issue(("features", i), "is named twice", name, fix="remove the repeat"))
            elif "," in name:
                issues.append(Issue(("features", i), "contains a comma", name, fix="give one feature per entry"))
            seen.add(name)
        return issues


class RequestLoggingSpec(Spec):
    """Log requests and predictions to BigQuery through Pub/Sub, and optionally watch them for drift."""

    sample_rate: float = Field(1.0, gt=0, le=1)
    """Share of requests the server should log (it reads REQUEST_LOG_SAMPLE_RATE). Defaults to 1.0."""
    retention_days: int = Field(90, ge=1, le=3650)
    """Days each day's partition of the table is kept. Defaults to 90."""
    drift: Optional[DriftSpec] = None
    """The scheduled drift job over the log. Defaults to none."""

    def issues(self, ctx: Context) -> list[Issue]:
        drift = self.drift
        if drift is not None and drift.baseline_days + drift.current_days > self.retention_days:
            return [Issue(("drift", "baselineDays"), f"with currentDays ({drift.current_days}) reaches back further "
                          f"than the log keeps partitions (retentionDays {self.retention_days})", drift.baseline_days,
                          allowed=f"1 to {self.retention_days - drift.current_days}",
                          fix="shorten the windows, or raise retentionDays")]
        return []


SILENT_RUNTIMES = ("tfserving", "vllm")
"""Runtime presets whose stock image runs no code of the model's per request, so it cannot publish
(Triton's Python backend and TorchServe's handlers can)."""


def publisher_issues(logging: Optional[RequestLoggingSpec], runtime: Optional[str], image: Optional[str]) -> list[Issue]:
    """A logging server must be able to publish: not a stock image that runs no code of yours per request."""
    if logging is None or runtime not in SILENT_RUNTIMES or image is not None:
        return []
    return [Issue(("logging",), f"the stock {runtime} image publishes no request log (it runs no code of yours per "
                  "request), so the table would stay empty", runtime,
                  fix=f"serve from your own image built on {runtime}'s (`image:`) that publishes each request to "
                      "REQUEST_LOG_TOPIC, or remove logging")]


def topic_id(service_name: str) -> str:
    """The Pub/Sub topic a service's request log goes to (`service_name`: the Cloud Run service's
    name, or a GKE server's `<name>-<stack>`)."""
    return f"{service_name}-requests"


def dataset_id(service_name: str) -> str:
    """The BigQuery dataset of a service's request log (its table is `records`)."""
    return "requests_" + service_name.replace("-", "_")


TABLE_ID = "records"


def server_env(spec: RequestLoggingSpec, project: str, service_name: str, service: str) -> dict[str, str]:
    """What the logging server gets in its environment (`service`: services[].name, the value the
    drift job selects the records by)."""
    return {"REQUEST_LOG_TOPIC": f"projects/{project}/topics/{topic_id(service_name)}",
            "REQUEST_LOG_SAMPLE_RATE": f"{spec.sample_rate:g}", "REQUEST_LOG_SERVICE": service}


def gke_revision(service: str, track: str, version: str) -> str:
    """K_REVISION of a logging GKE server's track: `<service>-<track>-v<version>`."""
    return dns_name(service, track, revision_suffix(version), max_len=63)


def logging_apis(services) -> tuple[str, ...]:
    """What services with `logging` need: Pub/Sub and BigQuery; with `drift`, Cloud Run (the job
    runs there, for GKE servers too), Cloud Scheduler and Monitoring."""
    logged = [s.logging for s in services if getattr(s, "logging", None) is not None]
    return (("pubsub.googleapis.com", "bigquery.googleapis.com") if logged else ()) + (
        ("run.googleapis.com", "cloudscheduler.googleapis.com", "monitoring.googleapis.com")
        if any(l.drift for l in logged) else ())
