"""A gRPC server's dashboard charts on GKE: its route has no `/<service>` path rule, so the Gateway's
request and latency charts would stay empty; a Triton server is charted from its own counters
(scraped by its PodMonitoring into Managed Service for Prometheus): requests/s, failures/s by
reason, mean request and queue time (a duration counter's rate over the success counter's rate),
and a runtime without request counters (TF Serving, Triton with metrics off) from its pods' CPU and
memory, its titles saying requests are not measured."""

from __future__ import annotations

import json

import pytest

from components.gcp.monitoring.dashboard_layout import Chart, Ratio, Series, chart_issues, dashboard, gke_charts
from components.gcp.monitoring.metrics import METRICS, SERVER_DURATION_COUNTERS, sli_issues
from tests.components.gcp.gke.test_gke_grpc import llm_dev
from tests.components.gcp.monitoring.test_stack_dashboard import DASHBOARD, shape_problems
from tests.conftest import run_config, run_stack

PROM = "prometheus.googleapis.com"
SUCCESS, FAILURE = f"{PROM}/nv_inference_request_success/counter", f"{PROM}/nv_inference_request_failure/counter"
DURATION, QUEUE = f"{PROM}/nv_inference_request_duration_us/counter", f"{PROM}/nv_inference_queue_duration_us/counter"


def tiles(rec) -> list[dict]:
    return json.loads(rec.one(DASHBOARD).inputs["dashboardJson"])["mosaicLayout"]["tiles"]


def of(rec, service: str) -> dict[str, list[dict]]:
    """A service's charts: title -> data sets."""
    return {t["widget"]["title"]: t["widget"]["xyChart"]["dataSets"] for t in tiles(rec)
            if t["widget"]["title"].startswith(f"{service}: ")}


def agg(aligner: str, group_by: tuple = ()) -> dict:
    out = {"alignmentPeriod": "60s", "perSeriesAligner": aligner, "crossSeriesReducer": "REDUCE_SUM"}
    return out | ({"groupByFields": list(group_by)} if group_by else {})


def test_llm_dev_charts_its_triton_grpc_embedder_from_tritons_counters_and_chat_at_the_gateway():
    rec = run_stack("llm-dev")
    board = json.loads(rec.one(DASHBOARD).inputs["dashboardJson"])
    assert board["displayName"] == "mlinfra llm-dev" and shape_problems(board) == []
    cluster = rec.one("gcp:container/cluster:Cluster").outputs["name"]
    where = f'resource.type="prometheus_target" resource.label."cluster"="{cluster}" resource.label."namespace"="ml-embed"'
    embed = of(rec, "embed")
    assert list(embed) == ["embed: requests/s (server)", "embed: failures/s by reason (server)",
                           "embed: mean request time (µs, server)", "embed: mean queue time (µs, server)",
                           "embed: replicas"]
    assert embed["embed: requests/s (server)"] == [
        {"timeSeriesQuery": {"timeSeriesFilter": {"filter": f'metric.type="{metric}" {where}',
                                                  "aggregation": agg("ALIGN_RATE")}},
         "plotType": "LINE", "minAlignmentPeriod": "60s", "legendTemplate": legend}
        for metric, legend in ((SUCCESS, "success"), (FAILURE, "failure"))]
    [failures] = embed["embed: failures/s by reason (server)"]
    assert failures["timeSeriesQuery"]["timeSeriesFilter"] == {
        "filter": f'metric.type="{FAILURE}" {where}', "aggregation": agg("ALIGN_RATE", ('metric.label."reason"',))}
    for title, counter in (("embed: mean request time (µs, server)", DURATION),
                           ("embed: mean queue time (µs, server)", QUEUE)):
        [mean] = embed[title]
        assert mean["timeSeriesQuery"] == {"timeSeriesFilterRatio": {
            "numerator": {"filter": f'metric.type="{counter}" {where}',
                          "aggregation": agg("ALIGN_RATE", ('metric.label."model"',))},
            "denominator": {"filter": f'metric.type="{SUCCESS}" {where}',
                            "aggregation": agg("ALIGN_RATE", ('metric.label."model"',))}}}
    [replicas] = embed["embed: replicas"]
    assert replicas["timeSeriesQuery"]["timeSeriesFilter"]["filter"].endswith(
        'resource.label."namespace_name"="ml-embed" resource.label."container_name"="server"')
    # No embed chart reads the Gateway, whose path-rule metrics never see a gRPC call; chat's do.
    assert not any("loadbalancing" in json.dumps(d) for d in embed.values())
    assert list(of(rec, "chat"))[:2] == ["chat: requests/s by response class (Gateway)",
                                         "chat: latency at the Gateway (ms)"]
    # The objectives and the charts read the same counters on the same target.
    slo = rec.one("gcp:monitoring/slo:Slo", "mlinfra-slo-embed-availability").inputs
    assert slo["requestBasedSli"]["goodTotalRatio"]["goodServiceFilter"] == f'metric.type="{SUCCESS}" {where}'


