"""Objectives of a gRPC server on GKE: the Gateway's metrics cannot select it (no path rule) nor see
its errors (grpc-status trailers on HTTP 200), so a Triton server's availability is measured at
the server, by its success and failure counters that its PodMonitoring scrapes into Managed
Service for Prometheus; prod gives it the default objective and `rollout.autoRollback` works on it;
a latency objective, and any objective of a runtime without request counters, is refused by key."""

from __future__ import annotations

import copy

import pytest

from components.core.issues import InputError
from components.gcp.monitoring.metrics import METRICS, SERVER_REQUEST_COUNTERS, sli_issues
from components.gcp.monitoring.auto_rollback_spec import LABEL, SERVICE_LABEL, policy_labels
from tests.components.gcp.gke.test_gke_grpc import TFS, errors_of, llm_dev
from tests.components.gcp.gke.test_gke_workloads import NETPOL
from tests.conftest import run_config, run_stack

SLO = "gcp:monitoring/slo:Slo"
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
PODMON = "kubernetes:monitoring.googleapis.com/v1:PodMonitoring"
SUCCESS = "prometheus.googleapis.com/nv_inference_request_success/counter"
FAILURE = "prometheus.googleapis.com/nv_inference_request_failure/counter"
PROPOSE = {"name": "on-new-embed", "on": {"storage": {"bucket": "artifacts", "prefix": "models/embed/"}},
           "run": {"proposeRollout": {"service": "embed", "repository": "acme/ml"}}}


def prod(values: dict) -> dict:
    values["mlinfra:environment"] = "prod"
    values["mlinfra:alerts"] = {"emails": ["oncall@acme.example"]}
    values["mlinfra:cluster"].pop("zone", None)  # prod clusters are regional
    return values


def embed(values: dict) -> dict:
    return next(s for s in values["mlinfra:services"] if s["name"] == "embed")


def cluster_name(rec) -> str:
    return rec.one("gcp:container/cluster:Cluster").outputs["name"]


@pytest.fixture(scope="module")
def dev():
    values = llm_dev()
    embed(values)["slo"] = {"availability": 99.5, "windowDays": 7}
    return run_config(values, stack="llm-dev")


def test_the_shipped_llm_dev_embedder_has_its_availability_objective():
    rec = run_stack("llm-dev")
    slo = rec.one(SLO, "mlinfra-slo-embed-availability").inputs
    assert slo["goal"] == pytest.approx(0.995) and slo["rollingPeriodDays"] == 28
    assert slo["requestBasedSli"]["goodTotalRatio"]["goodServiceFilter"].startswith(f'metric.type="{SUCCESS}"')
    assert [r.name for r in rec.of_type(SLO)] == ["mlinfra-slo-embed-availability"]


def test_triton_availability_is_its_success_counter_against_its_failure_counter_on_its_namespace(dev):
    slo = dev.one(SLO, "mlinfra-slo-embed-availability").inputs
    where = (f'resource.type="prometheus_target" resource.label."cluster"="{cluster_name(dev)}" '
             'resource.label."namespace"="ml-embed"')
    assert slo["requestBasedSli"] == {"goodTotalRatio": {
        "goodServiceFilter": f'metric.type="{SUCCESS}" {where}', "badServiceFilter": f'metric.type="{FAILURE}" {where}'}}
    assert (slo["goal"], slo["rollingPeriodDays"], slo["service"], slo["sloId"]) == \
        (pytest.approx(0.995), 7, "mlinfra-embed", "availability")
    # The chat (HTTP) keeps no objectives in dev: only the embedder asked.
    assert [r.name for r in dev.of_type(SLO)] == ["mlinfra-slo-embed-availability"]


