"""A stack's Cloud Monitoring dashboard, as data: one chart per signal, in the Dashboard API's
JSON (projects.dashboards: `mosaicLayout.tiles[].widget.xyChart.dataSets[].timeSeriesQuery.
timeSeriesFilter` with its `aggregation`, or `timeSeriesFilterRatio`: a numerator and a
denominator, each a filter and an aggregation, divided point by point after aligning), made from
the plan's own specs. Every chart's metric and aligner is checked against metrics.py before it is
planned. No provider here."""

from __future__ import annotations

from typing import NamedTuple, Sequence

from components.core.issues import Issue
from components.gcp.monitoring.metrics import (METRICS, SERVER_DURATION_COUNTERS, SERVER_REQUEST_COUNTERS,
                                               aligner_issues)

COLUMNS, WIDTH, HEIGHT = 48, 24, 16
"""The mosaic grid is 48 columns wide; two charts a row."""
PERCENTILES = (99, 95, 50)


class Series(NamedTuple):
    metric: str
    filter: str
    """What narrows the metric (resource and labels), without `metric.type`."""
    aligner: str
    reducer: str = "REDUCE_SUM"
    group_by: tuple[str, ...] = ()
    legend: str = ""
    period: str = "60s"

    def part(self) -> dict:
        """The filter and its aggregation (a TimeSeriesFilter, or one side of a ratio)."""
        aggregation = {"alignmentPeriod": self.period, "perSeriesAligner": self.aligner,
                       "crossSeriesReducer": self.reducer}
        if self.group_by:
            aggregation["groupByFields"] = list(self.group_by)
        return {"filter": f'metric.type="{self.metric}" {self.filter}', "aggregation": aggregation}

    def parts(self) -> tuple["Series", ...]:
        return (self,)

    def query(self) -> dict:
        return _data_set({"timeSeriesFilter": self.part()}, self.period, self.legend)


class Ratio(NamedTuple):
    """One line that is `numerator / denominator`, each aligned and reduced on its own first
    (their group-by fields must match, so the series pair up)."""

    numerator: Series
    denominator: Series
    legend: str = ""

    def parts(self) -> tuple[Series, ...]:
        return (self.numerator, self.denominator)

    def query(self) -> dict:
        return _data_set({"timeSeriesFilterRatio": {"numerator": self.numerator.part(),
                                                    "denominator": self.denominator.part()}},
                         self.numerator.period, self.legend)


def _data_set(query: dict, period: str, legend: str) -> dict:
    data = {"timeSeriesQuery": query, "plotType": "LINE", "minAlignmentPeriod": period}
    if legend:
        data["legendTemplate"] = legend
    return data


class Chart(NamedTuple):
    title: str
    series: tuple[Series | Ratio, ...]


def cloud_run_charts(service: str, cloud_run_name: str) -> list[Chart]:
    """Requests by response class, latency percentiles and instances of one Cloud Run service."""
    where = f'resource.type="cloud_run_revision" resource.label."service_name"="{cloud_run_name}"'
    return [
        Chart(f"{service}: requests/s by response class", (Series(
            "run.googleapis.com/request_count", where, "ALIGN_RATE",
            group_by=('metric.label."response_code_class"',)),)),
        Chart(f"{service}: latency (ms)", tuple(Series(
            "run.googleapis.com/request_latencies", where, "ALIGN_DELTA", f"REDUCE_PERCENTILE_{p:02d}", legend=f"p{p}")
            for p in PERCENTILES)),
        Chart(f"{service}: instances", (Series(
            "run.googleapis.com/container/instance_count", where, "ALIGN_MAX",
            group_by=('metric.label."state"',)),)),
    ]


