"""Scaling on the servers' own metrics on EKS (eks-dev's vLLM summarizer on queueDepth): an
in-cluster Prometheus scraping only that server, prometheus-adapter serving its gauge to the HPA,
both pinned, restricted; and a stack with CPU-scaled servers only gets neither."""

from __future__ import annotations

import copy

from components.aws.eks.server_metrics import (ADAPTER_VERSION, CHART_SCRAPE_JOBS, NAMESPACE, PROMETHEUS_VERSION,
                                               RESTRICTED, adapter_metric_name)
from infra.plan import Plan, kubernetes_objects
from tests.conftest import run_config, run_stack, stack_config

RELEASE = "kubernetes:helm.sh/v3:Release"
STACK = "eks-dev"


def objects(rec, kind: str, stack: str = STACK) -> dict[str, dict]:
    plan = Plan(stack, f"stacks/Pulumi.{stack}.yaml", stack_config(stack), rec, 0.0, [])
    return {o["metadata"]["name"]: o for o in kubernetes_objects(plan) if o["kind"] == kind}


def test_the_hpa_follows_vllms_waiting_requests_as_the_adapter_names_them():
    rec = run_stack(STACK)
    for track in ("stable", "canary"):
        hpa = objects(rec, "HorizontalPodAutoscaler")[f"summarizer-{track}"]
        assert hpa["spec"]["metrics"] == [{"type": "Pods", "pods": {
            "metric": {"name": "vllm_num_requests_waiting"}, "target": {"type": "AverageValue", "averageValue": "5"}}}]
    assert adapter_metric_name("vllm:num_requests_waiting") == "vllm_num_requests_waiting"
    assert adapter_metric_name("nv_inference_pending_request_count") == "nv_inference_pending_request_count"


def test_prometheus_is_pinned_restricted_short_lived_and_scrapes_only_the_scaled_server():
    rec = run_stack(STACK)
    release = rec.one(RELEASE, "mlinfra-metrics-prometheus").inputs
    assert (release["chart"], release["version"], release["namespace"]) == ("prometheus", PROMETHEUS_VERSION, NAMESPACE)
    assert release["repositoryOpts"] == {"repo": "https://prometheus-community.github.io/helm-charts"}
    values = release["values"]
    assert all(values[sub] == {"enabled": False} for sub in
               ("alertmanager", "kube-state-metrics", "prometheus-node-exporter", "prometheus-pushgateway"))
    server = values["server"]
    assert server["persistentVolume"] == {"enabled": False} and server["retention"] == "2h"
    assert server["emptyDir"] == {"sizeLimit": "4Gi"}
    assert server["containerSecurityContext"] == RESTRICTED
    assert values["configmapReload"]["prometheus"]["containerSecurityContext"] == RESTRICTED
    assert server["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"} and server["securityContext"]["runAsNonRoot"]
    jobs = values["scrapeConfigs"]
    assert {k for k, v in jobs.items() if v == {"enabled": False}} == set(CHART_SCRAPE_JOBS)
    [job] = [v for k, v in jobs.items() if k not in CHART_SCRAPE_JOBS]
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["ml-summarizer"]}}]
    assert job["metrics_path"] == "/metrics"
    # vLLM serves /metrics on its serving port.
    assert job["relabel_configs"][0] == {"source_labels": ["__meta_kubernetes_pod_container_port_number"],
                                         "action": "keep", "regex": "8000"}
    assert {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"} in job["relabel_configs"]
    namespace = objects(rec, "Namespace")[NAMESPACE]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_adapter_serves_exactly_the_scaled_gauge_per_pod_from_that_prometheus():
    rec = run_stack(STACK)
    release = rec.one(RELEASE, "mlinfra-metrics-adapter")
    inputs = release.inputs
    assert (inputs["chart"], inputs["version"], inputs["namespace"]) == ("prometheus-adapter", ADAPTER_VERSION, NAMESPACE)
    values = inputs["values"]
    assert values["prometheus"] == {"url": f"http://prometheus-server.{NAMESPACE}.svc", "port": 80}
    assert values["rules"] == {"default": False, "custom": [{
        "seriesQuery": '{__name__="vllm:num_requests_waiting",namespace!="",pod!=""}',
        "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
        "name": {"matches": "^vllm:num_requests_waiting$", "as": "vllm_num_requests_waiting"},
        "metricsQuery": "avg(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)"}]}
    assert rec.one(RELEASE, "mlinfra-metrics-prometheus").urn in release.dependencies
    policy = objects(rec, "NetworkPolicy")["metrics-ingress"]
    assert policy["spec"]["ingress"] == [{"from": [{"podSelector": {}}]},
                                         {"from": [{"ipBlock": {"cidr": "10.60.0.0/16"}}],
                                          "ports": [{"protocol": "TCP", "port": 6443}]}]


def test_the_server_admits_the_metrics_namespace_on_its_metrics_port_only_when_it_scales_on_them():
    server = objects(run_stack(STACK), "NetworkPolicy")["summarizer"]
    assert server["spec"]["ingress"][1] == {"ports": [{"protocol": "TCP", "port": 8000}], "from": [{"namespaceSelector": {
        "matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}}}]}
    triton = objects(run_stack("eks-prod"), "NetworkPolicy", "eks-prod")["ranker"]
    assert len(triton["spec"]["ingress"]) == 1  # the ranker scales on CPU


def test_a_triton_server_on_queue_depth_is_scraped_on_its_metrics_port_and_cpu_only_stacks_get_no_prometheus():
    values = stack_config("eks-prod")
    values["mlinfra:services"][0]["scaling"] = {"minReplicas": 3, "maxReplicas": 30, "metric": "queueDepth", "target": 8}
    rec = run_config(copy.deepcopy(values), stack="eks-prod")
    job = rec.one(RELEASE, "mlinfra-metrics-prometheus").inputs["values"]["scrapeConfigs"]["ml-ranker"]
    assert job["relabel_configs"][0]["regex"] == "8002"
    rules = rec.one(RELEASE, "mlinfra-metrics-adapter").inputs["values"]["rules"]["custom"]
    assert [r["name"]["as"] for r in rules] == ["nv_inference_pending_request_count"]
    assert not [r for r in run_stack("eks-prod").of_type(RELEASE) if r.name.startswith("mlinfra-metrics")]