def test_its_burn_rate_alerts_are_those_of_any_objective(dev):
    name = dev.one(SLO, "mlinfra-slo-embed-availability").outputs["name"]
    fast = dev.one(POLICY, "mlinfra-slo-embed-availability-fast-burn").inputs
    assert [c["conditionThreshold"]["filter"] for c in fast["conditions"]] == [
        f'select_slo_burn_rate("{name}", "3600s")', f'select_slo_burn_rate("{name}", "300s")']
    assert {c["conditionThreshold"]["thresholdValue"] for c in fast["conditions"]} == {14.4}
    slow = dev.one(POLICY, "mlinfra-slo-embed-availability-slow-burn").inputs
    assert {c["conditionThreshold"]["thresholdValue"] for c in slow["conditions"]} == {6}
    assert "namespace ml-embed" in fast["documentation"]["content"] and "`reason`" in fast["documentation"]["content"]


def test_the_counters_are_scraped_from_every_track_on_the_metrics_port_though_the_hpa_scales_on_cpu(dev):
    deployment = dev.one("kubernetes:apps/v1:Deployment", "mlinfra-svc-embed-stable").inputs
    assert {"name": "metrics", "containerPort": 8002, "protocol": "TCP"} in \
        deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    hpa = dev.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "mlinfra-svc-embed-stable-hpa").inputs
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    monitoring = dev.one(PODMON, "mlinfra-svc-embed-metrics").inputs
    assert monitoring["metadata"]["namespace"] == "ml-embed"
    assert monitoring["spec"] == {"selector": {"matchLabels": {"app.kubernetes.io/name": "embed"}},  # every track
                                  "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "15s"}]}
    ingress = dev.one(NETPOL, "mlinfra-svc-embed-netpol").inputs["spec"]["ingress"]
    assert {"ports": [{"protocol": "TCP", "port": 8002}],
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gmp-system"}}}]} in ingress


def test_the_counters_are_cumulative_counts_a_good_total_ratio_takes():
    assert SERVER_REQUEST_COUNTERS == {"triton": (SUCCESS, FAILURE)}
    for metric in (SUCCESS, FAILURE):
        assert METRICS[metric] == ("CUMULATIVE", "DOUBLE", "prometheus_target")
        assert sli_issues(metric) == []
        [issue] = sli_issues(metric, distribution=True)
        assert "is a CUMULATIVE DOUBLE metric, which a request-based distribution cut cannot count" in issue.message
    [issue] = sli_issues("prometheus.googleapis.com/DCGM_FI_DEV_GPU_UTIL/gauge")
    assert "GAUGE DOUBLE metric, which a request-based good/total ratio cannot count" in issue.message


def test_in_prod_both_servers_get_the_default_objective():
    rec = run_config(prod(llm_dev()), stack="llm-dev")
    assert {r.name for r in rec.of_type(SLO)} == {"mlinfra-slo-chat-availability", "mlinfra-slo-embed-availability"}
    ratio = rec.one(SLO, "mlinfra-slo-embed-availability").inputs["requestBasedSli"]["goodTotalRatio"]
    assert ratio["goodServiceFilter"].startswith(f'metric.type="{SUCCESS}"')
    chat = rec.one(SLO, "mlinfra-slo-chat-availability").inputs["requestBasedSli"]["goodTotalRatio"]
    assert chat["totalServiceFilter"].endswith('resource.label."matched_url_path_rule"="/chat"')


def test_auto_rollback_on_the_triton_grpc_server_wires_its_fast_burn_alert_to_the_rollback_channel():
    values = prod(llm_dev())
    embed(values)["rollout"] = {"autoRollback": True, "canary": {"version": "2", "percent": 10}}
    values["mlinfra:triggers"] = [PROPOSE]
    rec = run_config(values, stack="llm-dev")
    channel = rec.one("gcp:monitoring/notificationChannel:NotificationChannel", "mlinfra-rollback-channel")
    fast = rec.one(POLICY, "mlinfra-slo-embed-availability-fast-burn").inputs
    assert channel.outputs["name"] in fast["notificationChannels"]
    assert {k: fast["userLabels"][k] for k in (LABEL, SERVICE_LABEL)} == policy_labels("embed")
    slow = rec.one(POLICY, "mlinfra-slo-embed-availability-slow-burn").inputs
    assert channel.outputs["name"] not in slow["notificationChannels"] and LABEL not in slow["userLabels"]


def test_auto_rollback_in_dev_needs_the_slo_as_on_any_server():
    values = llm_dev()
    embed(values).pop("slo", None)
    embed(values)["rollout"] = {"autoRollback": True}
    values["mlinfra:triggers"] = [PROPOSE]
    found = [(k, m) for k, m in errors_of(values) if k.endswith("rollout.autoRollback")]
    assert [k for k, _ in found] == ["mlinfra:services[1].rollout.autoRollback"]
    assert "the service has no objectives" in found[0][1]
    embed(values)["slo"] = {"availability": 99.5}
    run_config(values, stack="llm-dev")


def test_a_latency_objective_on_a_grpc_server_is_refused_by_its_key():
    values = llm_dev()
    embed(values)["slo"] = {"availability": 99.5, "latency": {"thresholdMs": 100}}
    found = errors_of(values)
    assert [k for k, _ in found] == ["mlinfra:services[1].slo.latency"]
    assert "cumulative counters" in found[0][1] and "distribution" in found[0][1]


def tf_serving(values: dict) -> dict:
    """The llm-dev embedder served by TF Serving instead: no request counters mlinfra scrapes."""
    server = embed(values)
    server.update({k: v for k, v in TFS.items() if k in ("runtime", "resources")})
    server.pop("slo", None)
    return values


def test_objectives_of_a_grpc_server_without_request_counters_are_refused_by_key_and_prod_gives_none():
    values = tf_serving(llm_dev())
    embed(values)["slo"] = {"availability": 99.5}
    found = errors_of(values)
    assert [k for k, _ in found] == ["mlinfra:services[1].slo"]
    assert "grpc-status" in found[0][1] and "runtime tfserving exports none" in found[0][1]
    rec = run_config(prod(tf_serving(llm_dev())), stack="llm-dev")
    assert {r.name for r in rec.of_type(SLO)} == {"mlinfra-slo-chat-availability"}


def test_triton_with_its_metrics_turned_off_has_no_objectives():
    values = llm_dev()
    embed(values).update({"extraArgs": ["--allow-metrics=false"], "slo": {"availability": 99.5}})
    found = errors_of(values)
    assert [k for k, _ in found] == ["mlinfra:services[1].slo"] and "--allow-metrics=false" in found[0][1]


def test_auto_rollback_where_no_objective_can_exist_is_refused_even_in_prod():
    values = prod(tf_serving(llm_dev()))
    embed(values)["rollout"] = {"autoRollback": True}
    values["mlinfra:triggers"] = [PROPOSE]
    found = [(k, m) for k, m in errors_of(values) if k.endswith("rollout.autoRollback")]
    assert len(found) == 1 and "can have no objectives" in found[0][1] and "tfserving" in found[0][1]


def test_the_objectives_component_refuses_a_ratio_without_exactly_two_series_and_a_latency_without_one():
    from components.gcp.monitoring.service_slo import Series, ServiceSlo, ServiceSloArgs
    from components.serving.slo_spec import SloSpec

    one = Series(SUCCESS, 'resource.type="prometheus_target"')
    with pytest.raises(InputError) as caught:
        ServiceSlo("x", ServiceSloArgs(service="x", slo=SloSpec.model_validate({"latency": {"thresholdMs": 5}}),
                                       project="p", good=one))
    messages = [i.message for i in caught.value.issues]
    assert any("exactly two of requests, errors and good, and 1 are given" in m for m in messages)
    assert any("needs the server's latency distribution" in m for m in messages)
    with pytest.raises(InputError) as caught:
        ServiceSlo("y", ServiceSloArgs(service="y", slo=SloSpec(), project="p", good=one,
                                       errors=Series("prometheus.googleapis.com/DCGM_FI_DEV_GPU_UTIL/gauge", "")))
    assert ["GAUGE DOUBLE" in i.message for i in caught.value.issues] == [True]
