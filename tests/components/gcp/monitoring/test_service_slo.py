"""Objectives and burn-rate alerts for model servers, from the stack file to Cloud Monitoring."""

from __future__ import annotations

import pytest

from components.gcp.monitoring.metrics import METRICS, aligner_issues, sli_issues
from infra.errors import ConfigError, key_path
from tests.conftest import run_stack
from tests.infra.test_config import CPU_SVC, load, with_keys

SLO = "gcp:monitoring/slo:Slo"
ALERT = "gcp:monitoring/alertPolicy:AlertPolicy"


def test_a_cloud_run_service_gets_request_based_objectives_from_its_own_metrics():
    rec = run_stack("prod")
    availability = rec.one(SLO, "mlinfra-slo-ranker-availability")
    assert availability.inputs["goal"] == pytest.approx(0.999) and availability.inputs["rollingPeriodDays"] == 28
    ratio = availability.inputs["requestBasedSli"]["goodTotalRatio"]
    total = ('metric.type="run.googleapis.com/request_count" resource.type="cloud_run_revision" '
             'resource.label."service_name"="ranker-prod"')
    assert ratio == {"totalServiceFilter": total, "badServiceFilter": total + ' metric.label."response_code_class"="5xx"'}
    latency = rec.one(SLO, "mlinfra-slo-ranker-latency")
    assert latency.inputs["goal"] == pytest.approx(0.99)
    assert latency.inputs["requestBasedSli"]["distributionCut"]["range"] == {"max": 200}


def test_each_objective_has_a_fast_and_a_slow_multi_window_burn_rate_alert_to_the_stacks_channels():
    rec = run_stack("prod")
    fast = rec.one(ALERT, "mlinfra-slo-ranker-availability-fast-burn")
    assert fast.inputs["combiner"] == "AND" and fast.inputs["severity"] == "CRITICAL"
    slo_name = rec.one(SLO, "mlinfra-slo-ranker-availability").outputs["name"]
    assert [c["conditionThreshold"]["filter"] for c in fast.inputs["conditions"]] == [
        f'select_slo_burn_rate("{slo_name}", "3600s")', f'select_slo_burn_rate("{slo_name}", "300s")']
    assert {c["conditionThreshold"]["thresholdValue"] for c in fast.inputs["conditions"]} == {14.4}
    slow = rec.one(ALERT, "mlinfra-slo-ranker-availability-slow-burn")
    assert {c["conditionThreshold"]["thresholdValue"] for c in slow.inputs["conditions"]} == {6}
    channel = rec.one("gcp:monitoring/notificationChannel:NotificationChannel")
    assert channel.inputs["type"] == "email" and channel.inputs["labels"] == {"email_address": "ml-oncall@acme.example"}
    assert fast.inputs["notificationChannels"] == [channel.outputs["name"]]
    assert "To roll a canary back" in fast.inputs["documentation"]["content"]


def test_a_prod_service_without_an_slo_gets_the_default_availability_objective():
    rec = run_stack("prod")
    embedder = [r.name for r in rec if r.type in (SLO, ALERT) and "-embedder-" in r.name]
    assert sorted(embedder) == ["mlinfra-slo-embedder-availability", "mlinfra-slo-embedder-availability-fast-burn",
                                "mlinfra-slo-embedder-availability-slow-burn"]


def test_a_gke_service_is_measured_at_the_gateway_by_its_path_rule():
    rec = run_stack("k8s-prod")
    ratio = rec.one(SLO, "mlinfra-slo-ranker-availability").inputs["requestBasedSli"]["goodTotalRatio"]
    assert ratio["totalServiceFilter"].endswith('resource.label."matched_url_path_rule"="/ranker"')
    assert ratio["totalServiceFilter"].startswith(
        'metric.type="loadbalancing.googleapis.com/https/internal/request_count"')


def test_dev_stacks_without_objectives_create_no_monitoring():
    rec = run_stack("dev")
    assert [r for r in rec if r.type.startswith("gcp:monitoring/")] == []


def test_every_filter_names_a_metric_of_the_kind_table_of_a_kind_its_sli_counts():
    seen = set()
    for stack in ("prod", "k8s-prod", "llm-dev"):
        for slo in run_stack(stack).of_type(SLO):
            sli = slo.inputs["requestBasedSli"]
            ratios = list((sli.get("goodTotalRatio") or {}).values())
            cut = (sli.get("distributionCut") or {}).get("distributionFilter")
            for text, distribution in [(t, False) for t in ratios] + ([(cut, True)] if cut else []):
                metric = text.split('"')[1]
                assert metric in METRICS and sli_issues(metric, distribution=distribution) == [], metric
                seen.add(METRICS[metric].kind)
    assert seen == {"DELTA", "CUMULATIVE"}  # Cloud Run's and the Gateway's deltas, Triton's counters


def test_an_sli_refuses_a_gauge_and_a_latency_cut_on_a_count():
    [issue] = sli_issues("kubernetes.io/container/uptime")
    assert "GAUGE DOUBLE metric, which a request-based good/total ratio cannot count" in issue.message
    [issue] = sli_issues("run.googleapis.com/request_count", distribution=True)
    assert "DELTA INT64 metric, which a request-based distribution cut cannot count" in issue.message
    assert sli_issues("run.googleapis.com/request_latencies", distribution=True) == []
    [issue] = sli_issues("example.com/unknown")
    assert "has no kind" in issue.message


def test_rejects_an_aligner_the_metrics_kind_does_not_allow():
    assert aligner_issues("run.googleapis.com/request_count", "ALIGN_RATE") == []
    [issue] = aligner_issues("run.googleapis.com/request_latencies", "ALIGN_RATE")
    assert "is a DELTA DISTRIBUTION metric, which ALIGN_RATE cannot align" in issue.message
    [issue] = aligner_issues("example.com/unknown", "ALIGN_MEAN")
    assert "has no kind" in issue.message


@pytest.mark.parametrize("values, key, fragment", [
    (with_keys(environment="prod", services=[CPU_SVC]), "mlinfra:alerts", "no channel is named"),
    (with_keys(alerts={"channels": ["oncall"]}), "mlinfra:alerts.channels[0]", "notification channel's resource name"),
    (with_keys(alerts={"emails": ["oncall"]}), "mlinfra:alerts.emails[0]", "is not an email address"),
    (with_keys(services=[{**CPU_SVC, "slo": {"availability": 100}}]), "mlinfra:services[0].slo.availability",
     "at most 99.99"),
    # Cloud Monitoring's ServiceLevelObjective.goal: 0 < goal <= 0.9999.
    (with_keys(services=[{**CPU_SVC, "slo": {"availability": 99.995}}]), "mlinfra:services[0].slo.availability",
     "at most 99.99"),
    (with_keys(services=[{**CPU_SVC, "slo": {"latency": {"thresholdMs": 50, "percent": 99.999}}}]),
     "mlinfra:services[0].slo.latency.percent", "at most 99.99"),
], ids=["prod services without a channel", "a channel that is no resource name", "an email that is none",
        "a 100 % objective", "a goal above Cloud Monitoring's 0.9999", "a latency goal above it"])
def test_rejects_alerting_settings_naming_the_key(values, key, fragment):
    with pytest.raises(ConfigError) as caught:
        load(values)
    assert [key_path(i.path) for i in caught.value.issues] == [key]
    assert fragment in str(caught.value)
