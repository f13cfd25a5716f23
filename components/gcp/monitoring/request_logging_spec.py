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

from components.core.issues import Issue
from components.serving import request_logging_spec as neutral
from components.serving.request_logging_spec import RECORD_FIELDS, SILENT_RUNTIMES, track_revision  # noqa: F401

ENV_NAMES = ("REQUEST_LOG_TOPIC", neutral.SAMPLE_RATE_ENV, neutral.SERVICE_ENV)
"""What a logging server gets in its environment (set by mlinfra)."""
GKE_ENV_NAMES = ENV_NAMES + (neutral.REVISION_ENV,)
"""What a logging GKE server gets: the same, and K_REVISION as Cloud Run (Knative) names it."""


class DriftSpec(neutral.DriftSpec):
    """A scheduled Cloud Run job (jobs/drift) computing the population stability index of each
    logged numeric feature, current window against baseline window, as the metric
    custom.googleapis.com/mlinfra/drift/psi; an alert fires above `threshold`."""

    schedule: str = "0 6 * * *"
    """Cron schedule of the job (Cloud Scheduler, Etc/UTC). Defaults to "0 6 * * *" (daily at 06:00)."""
    alert: Optional[bool] = None
    """Alert (the stack's `mlinfra:alerts` channels) when a feature's PSI is above the threshold.
    Defaults to true in prod, false elsewhere."""


class RequestLoggingSpec(neutral.RequestLoggingSpec):
    """Log requests and predictions to BigQuery through Pub/Sub, and optionally watch them for drift."""

    retention_days: int = Field(90, ge=1, le=3650)
    """Days each day's partition of the table is kept. Defaults to 90."""
    drift: Optional[DriftSpec] = None
    """The scheduled drift job over the log. Defaults to none."""


def publisher_issues(logging: Optional[RequestLoggingSpec], runtime: Optional[str], image: Optional[str]) -> list[Issue]:
    """A logging server must be able to publish: not a stock image that runs no code of yours per request."""
    return neutral.publisher_issues(logging, runtime, image)


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


gke_revision = track_revision
"""K_REVISION of a logging GKE server's track: `<service>-<track>-v<version>`."""


def logging_apis(services) -> tuple[str, ...]:
    """What services with `logging` need: Pub/Sub and BigQuery; with `drift`, Cloud Run (the job
    runs there, for GKE servers too), Cloud Scheduler and Monitoring."""
    logged = [s.logging for s in services if getattr(s, "logging", None) is not None]
    return (("pubsub.googleapis.com", "bigquery.googleapis.com") if logged else ()) + (
        ("run.googleapis.com", "cloudscheduler.googleapis.com", "monitoring.googleapis.com")
        if any(l.drift for l in logged) else ())
