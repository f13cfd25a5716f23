"""A stack's CloudWatch dashboard on AWS, as data: the `DashboardBody` JSON of PutDashboard
(Dashboard Body Structure and Syntax: a `widgets` array of 0 to 500 objects, each with `type`,
`x`, `y`, `width`, `height` on a grid 24 columns wide, and `properties`), made from the plan's
own servers. No provider here.

Per model server, from its target groups on the stack's ALB (namespace AWS/ApplicationELB,
dimensions LoadBalancer and TargetGroup, both ARN suffixes, as the burn-rate alarms use them),
one line per track: requests, target 5xx, TargetResponseTime p50/p90/p99, healthy and unhealthy
hosts; and, when it has objectives, an alarm-status widget of its composite alarms. A metric is
`[namespace, metric name, dimension, value, dimension, value, {rendering options}]`; a metric
widget needs its `region`.

Per GPU server, when the stack runs the amazon-cloudwatch-observability add-on, its pods' GPU
utilization and GPU memory (namespace ContainerInsights, dimensions ClusterName and Namespace,
as its GPU alarms read them), average and busiest pod. NVIDIA GPU metrics reach CloudWatch only
through that add-on's agent and DCGM exporter (EC2 publishes none): without it the header says
the GPU pools are not charted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

GRID = 24
"""The dashboard grid is 24 columns wide."""
WIDTH, HEIGHT, HEADER_HEIGHT = 12, 6, 3
MAX_WIDGETS = 500
NAMESPACE = "AWS/ApplicationELB"
GPU_NAMESPACE = "ContainerInsights"
PERCENTILES = ("p50", "p90", "p99")
PERIOD = 60
"""Seconds per datapoint: the ALB publishes its metrics every 60 s."""


@dataclass(frozen=True, kw_only=True)
class ServerPanel:
    """One model server's widgets, with every ARN resolved."""

    service: str
    target_groups: Mapping[str, str]
    """Its target groups' ARN suffixes (`targetgroup/<name>/<id>`), by track."""
    alarms: Sequence[str] = ()
    """Its objectives' composite alarms' ARNs. Defaults to none (no alarm widget)."""
    gpu_namespace: Optional[str] = None
    """For a GPU server on a cluster with Container Insights: its namespace, whose pods' GPUs it
    charts. Defaults to none (no GPU charts)."""


def _metric(metric: str, load_balancer: str, target_group: str, stat: str, label: str) -> list:
    return [NAMESPACE, metric, "LoadBalancer", load_balancer, "TargetGroup", target_group,
            {"stat": stat, "label": label}]


def _chart(title: str, metrics: list, region: str, stat: str) -> dict:
    return {"type": "metric", "properties": {
        "title": title, "view": "timeSeries", "stacked": False, "region": region, "period": PERIOD,
        "stat": stat, "metrics": metrics}}


def _gpu(metric: str, cluster: str, namespace: str) -> list[list]:
    return [[GPU_NAMESPACE, metric, "ClusterName", cluster, "Namespace", namespace, {"stat": stat, "label": label}]
            for stat, label in (("Average", "average"), ("Maximum", "busiest pod"))]


def server_widgets(panel: ServerPanel, load_balancer: str, region: str, cluster: str = "") -> list[dict]:
    """A server's widgets, unplaced: per track its requests, 5xx, latency percentiles and hosts;
    its pods' GPUs (on `cluster`); its objectives' alarms."""
    tracks = panel.target_groups.items()
    name = panel.service
    widgets = [
        _chart(f"{name}: requests per minute", [_metric("RequestCount", load_balancer, tg, "Sum", track)
                                                for track, tg in tracks], region, "Sum"),
        _chart(f"{name}: target 5xx per minute", [_metric("HTTPCode_Target_5XX_Count", load_balancer, tg, "Sum", track)
                                                  for track, tg in tracks], region, "Sum"),
        _chart(f"{name}: target response time (s)", [_metric("TargetResponseTime", load_balancer, tg, p, f"{track} {p}")
                                                     for track, tg in tracks for p in PERCENTILES], region, "p99"),
        _chart(f"{name}: healthy and unhealthy hosts", [
            m for track, tg in tracks for m in (
                _metric("HealthyHostCount", load_balancer, tg, "Minimum", f"{track} healthy"),
                _metric("UnHealthyHostCount", load_balancer, tg, "Maximum", f"{track} unhealthy"))], region, "Minimum"),
    ]
    if panel.gpu_namespace is not None:
        widgets += [_chart(f"{name}: GPU utilization (%)", _gpu("pod_gpu_utilization", cluster, panel.gpu_namespace),
                           region, "Average"),
                    _chart(f"{name}: GPU memory used (%)",
                           _gpu("pod_gpu_memory_utilization", cluster, panel.gpu_namespace), region, "Maximum")]
    if panel.alarms:
        widgets.append({"type": "alarm", "properties": {
            "title": f"{name}: {'alarms (objectives and GPUs)' if panel.gpu_namespace else 'objectives (burn-rate alarms)'}",
            "alarms": list(panel.alarms),
            "sortBy": "stateUpdatedTimestamp"}})
    return widgets


def header(stack: str, gpu_pools: Sequence[str]) -> dict:
    """The text widget on top: what made the dashboard, and why GPU pools are not charted."""
    lines = [f"# mlinfra {stack}",
             f"Made by Pulumi from `stacks/Pulumi.{stack}.yaml`: edits made here are overwritten by the next deploy. "
             "Per model server, its target groups on the stack's ALB, one line per track."]
    if gpu_pools:
        lines.append(f"GPU pools ({', '.join(gpu_pools)}): no GPU charts, since NVIDIA GPU metrics reach CloudWatch "
                     "only through Container Insights' CloudWatch agent, which this cluster does not run.")
    return {"type": "text", "properties": {"markdown": "\n\n".join(lines)}}


def place(head: dict, widgets: Sequence[dict]) -> list[dict]:
    """The header across the grid, then the widgets two a row."""
    placed = [{**head, "x": 0, "y": 0, "width": GRID, "height": HEADER_HEIGHT}]
    for i, widget in enumerate(widgets):
        placed.append({**widget, "x": (i % 2) * WIDTH, "y": HEADER_HEIGHT + (i // 2) * HEIGHT,
                       "width": WIDTH, "height": HEIGHT})
    return placed


def dashboard_body(stack: str, region: str, load_balancer: str, panels: Sequence[ServerPanel],
                   gpu_pools: Sequence[str] = (), cluster: str = "") -> dict:
    """The whole body: the last six hours, each widget's own period. `gpu_pools`: the GPU pools
    not charted (no Container Insights); `cluster`: the EKS cluster the GPU charts read."""
    widgets = [w for panel in panels for w in server_widgets(panel, load_balancer, region, cluster)]
    if len(widgets) + 1 > MAX_WIDGETS:  # a bug in the caller: the stack file's servers are fewer
        raise ValueError(f"a CloudWatch dashboard holds at most {MAX_WIDGETS} widgets, not {len(widgets) + 1}")
    return {"start": "-PT6H", "periodOverride": "inherit", "widgets": place(header(stack, gpu_pools), widgets)}


def console_url(region: str, name: str) -> str:
    """Where the dashboard opens in the CloudWatch console."""
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards:name={name}"
