"""The kubernetes pattern: a private GKE cluster with CPU, GPU and spot node pools, model
servers behind a Gateway (canary by HTTPRoute weights), training and batch jobs, beside the
data lake and the model-artifact bucket. For high, steady traffic and customisation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.gcp.gke.cluster_spec import ClusterSpec
from components.gcp.gke.gke_cluster import GkeCluster, GkeClusterArgs
from components.gcp.gke.gke_job import GkeJob, GkeJobArgs
from components.gcp.gke.gke_job_spec import GkeJobSpec
from components.gcp.gke.gke_metrics_adapter import PORT as ADAPTER_PORT
from components.gcp.gke.gke_metrics_adapter import GkeMetricsAdapter, GkeMetricsAdapterArgs
from components.gcp.network.network import Network
from infra.patterns.pattern_component import PatternArgs, PatternComponent

TYPE = "mlinfra:pattern:Kubernetes"

APIS = ("container.googleapis.com", "compute.googleapis.com", "iam.googleapis.com", "storage.googleapis.com",
        "artifactregistry.googleapis.com", "monitoring.googleapis.com", "logging.googleapis.com",
        "containerfilesystem.googleapis.com")  # image streaming
GATEWAY_NAMESPACE = "mlinfra-gateway"
JOBS_NAMESPACE = "mlinfra-jobs"


@dataclass(frozen=True, kw_only=True)
class KubernetesArgs(PatternArgs):
    cluster: ClusterSpec
    """The GKE cluster and its node pools."""
    jobs: Sequence[GkeJobSpec] = ()
    """Batch jobs on the cluster. Defaults to none."""


class Kubernetes(PatternComponent):
    """Outputs: cluster, kubernetes_version, gateway, services, jobs, trigger_urls, buckets,
    image_repository, network."""

    Args = KubernetesArgs

    def __init__(self, name: str, args: KubernetesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        # The internal Gateway the model servers sit behind needs a proxy-only subnet.
        super().__init__(TYPE, name, args, APIS, opts, proxy_only_subnet=bool(args.services))
        after_apis = self.after_apis

        self.cluster = GkeCluster(f"{name}-gke", GkeClusterArgs(
            spec=args.cluster, project=args.project, region=args.region, environment=args.environment,
            network_id=self.network.network_id, subnetwork_id=self.network.subnetwork_id,
            pods_range=Network.PODS_RANGE, services_range=Network.SERVICES_RANGE), opts=after_apis)
        provider = self.cluster.provider
        on_cluster = self.on_cluster = self.child(provider=provider)

        gateway = None
        if args.services:
            namespace = k8s.core.v1.Namespace(f"{name}-gateway-ns", metadata={
                "name": GATEWAY_NAMESPACE, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}},
                opts=on_cluster)
            # An internal Application Load Balancer in the VPC: clients reach model servers
            # privately; each server attaches an HTTPRoute that carries its canary weights.
            self.gateway = k8s.apiextensions.CustomResource(
                f"{name}-gateway", api_version="gateway.networking.k8s.io/v1", kind="Gateway",
                metadata={"name": "mlinfra", "namespace": GATEWAY_NAMESPACE},
                spec={"gatewayClassName": "gke-l7-rilb",
                      "listeners": [{"name": "http", "protocol": "HTTP", "port": 80,
                                     "allowedRoutes": {"namespaces": {"from": "All"}}}]},
                opts=self.child(provider=provider, depends_on=[namespace, self.network.proxy_only]))
            gateway = ("mlinfra", GATEWAY_NAMESPACE)
        self.gateway_ref = gateway

        # Serving metrics (requests in flight, queue depth) reach the HPA through this adapter.
        self.metrics_adapter = None
        if any(s.scaling.metric != "cpu" for s in args.services):
            self.metrics_adapter = GkeMetricsAdapter(f"{name}-metrics-adapter", GkeMetricsAdapterArgs(
                project=args.project, provider=provider, workload_pool=self.cluster.workload_pool,
                environment=args.environment), opts=on_cluster)
            # A private cluster's control plane reaches nodes on 443 and 10250 only; the API
            # server calls the adapter on its own port.
            gcp.compute.Firewall(
                f"{name}-control-plane-to-metrics-adapter", network=self.network.network_id, direction="INGRESS",
                source_ranges=[args.cluster.master_cidr],
                allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=[str(ADAPTER_PORT)])],
                target_service_accounts=[self.cluster.node_service_account],
                description="GKE control plane to the custom metrics adapter.", opts=after_apis)

        # Servers share the Gateway, each under its own path: /<service>/...
        self.serve()

        self.jobs = {}
        if args.jobs:
            jobs_ns = k8s.core.v1.Namespace(f"{name}-jobs-ns", metadata={
                "name": JOBS_NAMESPACE, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}},
                opts=on_cluster)
            # Jobs serve nothing: no ingress at all.
            k8s.networking.v1.NetworkPolicy(f"{name}-jobs-deny-ingress", metadata={
                "name": "deny-ingress", "namespace": JOBS_NAMESPACE},
                spec={"podSelector": {}, "policyTypes": ["Ingress"]},
                opts=self.child(provider=provider, depends_on=[jobs_ns]))
            self.jobs = {
                spec.name: GkeJob(f"{name}-job-{spec.name}", GkeJobArgs(
                    spec=spec, project=args.project, namespace=JOBS_NAMESPACE, provider=provider,
                    workload_pool=self.cluster.workload_pool, read_buckets=[self.storage.data_lake],
                    write_buckets=[self.storage.artifacts]), opts=self.child(provider=provider, depends_on=[jobs_ns]))
                for spec in args.jobs
            }

        self.build_triggers()

        self.outputs = {
            "cluster": self.cluster.cluster_name,
            "kubernetes_version": self.cluster.kubernetes_minor,
            "gateway": f"{GATEWAY_NAMESPACE}/mlinfra" if gateway else None,
            "services": {n: {"namespace": s.namespace, "path": f"/{n}/", "tracks": s.service_names}
                         for n, s in self.services.items()},
            "jobs": sorted(self.jobs),
            **self.common_outputs(),
        }
        self.register_outputs(self.outputs)
