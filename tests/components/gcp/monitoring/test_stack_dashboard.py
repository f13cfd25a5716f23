"""The stack's dashboard: one chart per signal of every service (Cloud Run and GKE), streaming
pipeline and chain, in the Dashboard API's JSON shape, every filter's metric and aligner checked
against metrics.py; on by default in prod, off in dev unless asked, off in prod when told. A gRPC
server on GKE, which the Gateway's path-rule metrics cannot select, is charted from its runtime's
counters (Triton's), or without them from its pods' CPU and memory."""

from __future__ import annotations

import json

import pytest

from components.gcp.monitoring.dashboard_layout import (COLUMNS, Chart, Ratio, Series, chain_charts, chart_issues,
                                                        cloud_run_charts, dashboard, gke_charts)
from components.gcp.monitoring.metrics import METRICS, aligner_issues
from tests.conftest import run_config, run_stack, stack_config

DASHBOARD = "gcp:monitoring/dashboard:Dashboard"
REDUCERS = {"REDUCE_SUM", "REDUCE_MEAN", "REDUCE_MAX", "REDUCE_COUNT", "REDUCE_PERCENTILE_99",
            "REDUCE_PERCENTILE_95", "REDUCE_PERCENTILE_50"}


def body(rec) -> dict:
    return json.loads(rec.one(DASHBOARD).inputs["dashboardJson"])


def titles(rec) -> list[str]:
    return [t["widget"]["title"] for t in body(rec)["mosaicLayout"]["tiles"]]


def shape_problems(board: dict) -> list[str]:
    """What the Dashboard API (projects.dashboards, MosaicLayout/Tile/XyChart/DataSet/TimeSeriesFilter,
    TimeSeriesFilterRatio with its numerator and denominator RatioParts/Aggregation) would refuse or
    misdraw: tiles off the grid or overlapping, a reducer without an aligner and period, an unknown
    metric or an aligner its kind does not take, a ratio whose two sides group differently."""
    problems, taken = [], set()
    assert set(board) == {"displayName", "mosaicLayout"}
    layout = board["mosaicLayout"]
    assert set(layout) == {"columns", "tiles"} and layout["columns"] == COLUMNS
    for n, tile in enumerate(layout["tiles"]):
        assert set(tile) == {"xPos", "yPos", "width", "height", "widget"}
        if tile["xPos"] + tile["width"] > layout["columns"]:
            problems.append(f"tile {n} leaves the grid")
        cells = {(x, y) for x in range(tile["xPos"], tile["xPos"] + tile["width"])
                 for y in range(tile["yPos"], tile["yPos"] + tile["height"])}
        if cells & taken:
            problems.append(f"tile {n} overlaps another")
        taken |= cells
        widget = tile["widget"]
        assert set(widget) == {"title", "xyChart"} and widget["title"]
        for data in widget["xyChart"]["dataSets"]:
            assert set(data) <= {"timeSeriesQuery", "plotType", "minAlignmentPeriod", "legendTemplate"}
            [(kind, query)] = data["timeSeriesQuery"].items()
            assert kind in ("timeSeriesFilter", "timeSeriesFilterRatio")
            if kind == "timeSeriesFilterRatio":
                assert set(query) == {"numerator", "denominator"}
                if query["numerator"]["aggregation"].get("groupByFields") != query["denominator"]["aggregation"].get(
                        "groupByFields"):
                    problems.append(f"tile {n}: the ratio's sides group differently")
            for part in (query["numerator"], query["denominator"]) if kind == "timeSeriesFilterRatio" else (query,):
                problems += filter_problems(n, part)
    return problems


def filter_problems(n: int, query: dict) -> list[str]:
    problems = []
    assert set(query) == {"filter", "aggregation"}
    agg = query["aggregation"]
    assert set(agg) <= {"alignmentPeriod", "perSeriesAligner", "crossSeriesReducer", "groupByFields"}
    if agg.get("crossSeriesReducer") and (agg.get("perSeriesAligner") in (None, "ALIGN_NONE")
                                           or not agg.get("alignmentPeriod")):
        problems.append(f"tile {n}: a reducer needs an aligner and a period")
    if agg.get("crossSeriesReducer") not in REDUCERS:
        problems.append(f"tile {n}: reducer {agg.get('crossSeriesReducer')}")
    metric = query["filter"].split('"')[1]
    return problems + [f"tile {n}: {i.message}" for i in aligner_issues(metric, agg["perSeriesAligner"])]


@pytest.mark.parametrize("stack", ["k8s-prod", "hybrid-prod", "prod", "dataflow-prod"])
def test_every_prod_stack_has_a_dashboard_the_api_takes(stack):
    board = body(run_stack(stack))
    assert board["displayName"] == f"mlinfra {stack}"
    assert board["mosaicLayout"]["tiles"]
    assert shape_problems(board) == []


