"""The metrics mlinfra's objectives and alerts read, with their kinds, and the aligners Cloud
Monitoring accepts for each kind: a condition is checked against this table before planning,
so a delta distribution is never aligned with a rate (the API refuses it at apply time).

Metric kinds from cloud.google.com/monitoring/api/metrics_gcp (run, loadbalancing) and
.../metrics_kubernetes (kubernetes.io/container/accelerator/*), checked 2026-12-01; dataflow_job
metrics (dataflow.googleapis.com/job/*) and Workflows' finished_execution_count (with its `status`
label) as Google's metrics list gives them, not re-checked here; run's container/instance_count
(GAUGE INT64, label `state`), kubernetes.io/container/uptime (GAUGE DOUBLE),
container/cpu/core_usage_time (CUMULATIVE DOUBLE) and container/memory/used_bytes (GAUGE INT64) from
the same lists;
Prometheus metrics (Managed Service for Prometheus: a gauge is
prometheus.googleapis.com/<name>/gauge on the prometheus_target resource, GAUGE DOUBLE; a counter is
prometheus.googleapis.com/<name>/counter, CUMULATIVE DOUBLE); the global and regional external
Application Load Balancers' request_count (DELTA INT64) and total_latencies (DELTA DISTRIBUTION) from
the loadbalancing list; aligners per kind from the Aligner reference
(cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.alertPolicies).

A request-based SLI takes what Service Monitoring's TimeSeriesRatio and DistributionCut say:
counts of DELTA or CUMULATIVE kind and INT64 or DOUBLE value, and a DELTA or CUMULATIVE
DISTRIBUTION for a latency cut (cloud.google.com/monitoring/api/ref_v3/rest/v3/services.serviceLevelObjectives).
"""

from __future__ import annotations

from typing import NamedTuple

from components.core.issues import Issue, one_of


class Metric(NamedTuple):
    kind: str
    value: str
    resource: str


