"""The stack's CloudWatch dashboard on AWS (eks-prod): per server its target groups' requests, 5xx,
response-time percentiles and hosts by track, and its objectives' composite alarms, in the
DashboardBody shape PutDashboard takes (checked against a JSON schema written from CloudWatch's
"Dashboard Body Structure and Syntax", and the 24-column grid); on by default in prod, off in dev
unless asked, off in prod when told; its console URL an output."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from components.aws.monitoring.dashboard_widgets import GRID, MAX_WIDGETS, ServerPanel, dashboard_body
from tests.conftest import run_config, run_stack, stack_config

DASHBOARD, TG = "aws:cloudwatch/dashboard:Dashboard", "aws:lb/targetGroup:TargetGroup"
ALARM, COMPOSITE = "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cloudwatch/compositeAlarm:CompositeAlarm"
ALB_METRICS = {"RequestCount", "HTTPCode_Target_5XX_Count", "TargetResponseTime", "HealthyHostCount", "UnHealthyHostCount"}
_ARN = r"^arn:aws[a-z-]*:cloudwatch:[a-z]{2}(-gov)?-[a-z]+-\d:\d{12}:alarm:[^\s]+$"

# From "Dashboard Body Structure and Syntax" (CloudWatch API Reference): a body is an object with a
# required `widgets` array of 0 to 500 widgets; a widget has a required `type` (metric, text, log,
# alarm, explorer) and `properties`, and x (0-23), y, width (1-24) and height (1-1000) on a grid 24
# columns wide. A metric widget's properties require `metrics` (arrays of namespace, metric name,
# then dimension name/value pairs, then an optional rendering object) and `region`; a text widget's
# `markdown`; an alarm widget's `alarms`, 1 to 100 alarm ARNs (sortBy default, stateUpdatedTimestamp
# or timestamp).
_METRIC_ROW = {"type": "array", "minItems": 2, "prefixItems": [{"type": "string", "minLength": 1},
                                                               {"type": "string", "minLength": 1}],
               "items": {"anyOf": [{"type": "string"}, {"type": "object", "properties": {
                   "stat": {"type": "string"}, "label": {"type": "string"}, "period": {"type": "integer"},
                   "id": {"type": "string"}, "color": {"type": "string"}, "visible": {"type": "boolean"},
                   "yAxis": {"enum": ["left", "right"]}, "region": {"type": "string"}},
                   "additionalProperties": False}]}}
_PLACE = {"x": {"type": "integer", "minimum": 0, "maximum": GRID - 1}, "y": {"type": "integer", "minimum": 0},
          "width": {"type": "integer", "minimum": 1, "maximum": GRID},
          "height": {"type": "integer", "minimum": 1, "maximum": 1000}}


def _widget(kind: str, properties: dict, required: list[str]) -> dict:
    return {"type": "object", "required": ["type", "properties"], "additionalProperties": False,
            "properties": {"type": {"const": kind}, **_PLACE, "properties": {
                "type": "object", "required": required, "additionalProperties": False, "properties": properties}}}


SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object", "required": ["widgets"], "additionalProperties": False,
    "properties": {
        "start": {"type": "string"}, "end": {"type": "string"}, "periodOverride": {"enum": ["auto", "inherit"]},
        "widgets": {"type": "array", "maxItems": MAX_WIDGETS, "items": {"oneOf": [
            _widget("metric", {"metrics": {"type": "array", "minItems": 1, "items": _METRIC_ROW},
                               "region": {"type": "string", "pattern": r"^[a-z]{2}(-gov)?-[a-z]+-\d$"},
                               "title": {"type": "string"}, "view": {"enum": ["timeSeries", "singleValue", "gauge", "bar", "pie"]},
                               "stacked": {"type": "boolean"}, "period": {"type": "integer", "minimum": 1},
                               "stat": {"type": "string"}}, ["metrics", "region"]),
            _widget("text", {"markdown": {"type": "string", "minLength": 1},
                             "background": {"enum": ["solid", "transparent"]}}, ["markdown"]),
            _widget("alarm", {"alarms": {"type": "array", "minItems": 1, "maxItems": 100,
                                         "items": {"type": "string", "pattern": _ARN}},
                              "title": {"type": "string"}, "sortBy": {"enum": ["default", "stateUpdatedTimestamp", "timestamp"]},
                              "states": {"type": "array", "items": {"enum": ["ALARM", "INSUFFICIENT_DATA", "OK"]}}},
                    ["alarms"]),
        ]}},
    },
}


def body_problems(board: dict) -> list[str]:
    """The schema's errors, and widgets off the 24-column grid or on top of each other."""
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(board)]
    taken: set = set()
    for n, w in enumerate(board.get("widgets", [])):
        if not all(isinstance(w.get(k), int) for k in ("x", "y", "width", "height")):
            problems.append(f"widget {n} is not placed")
            continue
        if w["x"] + w["width"] > GRID:
            problems.append(f"widget {n} leaves the 24-column grid")
        cells = {(x, y) for x in range(w["x"], w["x"] + w["width"]) for y in range(w["y"], w["y"] + w["height"])}
        if cells & taken:
            problems.append(f"widget {n} overlaps another")
        taken |= cells
    return problems


