"""The kubernetes pattern: a private GKE cluster with CPU, GPU and spot node pools, model
servers behind a Gateway (canary by HTTPRoute weights), training and batch jobs, beside the
data lake and the model-artifact bucket. For high, steady traffic and customisation."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.artifact_registry import ArtifactRegistry, ArtifactRegistryArgs
from components.base import Component
from components.cloud_function import CloudFunctionSpec
from components.gke_cluster import ClusterSpec, GkeCluster, GkeClusterArgs
from components.gke_job import GkeJob, GkeJobArgs, GkeJobSpec
from components.gke_metrics_adapter import GkeMetricsAdapter, GkeMetricsAdapterArgs
from components.gke_model_server import GOOGLE_LB_RANGES, GkeModelServer, GkeModelServerArgs, GkeServiceSpec
from components.labels import labels_transformation
from components.naming import dns_name
from components.network import Network, NetworkArgs, NetworkSpec
from components.project_services import ProjectServices
from components.storage import Storage, StorageArgs, StorageSpec
from components.triggers import APIS as TRIGGER_APIS
from components.triggers import TriggerSet, TriggerSetArgs

APIS = ("container.googleapis.com", "compute.googleapis.com", "iam.googleapis.com", "storage.googleapis.com",
        "artifactregistry.googleapis.com", "monitoring.googleapis.com", "logging.googleapis.com")
GATEWAY_NAMESPACE = "mlinfra-gateway"
JOBS_NAMESPACE = "mlinfra-jobs"


class KubernetesPlatformArgs:
    def __init__(self, *, project: str, region: str, stack: str, environment: str, labels: Mapping[str, str],
                 cluster: ClusterSpec, network: NetworkSpec = NetworkSpec(), storage: StorageSpec = StorageSpec(),
                 services: Sequence[GkeServiceSpec] = (), jobs: Sequence[GkeJobSpec] = (),
                 triggers: Sequence[CloudFunctionSpec] = (), source_root: Path = Path(".")):
        """`labels`: applied to every labelled resource below the platform."""
        self.project = project
        self.region = region
        self.stack = stack
        self.environment = environment
        self.labels = dict(labels)
        self.cluster = cluster
        self.network = network
        self.storage = storage
        self.services = list(services)
        self.jobs = list(jobs)
        self.triggers = list(triggers)
        self.source_root = Path(source_root)

    @property
    def prod(self) -> bool:
        return self.environment == "prod"


class KubernetesPlatform(Component):
    """Outputs: cluster, kubernetes_version, gateway, services, jobs, trigger_urls, buckets,
    image_repository, network."""

    def __init__(self, name: str, args: KubernetesPlatformArgs, opts: Optional[pulumi.ResourceOptions] = None):
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            transformations=[labels_transformation(args.labels)]))
        super().__init__("mlinfra:pattern:Kubernetes", name, opts)

        apis = APIS + (TRIGGER_APIS if args.triggers else ())
        self.apis = ProjectServices(f"{name}-apis", apis, project=args.project, opts=self.child())
        after_apis = self.child(depends_on=self.apis.resources)

        self.network = Network(f"{name}-network", NetworkArgs(
            args.network, args.region, flow_logs=args.prod, proxy_only_subnet=bool(args.services)), opts=after_apis)
        self.storage = Storage(f"{name}-storage", StorageArgs(
            args.storage, args.project, args.stack, args.region, protect=args.prod), opts=after_apis)
        self.images = ArtifactRegistry(f"{name}-images", ArtifactRegistryArgs(
            repository_id=dns_name("mlinfra", args.stack), location=args.region,
            immutable_tags=args.prod, protect=args.prod), opts=after_apis)

        self.cluster = GkeCluster(f"{name}-gke", GkeClusterArgs(
            args.cluster, project=args.project, region=args.region, environment=args.environment,
            network_id=self.network.network_id, subnetwork_id=self.network.subnetwork_id,
            pods_range=Network.PODS_RANGE, services_range=Network.SERVICES_RANGE), opts=after_apis)
        provider = self.cluster.provider
        on_cluster = self.child(provider=provider)

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

        # Serving metrics (requests in flight, queue depth) reach the HPA through this adapter.
        self.metrics_adapter = GkeMetricsAdapter(f"{name}-metrics-adapter", GkeMetricsAdapterArgs(
            project=args.project, provider=provider, workload_pool=self.cluster.workload_pool,
            environment=args.environment),
            opts=on_cluster) if any(s.scaling.metric != "cpu" for s in args.services) else None

        # Servers share the Gateway, each under its own path: /<service>/...
        self.services = {
            spec.name: GkeModelServer(f"{name}-svc-{spec.name}", GkeModelServerArgs(
                spec, project=args.project, namespace=dns_name("ml", spec.name), provider=provider,
                model_bucket=self.storage.artifacts, workload_pool=self.cluster.workload_pool,
                gateway=gateway, path_prefix=f"/{spec.name}", environment=args.environment,
                lb_source_ranges=GOOGLE_LB_RANGES + (args.network.proxy_only_cidr,)), opts=on_cluster)
            for spec in args.services
        }

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
                    spec, project=args.project, namespace=JOBS_NAMESPACE, provider=provider,
                    workload_pool=self.cluster.workload_pool, read_buckets=[self.storage.data_lake],
                    write_buckets=[self.storage.artifacts]), opts=self.child(provider=provider, depends_on=[jobs_ns]))
                for spec in args.jobs
            }

        self.triggers = TriggerSet(f"{name}-fn", TriggerSetArgs(
            args.triggers, project=args.project, region=args.region, stack=args.stack,
            source_root=args.source_root, network_id=self.network.network_id,
            subnetwork_id=self.network.subnetwork_id, buckets=self.storage.buckets,
            egress=args.network.egress), opts=after_apis) if args.triggers else None

        self.outputs = {
            "cluster": self.cluster.cluster_name,
            "kubernetes_version": self.cluster.kubernetes_minor,
            "gateway": f"{GATEWAY_NAMESPACE}/mlinfra" if gateway else None,
            "services": {n: {"namespace": s.namespace, "path": f"/{n}/", "tracks": s.service_names}
                         for n, s in self.services.items()},
            "jobs": sorted(self.jobs),
            "trigger_urls": self.triggers.urls if self.triggers else {},
            "buckets": {role: b.bucket_name for role, b in self.storage.buckets.items()},
            "image_repository": self.images.url,
            "network": self.network.network_name,
        }
        self.register_outputs(self.outputs)
