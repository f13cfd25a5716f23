"""A model server on GKE as the stack file says it (`platform: gke`): the Kubernetes serving
spec, placed on the stack's GKE cluster."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field

from components.core.issues import Issue
from components.core.spec import Context
from components.gcp.gke.gke_job_spec import secret_issues
from components.gcp.iam.principals import SERVICE_ACCOUNT_EMAIL
from components.serving.gpu_alerts_spec import GpuAlertsSpec
from components.gcp.monitoring.metrics import SERVER_REQUEST_COUNTERS
from components.gcp.monitoring.request_logging_spec import GKE_ENV_NAMES, RequestLoggingSpec, publisher_issues
from components.serving.request_logging_spec import variable_issues
from components.kubernetes.serving import KubernetesServingSpec, TrackRolloutSpec, metrics_port_of
from components.serving import runtimes
from components.serving.model_serving_spec import SecretRef


# Why a gRPC server's objectives cannot come from the Gateway: its metrics select a server by its
# /<service> path rule, which a gRPC route has none of, and count HTTP response codes, while gRPC
# errors travel in grpc-status trailers on HTTP 200. They come from the runtime's own counters.
GATEWAY_BLIND = ("the Gateway's metrics select a server by its /<service> path rule, which a gRPC route has none "
                 "of, and count HTTP response codes, while gRPC errors travel in grpc-status trailers on HTTP 200")


def objectives_refusal(spec: Any) -> Optional[str]:
    """Why a server on GKE can have no objectives, or None when it can (or is not on GKE): an HTTP
    server is measured at the Gateway by its path rule, a gRPC server at itself, by its runtime's
    request counters (SERVER_REQUEST_COUNTERS: Triton's, scraped by the server's PodMonitoring)."""
    if getattr(spec, "platform", None) != "gke" or spec.protocol != "grpc":
        return None
    if spec.runtime not in SERVER_REQUEST_COUNTERS:
        return (f"objectives of a gRPC server on GKE are measured by its runtime's request counters ({GATEWAY_BLIND}), "
                f"and runtime {spec.runtime or 'custom'} exports none mlinfra scrapes (TF Serving's Prometheus "
                "metrics need a --monitoring_config_file)")
    if "--allow-metrics=false" in spec.extra_args or metrics_port_of(spec) is None:
        return ("objectives of a gRPC server on GKE are measured by Triton's request counters on its metrics port, "
                "which `--allow-metrics=false` turns off")
    return None


class GkeRolloutSpec(TrackRolloutSpec):
    auto_rollback: bool = False
    """Roll the canary back on its own when the service's fast-burn alert fires: the alert
    notifies the stack's rollback topic, whose function dispatches the repository's rollout
    workflow with `action: abort`, which opens a pull request removing the canary (the stack file
    stays the truth; the commit names the incident). Needs `slo` (or prod's default; a gRPC server
    can have one with runtime triton only) and a trigger with `run: {proposeRollout: {service:
    <this service>}}`, whose repository and token it uses. Stays set between canaries. Defaults to
    false."""


class GkeServiceSpec(KubernetesServingSpec):
    """One model server on GKE."""

    platform: Literal["gke"] = "gke"
    """Where it runs: gke (the kubernetes pattern's default)."""
    service_account: Optional[str] = Field(None, pattern=SERVICE_ACCOUNT_EMAIL)
    """Run as an existing Google service account (by email) instead of one the stack creates: the
    stack binds the server's Kubernetes account to it by Workload Identity (a binding on that
    account) and gives it the read grants. Defaults to an account of the server's own."""
    secrets: list[SecretRef] = []
    """Environment variables from Secret Manager, by reference: GKE's Secret Manager add-on
    mounts them as in-memory files (their values never pass through Pulumi), the container's
    shell exports them before the runtime starts, and the server's account may read only these.
    Needs a runtime preset or `command`, and an image with /bin/sh. Defaults to none."""
    rollout: GkeRolloutSpec = GkeRolloutSpec()
    """Model versioning: canary rollout, rolled back on its own with `autoRollback`."""
    gpu_alerts: Optional[GpuAlertsSpec] = None
    """Alerts on its GPUs (idle, memory near full), from GKE's managed DCGM metrics. Needs
    `resources.gpu`. Defaults to none; in prod, a server with a GPU gets them at their defaults."""
    logging: Optional[RequestLoggingSpec] = None
    """Log requests and predictions to BigQuery, as on Cloud Run: a Pub/Sub topic the server
    publishes to (named in REQUEST_LOG_TOPIC; its Google account, by Workload Identity, may
    publish there only), a table written by a Pub/Sub BigQuery subscription, and optionally the
    scheduled drift job (a Cloud Run job) and its alert. The server publishes each record itself,
    which the stock vllm and tfserving images cannot. Defaults to none."""

    def issues(self, ctx: Context) -> list[Issue]:
        known = bool(self.command) or runtimes.PRESETS.get(self.runtime or "custom") is not None
        gpu = ([Issue(("gpuAlerts",), "watches the server's GPUs, but it has none", fix="add `resources.gpu`, "
                      "or remove gpuAlerts")] if self.gpu_alerts is not None and self.resources.gpu is None else [])
        refusal = objectives_refusal(self) if self.slo is not None else None
        if refusal is not None:
            gpu.append(Issue(("slo",), refusal, fix="remove slo, or serve with runtime triton (in prod a gRPC server "
                             "gets no default objectives either)"))
        elif self.slo is not None and self.protocol == "grpc" and self.slo.latency is not None:
            # Triton's latencies are cumulative counters of microseconds (nv_inference_request_duration_us),
            # a mean at best; its only histogram measures a decoupled model's first response and its
            # summaries are per-pod quantiles: neither is a distribution of request latencies.
            gpu.append(Issue(("slo", "latency"), "a latency objective counts the requests answered within the "
                             "threshold, which needs a distribution of request latencies: Triton exports its "
                             "latencies as cumulative counters (a mean), and the Gateway's latency distribution cannot "
                             "select a gRPC route (it has no path rule)", fix="remove slo.latency (availability "
                             "objectives of a gRPC Triton server are built from its success and failure counters)"))
        logged = (variable_issues(self.logging, list(self.env), [ref.env for ref in self.secrets], GKE_ENV_NAMES)
                  + publisher_issues(self.logging, self.runtime, self.image))
        return (gpu + logged + super().issues(ctx) + self.model_secret_issues(self.secrets)
                + secret_issues(self.env, self.secrets, known,
                                "set `command` to the image's entrypoint, or use a runtime preset"))
