"""Request and prediction logging (`services[].logging`) and its drift job, as the stack file says
them, on any cloud: the keys and the rules that mean the same everywhere (no provider import).

Each cloud's spec module subclasses these to say where the records go and where the job runs:
components/gcp/monitoring/request_logging_spec.py (a Pub/Sub topic into BigQuery; the job a Cloud
Run job) and components/aws/monitoring/eks_request_logging_spec.py (an Amazon Data Firehose
stream into S3; the job a CronJob on the EKS cluster). The record is the server's to make and
publish: the runtime writes nothing by itself.
"""

from __future__ import annotations

from typing import ClassVar, Optional, Sequence

from pydantic import Field

from components.core.images import image_issues
from components.core.issues import Issue
from components.core.naming import dns_name, revision_suffix
from components.core.schedules import cron_issues
from components.core.spec import Context, Spec

SAMPLE_RATE_ENV = "REQUEST_LOG_SAMPLE_RATE"
SERVICE_ENV = "REQUEST_LOG_SERVICE"
REVISION_ENV = "K_REVISION"
"""A Kubernetes track's revision (`<service>-<track>-v<version>`), named as Cloud Run (Knative) names it."""
RECORD_FIELDS = {
    "service": "the service's name (services[].name, in REQUEST_LOG_SERVICE)",
    "revision": "the server's revision (K_REVISION: Cloud Run's, or on GKE <service>-<track>-v<version>)",
    "request_id": "the request's ID",
    "features": "the request's features as a JSON object, encoded as a string",
    "prediction": "the prediction as JSON, encoded as a string",
}
"""The fields of a record, all strings."""


class DriftSpec(Spec):
    """A scheduled job (jobs/drift) computing the population stability index of each logged
    numeric feature, current window against baseline window; an alert fires above `threshold`."""

    cron_dialect: ClassVar[str] = "scheduler"
    """Who reads `schedule`: Cloud Scheduler (`scheduler`) or a Kubernetes CronJob (`kubernetes`)."""

    image: str
    """The drift job's image, built from jobs/drift (`docker build jobs/drift`)."""
    schedule: str = "0 6 * * *"
    """Cron schedule of the job (Etc/UTC). Defaults to "0 6 * * *" (daily at 06:00)."""
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
    """Alert when a feature's PSI is above the threshold. Defaults to true in prod, false elsewhere."""

    def issues(self, ctx: Context) -> list[Issue]:
        issues = image_issues(self.image, key=("image",)) + cron_issues(self.schedule, self.cron_dialect,
                                                                        key=("schedule",))
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

    def alerts(self, prod: bool) -> bool:
        """Whether the job's alert is built: `alert`, or in prod by default."""
        return self.alert if self.alert is not None else prod


class RequestLoggingSpec(Spec):
    """Log requests and predictions, and optionally watch them for drift."""

    sample_rate: float = Field(1.0, gt=0, le=1)
    """Share of requests the server should log (it reads REQUEST_LOG_SAMPLE_RATE). Defaults to 1.0."""
    retention_days: int = Field(90, ge=1, le=3650)
    """Days each day's records are kept. Defaults to 90."""
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


def publisher_issues(logging: Optional[RequestLoggingSpec], runtime: Optional[str], image: Optional[str],
                     destination: str = "REQUEST_LOG_TOPIC", store: str = "the table") -> list[Issue]:
    """A logging server must be able to publish: not a stock image that runs no code of yours per
    request (`destination`: the variable naming where records go; `store`: where they land)."""
    if logging is None or runtime not in SILENT_RUNTIMES or image is not None:
        return []
    return [Issue(("logging",), f"the stock {runtime} image publishes no request log (it runs no code of yours per "
                  f"request), so {store} would stay empty", runtime,
                  fix=f"serve from your own image built on {runtime}'s (`image:`) that publishes each request to "
                      f"{destination}, or remove logging")]


def variable_issues(logging: Optional[RequestLoggingSpec], env: Sequence[str], secret_envs: Sequence[str],
                    names: Sequence[str]) -> list[Issue]:
    """A logging server's `env` and `secrets[].env` may not name a variable mlinfra sets for the
    request log (`names`); paths relative to the service."""
    if logging is None:
        return []
    allowed = f"any name but {', '.join(names)}"
    return ([Issue(("env", name), "is set by mlinfra for the request log (`logging`)", name, allowed=allowed,
                   fix="rename or remove it") for name in env if name in names]
            + [Issue(("secrets", i, "env"), "is set by mlinfra for the request log (`logging`)", name, allowed=allowed,
                     fix="rename it") for i, name in enumerate(secret_envs) if name in names])


def track_revision(service: str, track: str, version: str) -> str:
    """K_REVISION of a logging Kubernetes server's track: `<service>-<track>-v<version>`."""
    return dns_name(service, track, revision_suffix(version), max_len=63)