METRICS: dict[str, Metric] = {
    "run.googleapis.com/request_count": Metric("DELTA", "INT64", "cloud_run_revision"),
    "run.googleapis.com/request_latencies": Metric("DELTA", "DISTRIBUTION", "cloud_run_revision"),
    "loadbalancing.googleapis.com/https/internal/request_count": Metric("DELTA", "INT64", "internal_http_lb_rule"),
    "loadbalancing.googleapis.com/https/internal/total_latencies": Metric("DELTA", "DISTRIBUTION",
                                                                          "internal_http_lb_rule"),
    "loadbalancing.googleapis.com/https/request_count": Metric("DELTA", "INT64", "https_lb_rule"),
    "loadbalancing.googleapis.com/https/total_latencies": Metric("DELTA", "DISTRIBUTION", "https_lb_rule"),
    "loadbalancing.googleapis.com/https/external/regional/request_count": Metric(
        "DELTA", "INT64", "http_external_regional_lb_rule"),
    "loadbalancing.googleapis.com/https/external/regional/total_latencies": Metric(
        "DELTA", "DISTRIBUTION", "http_external_regional_lb_rule"),
    "kubernetes.io/container/accelerator/duty_cycle": Metric("GAUGE", "INT64", "k8s_container"),
    "kubernetes.io/container/accelerator/memory_used": Metric("GAUGE", "INT64", "k8s_container"),
    "dataflow.googleapis.com/job/is_failed": Metric("GAUGE", "INT64", "dataflow_job"),
    "dataflow.googleapis.com/job/system_lag": Metric("GAUGE", "INT64", "dataflow_job"),
    "dataflow.googleapis.com/job/data_watermark_age": Metric("GAUGE", "INT64", "dataflow_job"),
    "workflows.googleapis.com/finished_execution_count": Metric("DELTA", "INT64", "workflows.googleapis.com/Workflow"),
    "run.googleapis.com/container/instance_count": Metric("GAUGE", "INT64", "cloud_run_revision"),
    "kubernetes.io/container/uptime": Metric("GAUGE", "DOUBLE", "k8s_container"),
    # A container's CPU seconds since it started (CUMULATIVE DOUBLE, charted as cores with
    # ALIGN_RATE) and its memory (GAUGE INT64, label `memory_type`: evictable, non-evictable).
    "kubernetes.io/container/cpu/core_usage_time": Metric("CUMULATIVE", "DOUBLE", "k8s_container"),
    "kubernetes.io/container/memory/used_bytes": Metric("GAUGE", "INT64", "k8s_container"),
    # jobs/drift writes it (components/gcp/monitoring/drift_watch.py creates its descriptor).
    "custom.googleapis.com/mlinfra/drift/psi": Metric("GAUGE", "DOUBLE", "global"),
    # GKE's managed DCGM collection, through Managed Service for Prometheus: a Prometheus gauge
    # `<name>` is stored as prometheus.googleapis.com/<name>/gauge, GAUGE DOUBLE.
    **{f"prometheus.googleapis.com/{name}/gauge": Metric("GAUGE", "DOUBLE", "prometheus_target")
       for name in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE")},
    # Triton's request counters (its /metrics on port 8002), scraped by the server's PodMonitoring:
    # a Prometheus counter `<name>` is stored as prometheus.googleapis.com/<name>/counter, CUMULATIVE DOUBLE.
    # The two duration counters add each successful request's end-to-end and queue time, in
    # microseconds (Triton's counter latencies, on by default; triton-inference-server/core
    # src/infer_stats.cc adds them in UpdateSuccess only, so they divide by the success count).
    **{f"prometheus.googleapis.com/{name}/counter": Metric("CUMULATIVE", "DOUBLE", "prometheus_target")
       for name in ("nv_inference_request_success", "nv_inference_request_failure",
                    "nv_inference_request_duration_us", "nv_inference_queue_duration_us")},
}

# The request counters a runtime exports itself, for objectives measured at the server (a gRPC
# server on GKE, which the Gateway's metrics cannot select): (good, bad) metric types. Triton's
# `nv_inference_request_success` and `nv_inference_request_failure` count each request once,
# batch or not, per model and version (recent versions split the failures by `reason`: REJECTED,
# CANCELED, BACKEND, OTHER; triton-inference-server/server docs/user_guide/metrics.md). TF Serving
# exports Prometheus metrics only with a --monitoring_config_file (a file the preset does not
# write, served at /monitoring/prometheus/metrics on its REST port; tensorflow/serving
# serving_config.md); the other presets serve no gRPC here.
SERVER_REQUEST_COUNTERS: dict[str, tuple[str, str]] = {
    "triton": ("prometheus.googleapis.com/nv_inference_request_success/counter",
               "prometheus.googleapis.com/nv_inference_request_failure/counter"),
}


# The cumulative time counters a runtime exports beside its request counters, for its dashboard's
# mean latency (a counter's rate over the success counter's rate): (request time, queue time),
# in microseconds per successful request.
SERVER_DURATION_COUNTERS: dict[str, tuple[str, str]] = {
    "triton": ("prometheus.googleapis.com/nv_inference_request_duration_us/counter",
               "prometheus.googleapis.com/nv_inference_queue_duration_us/counter"),
}


def prometheus_name(metric: str) -> str:
    """The PromQL name of a Prometheus metric Cloud Monitoring stores as `metric`."""
    return metric.removeprefix("prometheus.googleapis.com/").rsplit("/", 1)[0]

_NUMERIC_GAUGE = {"ALIGN_NONE", "ALIGN_MEAN", "ALIGN_MIN", "ALIGN_MAX", "ALIGN_SUM", "ALIGN_COUNT", "ALIGN_STDDEV",
                  "ALIGN_NEXT_OLDER", "ALIGN_INTERPOLATE", "ALIGN_PERCENTILE_99", "ALIGN_PERCENTILE_95",
                  "ALIGN_PERCENTILE_50", "ALIGN_PERCENTILE_05", "ALIGN_DELTA", "ALIGN_RATE", "ALIGN_PERCENT_CHANGE"}
ALIGNERS: dict[tuple[str, str], set[str]] = {
    ("GAUGE", "INT64"): _NUMERIC_GAUGE,
    ("GAUGE", "DOUBLE"): _NUMERIC_GAUGE,
    ("DELTA", "INT64"): {"ALIGN_NONE", "ALIGN_DELTA", "ALIGN_RATE", "ALIGN_SUM", "ALIGN_MEAN", "ALIGN_MIN",
                         "ALIGN_MAX", "ALIGN_COUNT", "ALIGN_NEXT_OLDER"},
    ("CUMULATIVE", "INT64"): {"ALIGN_NONE", "ALIGN_DELTA", "ALIGN_RATE", "ALIGN_NEXT_OLDER"},
    ("CUMULATIVE", "DOUBLE"): {"ALIGN_NONE", "ALIGN_DELTA", "ALIGN_RATE", "ALIGN_NEXT_OLDER"},
    ("DELTA", "DISTRIBUTION"): {"ALIGN_NONE", "ALIGN_DELTA", "ALIGN_SUM", "ALIGN_PERCENTILE_99",
                                "ALIGN_PERCENTILE_95", "ALIGN_PERCENTILE_50", "ALIGN_PERCENTILE_05"},
}


def aligner_issues(metric: str, aligner: str, key: tuple = ("aligner",)) -> list[Issue]:
    """An aligner Cloud Monitoring accepts for `metric`'s kind, or the issue saying which it accepts."""
    found = METRICS.get(metric)
    if found is None:
        return [Issue(key, f"mlinfra has no kind for the metric {metric}", metric, allowed=one_of(sorted(METRICS)),
                      fix="add the metric's kind to components/gcp/monitoring/metrics.py")]
    allowed = ALIGNERS[(found.kind, found.value)]
    if aligner not in allowed:
        return [Issue(key, f"{metric} is a {found.kind} {found.value} metric, which {aligner} cannot align", aligner,
                      allowed=one_of(sorted(allowed)), fix="use an aligner of that kind")]
    return []


def sli_issues(metric: str, distribution: bool = False, key: tuple = ("filter",)) -> list[Issue]:
    """A metric a request-based SLI can count (DELTA or CUMULATIVE, INT64 or DOUBLE; with
    `distribution`, a DELTA or CUMULATIVE DISTRIBUTION), or the issue saying what it is."""
    found = METRICS.get(metric)
    if found is None:
        return [Issue(key, f"mlinfra has no kind for the metric {metric}", metric, allowed=one_of(sorted(METRICS)),
                      fix="add the metric's kind to components/gcp/monitoring/metrics.py")]
    values = ("DISTRIBUTION",) if distribution else ("INT64", "DOUBLE")
    if found.kind not in ("DELTA", "CUMULATIVE") or found.value not in values:
        return [Issue(key, f"{metric} is a {found.kind} {found.value} metric, which a request-based "
                      f"{'distribution cut' if distribution else 'good/total ratio'} cannot count", metric,
                      allowed=f"a DELTA or CUMULATIVE {' or '.join(values)} metric",
                      fix="measure the objective on another metric")]
    return []
