"""A stack's Cloud Monitoring dashboard, as data: one chart per signal, in the Dashboard API's
JSON (projects.dashboards: `mosaicLayout.tiles[].widget.xyChart.dataSets[].timeSeriesQuery.
timeSeriesFilter` with its `aggregation`), made from the plan's own specs. Every chart's metric
and aligner is checked against metrics.py before it is planned. No provider here."""

from __future__ import annotations

from typing import NamedTuple, Sequence

from components.core.issues import Issue
from components.gcp.monitoring.metrics import METRICS, aligner_issues

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

    def query(self) -> dict:
        aggregation = {"alignmentPeriod": self.period, "perSeriesAligner": self.aligner,
                       "crossSeriesReducer": self.reducer}
        if self.group_by:
            aggregation["groupByFields"] = list(self.group_by)
        data = {"timeSeriesQuery": {"timeSeriesFilter": {
            "filter": f'metric.type="{self.metric}" {self.filter}', "aggregation": aggregation}},
            "plotType": "LINE", "minAlignmentPeriod": self.period}
        if self.legend:
            data["legendTemplate"] = self.legend
        return data


class Chart(NamedTuple):
    title: str
    series: tuple[Series, ...]


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


def gke_charts(service: str, namespace: str, cluster: str, gpu: bool) -> list[Chart]:
    """Requests and latency at the internal Gateway by the server's path rule, its replicas and,
    with a GPU, its GPUs' utilization (GKE's managed DCGM metrics)."""
    rule = f'resource.type="internal_http_lb_rule" resource.label."matched_url_path_rule"="/{service}"'
    charts = [
        Chart(f"{service}: requests/s by response class (Gateway)", (Series(
            "loadbalancing.googleapis.com/https/internal/request_count", rule, "ALIGN_RATE",
            group_by=('metric.label."response_code_class"',)),)),
        Chart(f"{service}: latency at the Gateway (ms)", tuple(Series(
            "loadbalancing.googleapis.com/https/internal/total_latencies", rule, "ALIGN_DELTA",
            f"REDUCE_PERCENTILE_{p:02d}", legend=f"p{p}") for p in PERCENTILES)),
        Chart(f"{service}: replicas", (Series(
            "kubernetes.io/container/uptime",
            f'resource.type="k8s_container" resource.label."cluster_name"="{cluster}" '
            f'resource.label."namespace_name"="{namespace}" resource.label."container_name"="server"',
            "ALIGN_MEAN", "REDUCE_COUNT", group_by=('metadata.user_labels."mlinfra.dev/track"',)),)),
    ]
    if gpu:
        charts.append(Chart(f"{service}: GPU utilization (%)", (Series(
            "prometheus.googleapis.com/DCGM_FI_DEV_GPU_UTIL/gauge",
            f'resource.type="prometheus_target" resource.label."cluster"="{cluster}" '
            f'metric.label."exported_namespace"="{namespace}"',
            "ALIGN_MEAN", "REDUCE_MEAN", group_by=('metric.label."exported_pod"',)),)))
    return charts


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
    return [i for n, c in enumerate(charts) for k, s in enumerate(c.series)
            for i in (aligner_issues(s.metric, s.aligner, key=("charts", n, "series", k, "aligner"))
                      if s.metric in METRICS else aligner_issues(s.metric, s.aligner, key=("charts", n, "metric")))]