def body(rec) -> dict:
    return json.loads(rec.one(DASHBOARD).inputs["dashboardBody"])


def with_alerts(stack: str, **alerts) -> dict:
    values = stack_config(stack)
    values["mlinfra:alerts"] = {**values.get("mlinfra:alerts", {}), **alerts}
    return values


def test_the_eks_prod_dashboard_is_what_putdashboard_takes():
    rec = run_stack("eks-prod")
    dashboard = rec.one(DASHBOARD)
    assert dashboard.inputs["dashboardName"] == "mlinfra-eks-prod"
    assert body_problems(body(rec)) == []
    assert len(dashboard.inputs["dashboardBody"]) < 10_000


def test_the_eks_prod_dashboard_charts_the_rankers_tracks_at_its_target_groups_and_its_objectives():
    rec = run_stack("eks-prod")
    board = body(rec)
    lb = rec.one("aws:lb/loadBalancer:LoadBalancer").outputs["arnSuffix"]
    tg = {r.name.removeprefix("mlinfra-svc-ranker-").removesuffix("-tg"): r.outputs["arnSuffix"] for r in rec.of_type(TG)}
    assert sorted(tg) == ["canary", "stable"]
    widgets = board["widgets"]
    assert [(w["type"], w["x"], w["y"], w["width"], w["height"]) for w in widgets] == [
        ("text", 0, 0, 24, 3), ("metric", 0, 3, 12, 6), ("metric", 12, 3, 12, 6), ("metric", 0, 9, 12, 6),
        ("metric", 12, 9, 12, 6), ("metric", 0, 15, 12, 6), ("metric", 12, 15, 12, 6), ("alarm", 0, 21, 12, 6)]
    # Container Insights runs (prod, an L4 pool): the GPU pools are charted, the header says nothing of them.
    assert "GPU" not in widgets[0]["properties"]["markdown"]

    def m(metric, track, stat, label):
        return ["AWS/ApplicationELB", metric, "LoadBalancer", lb, "TargetGroup", tg[track], {"stat": stat, "label": label}]

    def gpu(metric, stat, label):
        return ["ContainerInsights", metric, "ClusterName", "mlinfra-eks-prod", "Namespace", "ml-ranker",
                {"stat": stat, "label": label}]

    tracks, pods = ("stable", "canary"), (("Average", "average"), ("Maximum", "busiest pod"))
    expected = {
        "ranker: requests per minute": ("Sum", [m("RequestCount", t, "Sum", t) for t in tracks]),
        "ranker: target 5xx per minute": ("Sum", [m("HTTPCode_Target_5XX_Count", t, "Sum", t) for t in tracks]),
        "ranker: target response time (s)": ("p99", [m("TargetResponseTime", t, p, f"{t} {p}")
                                                     for t in tracks for p in ("p50", "p90", "p99")]),
        "ranker: healthy and unhealthy hosts": ("Minimum", [
            x for t in tracks for x in (m("HealthyHostCount", t, "Minimum", f"{t} healthy"),
                                        m("UnHealthyHostCount", t, "Maximum", f"{t} unhealthy"))]),
        # Every track's pods, in the ranker's namespace, as its GPU alarms read them.
        "ranker: GPU utilization (%)": ("Average", [gpu("pod_gpu_utilization", s, label) for s, label in pods]),
        "ranker: GPU memory used (%)": ("Maximum", [gpu("pod_gpu_memory_utilization", s, label) for s, label in pods]),
    }
    charts = {w["properties"]["title"]: w["properties"] for w in widgets if w["type"] == "metric"}
    assert list(charts) == list(expected)
    for title, (stat, metrics) in expected.items():
        assert charts[title] == {"title": title, "view": "timeSeries", "stacked": False, "region": "us-east-1",
                                 "period": 60, "stat": stat, "metrics": metrics}
    # The alarm widget shows the four composite alarms and the two GPU alarms, the ones that notify, by their ARNs.
    composites = {r.inputs["alarmName"]: r.outputs["arn"] for r in rec.of_type(COMPOSITE)}
    gpus = {r.inputs["name"]: r.outputs["arn"] for r in rec.of_type(ALARM) if "-gpu-" in r.inputs["name"]}
    assert widgets[-1]["properties"] == {
        "title": "ranker: alarms (objectives and GPUs)", "sortBy": "stateUpdatedTimestamp",
        "alarms": [composites[f"mlinfra-eks-prod-ranker-{o}-{s}"] for o in ("availability", "latency")
                   for s in ("fast", "slow")] + [gpus[f"mlinfra-eks-prod-ranker-gpu-{k}"] for k in ("idle", "memory")]}
    assert composites["mlinfra-eks-prod-ranker-latency-fast"] == (
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:mlinfra-eks-prod-ranker-latency-fast")


def test_the_dashboard_reads_the_dimensions_the_alarms_watch():
    rec = run_stack("eks-prod")
    rows = [row for w in body(rec)["widgets"] if w["type"] == "metric" for row in w["properties"]["metrics"]]
    charted = {(row[1], row[3], row[5]) for row in rows if row[0] == "AWS/ApplicationELB"}
    assert {metric for metric, _, _ in charted} == ALB_METRICS
    watched = {(q["metric"]["dimensions"]["LoadBalancer"], q["metric"]["dimensions"]["TargetGroup"])
               for a in rec.of_type(ALARM) for q in a.inputs.get("metricQueries", []) if q.get("metric")}
    assert {(lb, tg) for _, lb, tg in charted} == watched
    gpu_charted = {(row[1], row[2], row[3], row[4], row[5]) for row in rows if row[0] == "ContainerInsights"}
    gpu_watched = {(a.inputs["metricName"], "ClusterName", a.inputs["dimensions"]["ClusterName"], "Namespace",
                    a.inputs["dimensions"]["Namespace"]) for a in rec.of_type(ALARM)
                   if "metricName" in a.inputs and a.inputs["namespace"] == "ContainerInsights"}
    assert gpu_charted == gpu_watched and len(gpu_watched) == 2


def test_the_dashboard_url_is_a_stack_output():
    assert run_stack("eks-prod").outputs["dashboard"] == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards:name=mlinfra-eks-prod")


def test_dev_has_no_dashboard_unless_asked_and_prod_drops_it_when_told():
    dev = run_stack("eks-dev")
    assert dev.of_type(DASHBOARD) == [] and "dashboard" not in dev.outputs
    asked = run_config(with_alerts("eks-dev", dashboard=True), stack="eks-dev")
    board = body(asked)
    assert body_problems(board) == []
    # No objectives in dev: no alarm widget; the summarizer's two tracks on each chart.
    assert [w["type"] for w in board["widgets"]] == ["text", "metric", "metric", "metric", "metric"]
    assert [w["properties"]["title"] for w in board["widgets"][1:]] == [
        "summarizer: requests per minute", "summarizer: target 5xx per minute",
        "summarizer: target response time (s)", "summarizer: healthy and unhealthy hosts"]
    assert len(board["widgets"][1]["properties"]["metrics"]) == 2
    assert asked.outputs["dashboard"].endswith("#dashboards:name=mlinfra-eks-dev")
    told = run_config(with_alerts("eks-prod", dashboard=False), stack="eks-prod")
    assert told.of_type(DASHBOARD) == [] and "dashboard" not in told.outputs


def test_the_schema_refuses_what_putdashboard_would():
    good = dashboard_body("s", "us-east-1", "app/a/1", [ServerPanel(
        service="x", target_groups={"stable": "targetgroup/t/1"},
        alarms=["arn:aws:cloudwatch:us-east-1:123456789012:alarm:a"])])
    assert body_problems(good) == []

    def broken(change) -> list[str]:
        board = copy.deepcopy(good)
        change(board)
        return body_problems(board)

    metric, alarm = good["widgets"][1], good["widgets"][-1]
    assert metric["type"] == "metric" and alarm["type"] == "alarm"
    assert broken(lambda b: b["widgets"][1]["properties"].pop("region"))
    assert broken(lambda b: b["widgets"][1].update(width=25))
    assert broken(lambda b: b["widgets"][2].update(x=13)) == ["widget 2 leaves the 24-column grid"]
    assert broken(lambda b: b["widgets"][2].update(y=0)) == ["widget 2 overlaps another"]
    assert broken(lambda b: b["widgets"][-1]["properties"].update(alarms=[]))
    assert broken(lambda b: b["widgets"][-1]["properties"].update(alarms=["mlinfra-s-x-latency-fast"]))
    assert broken(lambda b: b["widgets"][1]["properties"]["metrics"][0][-1].update(stat=99))
    assert broken(lambda b: b["widgets"][0].update(type="chart"))
    assert broken(lambda b: b.pop("widgets"))
    assert broken(lambda b: b.update(widgets=b["widgets"] * 100))  # 600 widgets


def test_a_body_of_more_than_500_widgets_is_refused_before_it_is_planned():
    panels = [ServerPanel(service=f"s{i}", target_groups={"stable": f"targetgroup/t{i}/1"}) for i in range(125)]
    with pytest.raises(ValueError, match="at most 500 widgets, not 501"):
        dashboard_body("s", "us-east-1", "app/a/1", panels)