def test_the_hybrid_dashboard_charts_every_service_on_its_platform_and_every_chain():
    rec = run_stack("hybrid-prod")
    assert titles(rec) == [
        "ranker: requests/s by response class (Gateway)", "ranker: latency at the Gateway (ms)", "ranker: replicas",
        "ranker: GPU utilization (%)",
        "embedder: requests/s by response class", "embedder: latency (ms)", "embedder: instances",
        "on-new-labels: failed runs", "on-new-ranker: failed runs"]
    tiles = body(rec)["mosaicLayout"]["tiles"]
    assert [(t["xPos"], t["yPos"]) for t in tiles[:3]] == [(0, 0), (24, 0), (0, 16)]
    cluster = rec.one("gcp:container/cluster:Cluster").outputs["name"]
    [gpu] = tiles[3]["widget"]["xyChart"]["dataSets"]
    assert gpu["timeSeriesQuery"]["timeSeriesFilter"] == {
        "filter": ('metric.type="prometheus.googleapis.com/DCGM_FI_DEV_GPU_UTIL/gauge" resource.type="prometheus_target" '
                   f'resource.label."cluster"="{cluster}" metric.label."exported_namespace"="ml-ranker"'),
        "aggregation": {"alignmentPeriod": "60s", "perSeriesAligner": "ALIGN_MEAN", "crossSeriesReducer": "REDUCE_MEAN",
                        "groupByFields": ['metric.label."exported_pod"']}}
    service = [s for s in rec.of_type("gcp:cloudrunv2/service:Service")][0].inputs["name"]
    latency = tiles[5]["widget"]["xyChart"]["dataSets"]
    assert [d["legendTemplate"] for d in latency] == ["p99", "p95", "p50"]
    assert [d["timeSeriesQuery"]["timeSeriesFilter"]["aggregation"]["crossSeriesReducer"] for d in latency] == [
        "REDUCE_PERCENTILE_99", "REDUCE_PERCENTILE_95", "REDUCE_PERCENTILE_50"]
    assert latency[0]["timeSeriesQuery"]["timeSeriesFilter"]["filter"].endswith(
        f'resource.label."service_name"="{service}"')
    workflows = {w.inputs["name"] for w in rec.of_type("gcp:workflows/workflow:Workflow")}
    for tile in tiles[7:]:
        [failed] = tile["widget"]["xyChart"]["dataSets"]
        query = failed["timeSeriesQuery"]["timeSeriesFilter"]
        assert 'metric.label."status"="FAILED"' in query["filter"]
        assert query["filter"].split('"workflow_id"=')[1].strip('"') in workflows


def test_the_gateway_charts_read_the_servers_path_rule_and_replicas_its_containers():
    charts = gke_charts("ranker", "ml-ranker", "c1", gpu=False)
    assert [c.title for c in charts] == ["ranker: requests/s by response class (Gateway)",
                                         "ranker: latency at the Gateway (ms)", "ranker: replicas"]
    [requests] = charts[0].series
    assert requests.filter == 'resource.type="internal_http_lb_rule" resource.label."matched_url_path_rule"="/ranker"'
    [replicas] = charts[2].series
    assert (replicas.metric, replicas.aligner, replicas.reducer) == ("kubernetes.io/container/uptime", "ALIGN_MEAN",
                                                                      "REDUCE_COUNT")
    assert 'resource.label."container_name"="server"' in replicas.filter


def test_a_streaming_pipeline_gets_lag_and_watermark_charts_a_batch_one_none():
    rec = run_stack("dataflow-prod")
    job = rec.one("gcp:dataflow/flexTemplateJob:FlexTemplateJob").inputs["name"]
    names = [t for t in titles(rec) if "(s)" in t]
    assert names == ["streaming-features: system lag (s)", "streaming-features: data watermark age (s)"]
    for tile in body(rec)["mosaicLayout"]["tiles"][:2]:
        query = tile["widget"]["xyChart"]["dataSets"][0]["timeSeriesQuery"]["timeSeriesFilter"]
        assert query["filter"].endswith(f'resource.label."job_name"="{job}"')
        assert query["aggregation"]["perSeriesAligner"] == "ALIGN_MAX"


def test_dev_stacks_have_no_dashboard_unless_asked_and_prod_can_turn_it_off():
    assert run_stack("k8s-dev").of_type(DASHBOARD) == []
    values = stack_config("k8s-dev")
    values["mlinfra:alerts"] = {"dashboard": True}
    board = body(run_config(values, stack="k8s-dev"))
    assert [t["widget"]["title"] for t in board["mosaicLayout"]["tiles"]][-1] == "summarizer: GPU utilization (%)"
    assert run_stack("dev").of_type(DASHBOARD) == []
    values = stack_config("dev")
    values["mlinfra:alerts"] = {"dashboard": True}
    rec = run_config(values, stack="dev")
    assert [t.split(": ")[1] for t in titles(rec)][:3] == ["requests/s by response class", "latency (ms)", "instances"]
    apis = {r.inputs["service"] for r in rec.of_type("gcp:projects/service:Service")}
    assert "monitoring.googleapis.com" in apis and "monitoring.googleapis.com" not in {
        r.inputs["service"] for r in run_stack("dev").of_type("gcp:projects/service:Service")}
    values = stack_config("prod")
    values["mlinfra:alerts"]["dashboard"] = False
    assert run_config(values, stack="prod").of_type(DASHBOARD) == []


def test_every_chart_the_layout_makes_passes_the_metric_table():
    charts = (cloud_run_charts("a", "a-prod") + gke_charts("b", "ml-b", "c", gpu=True) + chain_charts("t", "t-prod"))
    assert chart_issues(charts) == []
    assert {s.metric for c in charts for s in c.series} <= set(METRICS)
    assert shape_problems(dashboard("x", charts)) == []


def test_the_check_catches_a_rate_on_a_distribution_and_an_unknown_metric():
    bad = [Chart("latency", (Series("run.googleapis.com/request_latencies", "", "ALIGN_RATE"),)),
           Chart("nothing", (Series("example.com/none", "", "ALIGN_MEAN"),))]
    found = chart_issues(bad)
    assert [i.path for i in found] == [("charts", 0, "series", 0, "aligner"), ("charts", 1, "metric")]
    assert "DELTA DISTRIBUTION" in found[0].message
    assert shape_problems(dashboard("x", bad)) != []


def test_dashboards_are_free_in_the_cost_estimate_and_alert_policies_stay_not_priced():
    from infra.cost.estimate import FREE_PREFIXES

    assert DASHBOARD.startswith(FREE_PREFIXES)
    assert not "gcp:monitoring/alertPolicy:AlertPolicy".startswith(FREE_PREFIXES)
