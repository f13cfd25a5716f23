"""The model servers' own metrics for their HPAs on EKS: an in-cluster Prometheus that scrapes
only the servers that scale on a server metric, and prometheus-adapter serving those gauges
through the custom metrics API (`custom.metrics.k8s.io`), as GKE's metrics adapter does there.

Both come from the prometheus-community Helm charts at pinned versions, in a namespace of their
own under Pod Security "restricted": the adapter's chart is restricted by default; the
Prometheus chart's containers get the restricted security context here. Prometheus keeps two
hours of samples in an emptyDir (the HPA reads the last minutes; nothing here is a record),
and every default scrape job of the chart is off: it scrapes one job per server, the pods of
the server's namespace on its /metrics port. The adapter exposes exactly the gauges the servers
scale on (no default rules), averaged per pod, named with `:` as `_` (`vllm:num_requests_waiting`
is `vllm_num_requests_waiting`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.core.component import Component

TYPE = "mlinfra:aws:ServerMetrics"
NAMESPACE = "mlinfra-metrics"
REPOSITORY = "https://prometheus-community.github.io/helm-charts"
# github.com/prometheus-community/helm-charts tags prometheus-29.27.0 (Prometheus v3.14.0) and
# prometheus-adapter-5.3.0 (adapter v0.12.0).
PROMETHEUS_CHART, PROMETHEUS_VERSION = "prometheus", "29.27.0"
ADAPTER_CHART, ADAPTER_VERSION = "prometheus-adapter", "5.3.0"
# The chart's default scrape jobs (values.yaml `scrapeConfigs`), each turned off.
CHART_SCRAPE_JOBS = ("prometheus", "kubernetes-api-servers", "kubernetes-nodes", "kubernetes-nodes-cadvisor",
                     "kubernetes-service-endpoints", "kubernetes-service-endpoints-slow", "prometheus-pushgateway",
                     "kubernetes-services", "kubernetes-pods", "kubernetes-pods-slow")
RESTRICTED = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True,
              "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
ADAPTER_PORT = 6443


def adapter_metric_name(gauge: str) -> str:
    """How the adapter names a Prometheus gauge to the HPA."""
    return gauge.replace(":", "_")


@dataclass(frozen=True, kw_only=True)
class ScrapedServer:
    namespace: str
    """The server's namespace (one per server)."""
    port: int
    """The port its pods serve /metrics on."""
    gauge: str
    """The Prometheus gauge its HPA follows."""


@dataclass(frozen=True, kw_only=True)
class ServerMetricsArgs:
    servers: Sequence[ScrapedServer]
    """The servers scaling on a server metric."""
    provider: pulumi.ProviderResource
    """The cluster's Kubernetes provider."""
    vpc_cidr: str
    """Where the API server calls the adapter from (the control plane's interfaces are in the VPC)."""


def scrape_jobs(servers: Sequence[ScrapedServer]) -> dict:
    jobs: dict = {job: {"enabled": False} for job in CHART_SCRAPE_JOBS}
    for s in servers:
        jobs[s.namespace] = {
            "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [s.namespace]}}],
            "metrics_path": "/metrics", "scrape_interval": "15s",
            "relabel_configs": [
                {"source_labels": ["__meta_kubernetes_pod_container_port_number"], "action": "keep", "regex": str(s.port)},
                {"source_labels": ["__meta_kubernetes_pod_phase"], "action": "drop", "regex": "Pending|Succeeded|Failed"},
                {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            ]}
    return jobs


def adapter_rules(gauges: Sequence[str]) -> list[dict]:
    return [{"seriesQuery": f'{{__name__="{g}",namespace!="",pod!=""}}',
             "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
             "name": {"matches": f"^{re.escape(g)}$", "as": adapter_metric_name(g)},
             "metricsQuery": "avg(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)"}
            for g in sorted(set(gauges))]


class ServerMetrics(Component):
    """Outputs: namespace, prometheus_url."""

    def __init__(self, name: str, args: ServerMetricsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        k8s_opts = self.child(provider=args.provider)
        namespace = k8s.core.v1.Namespace(f"{name}-ns", metadata={"name": NAMESPACE, "labels": {
            "app.kubernetes.io/part-of": "mlinfra", "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest"}}, opts=k8s_opts)
        in_ns = self.child(provider=args.provider, depends_on=[namespace])
        # Inside the namespace pods talk freely (the adapter queries Prometheus); from outside only
        # the API server reaches the adapter.
        k8s.networking.v1.NetworkPolicy(f"{name}-ingress", metadata={"name": "metrics-ingress", "namespace": NAMESPACE}, spec={
            "podSelector": {}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {}}]},
                        {"from": [{"ipBlock": {"cidr": args.vpc_cidr}}], "ports": [{"protocol": "TCP", "port": ADAPTER_PORT}]}],
        }, opts=in_ns)
        self.prometheus = k8s.helm.v3.Release(
            f"{name}-prometheus", name="prometheus", chart=PROMETHEUS_CHART, version=PROMETHEUS_VERSION, namespace=NAMESPACE,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=REPOSITORY), values=prometheus_values(args.servers),
            opts=in_ns)
        self.prometheus_url = f"http://prometheus-server.{NAMESPACE}.svc"
        self.adapter = k8s.helm.v3.Release(
            f"{name}-adapter", name="prometheus-adapter", chart=ADAPTER_CHART, version=ADAPTER_VERSION, namespace=NAMESPACE,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=REPOSITORY), values={
                "prometheus": {"url": self.prometheus_url, "port": 80},
                "replicas": 2, "listenPort": ADAPTER_PORT,
                "rules": {"default": False, "custom": adapter_rules([s.gauge for s in args.servers])},
            }, opts=self.child(provider=args.provider, depends_on=[namespace, self.prometheus]))
        self.namespace = NAMESPACE
        self.register_outputs({"namespace": NAMESPACE, "prometheus_url": self.prometheus_url})


def prometheus_values(servers: Sequence[ScrapedServer]) -> Mapping:
    return {
        "alertmanager": {"enabled": False}, "kube-state-metrics": {"enabled": False},
        "prometheus-node-exporter": {"enabled": False}, "prometheus-pushgateway": {"enabled": False},
        "configmapReload": {"prometheus": {"containerSecurityContext": RESTRICTED}},
        "server": {
            "persistentVolume": {"enabled": False}, "emptyDir": {"sizeLimit": "4Gi"}, "retention": "2h",
            "securityContext": {"runAsUser": 65534, "runAsGroup": 65534, "runAsNonRoot": True, "fsGroup": 65534,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containerSecurityContext": RESTRICTED,
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
        },
        "scrapeConfigs": scrape_jobs(servers),
    }