@pytest.mark.parametrize("change", [{"runtime": "tfserving"}, {"extraArgs": ["--allow-metrics=false"]}],
                         ids=["tf-serving", "triton-metrics-off"])
def test_a_grpc_server_without_request_counters_gets_cpu_and_memory_saying_requests_are_not_measured(change):
    values = llm_dev()
    values["mlinfra:alerts"] = {"dashboard": True}
    embed = next(s for s in values["mlinfra:services"] if s["name"] == "embed")
    embed.pop("slo")  # objectives need request counters too
    embed.update(change)
    rec = run_config(values, stack="llm-dev")
    board = json.loads(rec.one(DASHBOARD).inputs["dashboardJson"])
    assert shape_problems(board) == []
    service = "embed"
    charts = of(rec, service)
    assert list(charts) == [f"{service}: CPU (cores; gRPC requests not measured)",
                            f"{service}: memory (bytes; gRPC requests not measured)", f"{service}: replicas"]
    cluster = rec.one("gcp:container/cluster:Cluster").outputs["name"]
    pods = (f'resource.type="k8s_container" resource.label."cluster_name"="{cluster}" '
            f'resource.label."namespace_name"="ml-{service}" resource.label."container_name"="server"')
    track = ('metadata.user_labels."mlinfra.dev/track"',)
    [cpu] = charts[f"{service}: CPU (cores; gRPC requests not measured)"]
    assert cpu["timeSeriesQuery"]["timeSeriesFilter"] == {
        "filter": f'metric.type="kubernetes.io/container/cpu/core_usage_time" {pods}',
        "aggregation": agg("ALIGN_RATE", track)}
    [memory] = charts[f"{service}: memory (bytes; gRPC requests not measured)"]
    assert memory["timeSeriesQuery"]["timeSeriesFilter"] == {
        "filter": f'metric.type="kubernetes.io/container/memory/used_bytes" {pods} '
                  'metric.label."memory_type"="non-evictable"',
        "aggregation": agg("ALIGN_MEAN", track)}
    assert not any("prometheus" in json.dumps(d) or "loadbalancing" in json.dumps(d) for d in charts.values())


def test_the_duration_counters_are_cumulative_and_every_grpc_chart_passes_the_metric_table():
    assert SERVER_DURATION_COUNTERS == {"triton": (DURATION, QUEUE)}
    for metric in (DURATION, QUEUE, "kubernetes.io/container/cpu/core_usage_time"):
        assert METRICS[metric].kind == "CUMULATIVE" and METRICS[metric].value == "DOUBLE"
    assert sli_issues(DURATION) == []  # a count a ratio can take; the dashboard divides it by successes
    charts = (gke_charts("e", "ml-e", "c", gpu=True, grpc=True, counters="triton")
              + gke_charts("t", "ml-t", "c", gpu=False, grpc=True))
    assert chart_issues(charts) == [] and shape_problems(dashboard("x", charts)) == []
    assert {s.metric for c in charts for series in c.series for s in series.parts()} <= set(METRICS)


def test_the_check_reads_both_sides_of_a_ratio():
    bad = [Chart("mean", (Ratio(Series(DURATION, "", "ALIGN_MEAN"), Series(SUCCESS, "", "ALIGN_RATE")),)),
           Chart("mean", (Ratio(Series(DURATION, "", "ALIGN_RATE"), Series("example.com/none", "", "ALIGN_RATE")),))]
    found = chart_issues(bad)
    assert [i.path for i in found] == [("charts", 0, "series", 0, "aligner"), ("charts", 1, "metric")]
    assert "CUMULATIVE DOUBLE metric, which ALIGN_MEAN cannot align" in found[0].message
    assert shape_problems(dashboard("x", bad)) != []
    skewed = Ratio(Series(DURATION, "", "ALIGN_RATE", group_by=('metric.label."model"',)),
                   Series(SUCCESS, "", "ALIGN_RATE"))
    assert shape_problems(dashboard("x", [Chart("mean", (skewed,))])) == ["tile 0: the ratio's sides group differently"]