def gke_charts(service: str, namespace: str, cluster: str, gpu: bool, grpc: bool = False,
               counters: str | None = None) -> list[Chart]:
    """Requests and latency at the internal Gateway by the server's path rule, its replicas and,
    with a GPU, its GPUs' utilization (GKE's managed DCGM metrics). A gRPC server's route has no
    path rule: its requests come from the runtime's own counters instead (`counters`, the runtime
    whose SERVER_REQUEST_COUNTERS its PodMonitoring scrapes; server_charts), and without them
    (TF Serving, a custom server, Triton with metrics off) only its pods' CPU and memory are charted."""
    pods = (f'resource.type="k8s_container" resource.label."cluster_name"="{cluster}" '
            f'resource.label."namespace_name"="{namespace}" resource.label."container_name"="server"')
    track = ('metadata.user_labels."mlinfra.dev/track"',)
    if not grpc:
        rule = f'resource.type="internal_http_lb_rule" resource.label."matched_url_path_rule"="/{service}"'
        charts = [
            Chart(f"{service}: requests/s by response class (Gateway)", (Series(
                "loadbalancing.googleapis.com/https/internal/request_count", rule, "ALIGN_RATE",
                group_by=('metric.label."response_code_class"',)),)),
            Chart(f"{service}: latency at the Gateway (ms)", tuple(Series(
                "loadbalancing.googleapis.com/https/internal/total_latencies", rule, "ALIGN_DELTA",
                f"REDUCE_PERCENTILE_{p:02d}", legend=f"p{p}") for p in PERCENTILES)),
        ]
    elif counters is not None:
        charts = server_charts(service, namespace, cluster, counters)
    else:
        charts = [
            Chart(f"{service}: CPU (cores; gRPC requests not measured)", (Series(
                "kubernetes.io/container/cpu/core_usage_time", pods, "ALIGN_RATE", group_by=track),)),
            Chart(f"{service}: memory (bytes; gRPC requests not measured)", (Series(
                "kubernetes.io/container/memory/used_bytes", f'{pods} metric.label."memory_type"="non-evictable"',
                "ALIGN_MEAN", group_by=track),)),
        ]
    charts.append(Chart(f"{service}: replicas", (Series(
        "kubernetes.io/container/uptime", pods, "ALIGN_MEAN", "REDUCE_COUNT", group_by=track),)))
    if gpu:
        charts.append(Chart(f"{service}: GPU utilization (%)", (Series(
            "prometheus.googleapis.com/DCGM_FI_DEV_GPU_UTIL/gauge",
            f'resource.type="prometheus_target" resource.label."cluster"="{cluster}" '
            f'metric.label."exported_namespace"="{namespace}"',
            "ALIGN_MEAN", "REDUCE_MEAN", group_by=('metric.label."exported_pod"',)),)))
    return charts


def server_charts(service: str, namespace: str, cluster: str, runtime: str) -> list[Chart]:
    """A server's requests as its runtime counts them (Triton's counters, scraped by the server's
    PodMonitoring into Managed Service for Prometheus): successes and failures per second,
    failures by reason, and the mean request and queue time of successful requests (a duration
    counter's rate over the success counter's rate), by model. Every track together: the
    PodMonitoring carries no track label."""
    where = (f'resource.type="prometheus_target" resource.label."cluster"="{cluster}" '
             f'resource.label."namespace"="{namespace}"')
    success, failure = SERVER_REQUEST_COUNTERS[runtime]
    request_time, queue_time = SERVER_DURATION_COUNTERS[runtime]
    model = ('metric.label."model"',)

    def mean(counter: str) -> Ratio:
        return Ratio(Series(counter, where, "ALIGN_RATE", group_by=model), Series(success, where, "ALIGN_RATE",
                                                                                   group_by=model))

    return [
        Chart(f"{service}: requests/s (server)", (Series(success, where, "ALIGN_RATE", legend="success"),
                                                  Series(failure, where, "ALIGN_RATE", legend="failure"))),
        Chart(f"{service}: failures/s by reason (server)", (Series(
            failure, where, "ALIGN_RATE", group_by=('metric.label."reason"',)),)),
        Chart(f"{service}: mean request time (µs, server)", (mean(request_time),)),
        Chart(f"{service}: mean queue time (µs, server)", (mean(queue_time),)),
    ]


def dataflow_charts(pipeline: str, job_name: str) -> list[Chart]:
    """A streaming pipeline's system lag and data watermark age."""
    where = f'resource.type="dataflow_job" resource.label."job_name"="{job_name}"'
    return [Chart(f"{pipeline}: {what} (s)", (Series(metric, where, "ALIGN_MAX", "REDUCE_MAX"),))
            for what, metric in (("system lag", "dataflow.googleapis.com/job/system_lag"),
                                 ("data watermark age", "dataflow.googleapis.com/job/data_watermark_age"))]


def chain_charts(trigger: str, workflow_name: str) -> list[Chart]:
    """A chain's failed executions."""
    return [Chart(f"{trigger}: failed runs", (Series(
        "workflows.googleapis.com/finished_execution_count",
        f'metric.label."status"="FAILED" resource.type="workflows.googleapis.com/Workflow" '
        f'resource.label."workflow_id"="{workflow_name}"', "ALIGN_DELTA", period="300s"),))]


def dashboard(display_name: str, charts: Sequence[Chart]) -> dict:
    """The Dashboard resource's JSON: charts two a row on the 48-column mosaic grid."""
    tiles = [{"xPos": (i % 2) * WIDTH, "yPos": (i // 2) * HEIGHT, "width": WIDTH, "height": HEIGHT,
              "widget": {"title": c.title, "xyChart": {"dataSets": [s.query() for s in c.series],
                                                        "timeshiftDuration": "0s"}}}
             for i, c in enumerate(charts)]
    return {"displayName": display_name, "mosaicLayout": {"columns": COLUMNS, "tiles": tiles}}


def chart_issues(charts: Sequence[Chart]) -> list[Issue]:
    """Every series' metric known and aligned as its kind allows (not stack-file input: a bug here)."""
    return [i for n, c in enumerate(charts) for k, series in enumerate(c.series) for s in series.parts()
            for i in (aligner_issues(s.metric, s.aligner, key=("charts", n, "series", k, "aligner"))
                      if s.metric in METRICS else aligner_issues(s.metric, s.aligner, key=("charts", n, "metric")))]
