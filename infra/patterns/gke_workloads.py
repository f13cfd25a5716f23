"""What a pattern builds to run workloads on GKE: the cluster, the internal Gateway its model
servers sit behind, the custom metrics adapter when a server scales on its own metrics, and
the jobs. Every pattern with a cluster (kubernetes, hybrid) builds it through here, so its
children are the pattern's own children, named from the pattern's name, in every pattern."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.gcp.gke.cluster_spec import ClusterSpec
from components.gcp.gke.gke_cluster import GkeCluster, GkeClusterArgs
from components.gcp.gke.gke_gateway import GkeGateway, GkeGatewayArgs
from components.gcp.gke.gke_job import GkeJob, GkeJobArgs
from components.gcp.gke.gke_job_spec import GkeJobSpec
from components.gcp.gke.gke_metrics_adapter import PORT as ADAPTER_PORT
from components.gcp.gke.gke_metrics_adapter import GkeMetricsAdapter, GkeMetricsAdapterArgs
from infra.patterns.cache import connection

APIS = ("container.googleapis.com", "compute.googleapis.com", "iam.googleapis.com", "storage.googleapis.com",
        "artifactregistry.googleapis.com", "monitoring.googleapis.com", "logging.googleapis.com",
        "containerfilesystem.googleapis.com")  # image streaming
GATEWAY_NAMESPACE = "mlinfra-gateway"
JOBS_NAMESPACE = "mlinfra-jobs"


def build_cluster(pattern: Any, spec: ClusterSpec, services: Sequence[Any]) -> None:
    """The cluster, and for `services` (those on GKE) the Gateway and the metrics adapter; sets
    `pattern.cluster`, `pattern.on_cluster` and `pattern.gateway_ref` for the GKE platform's builder."""
    args, name = pattern.args, pattern.name
    pattern.cluster = GkeCluster(f"{name}-gke", GkeClusterArgs(
        spec=spec, project=args.project, region=args.region, environment=args.environment,
        network_id=pattern.network.network_id, subnetwork_id=pattern.network.subnetwork_id,
        pods_range=pattern.network.pods_range, services_range=pattern.network.services_range,
        secret_manager=any(getattr(w, "secrets", None) for w in [*services, *getattr(args, "jobs", ())]
                           if getattr(w, "platform", "gke") == "gke")), opts=pattern.after_apis)
    provider = pattern.cluster.provider
    pattern.on_cluster = pattern.child(provider=provider)

    pattern.gateway_ref: Optional[tuple[str, str]] = None
    pattern.gateway = None
    if services:
        # An internal Application Load Balancer in the VPC unless the stack says otherwise:
        # each server attaches an HTTPRoute that carries its canary weights.
        pattern.gateway = GkeGateway(f"{name}-gateway", GkeGatewayArgs(
            spec=spec.gateway, project=args.project, region=args.region, environment=args.environment,
            provider=provider, namespace=GATEWAY_NAMESPACE, subnetwork_id=pattern.network.subnetwork_id,
            depends_on=[r for r in (pattern.network.proxy_only,) if r], former_parent=pattern),
            opts=pattern.child(provider=provider))
        pattern.gateway_ref = pattern.gateway.ref

    # Serving metrics (requests in flight, queue depth) reach the HPA through this adapter.
    pattern.metrics_adapter = None
    if any(s.scaling.metric != "cpu" for s in services):
        pattern.metrics_adapter = GkeMetricsAdapter(f"{name}-metrics-adapter", GkeMetricsAdapterArgs(
            project=args.project, provider=provider, workload_pool=pattern.cluster.workload_pool,
            environment=args.environment), opts=pattern.on_cluster)
        # A private cluster's control plane reaches nodes on 443 and 10250 only; the API
        # server calls the adapter on its own port.
        gcp.compute.Firewall(
            f"{name}-control-plane-to-metrics-adapter", network=pattern.network.network_id, direction="INGRESS",
            project=pattern.network.project,  # a Shared VPC's rules live in its host project
            source_ranges=[spec.master_cidr],
            allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=[str(ADAPTER_PORT)])],
            target_service_accounts=pattern.cluster.node_service_accounts,
            description="GKE control plane to the custom metrics adapter.", opts=pattern.after_apis)


def build_jobs(pattern: Any, jobs: Sequence[GkeJobSpec]) -> dict[str, GkeJob]:
    """Each job in the shared jobs namespace, which admits no ingress; reads the data lake and
    writes the artifact bucket."""
    if not jobs:
        return {}
    args, name, provider = pattern.args, pattern.name, pattern.cluster.provider
    triggered = {t.run.job for t in args.triggers if t.run is not None and t.run.job}
    jobs_ns = k8s.core.v1.Namespace(f"{name}-jobs-ns", metadata={
        "name": JOBS_NAMESPACE, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}},
        opts=pattern.on_cluster)
    pattern.jobs_namespace = jobs_ns
    # Jobs serve nothing: no ingress at all.
    k8s.networking.v1.NetworkPolicy(f"{name}-jobs-deny-ingress", metadata={
        "name": "deny-ingress", "namespace": JOBS_NAMESPACE},
        spec={"podSelector": {}, "policyTypes": ["Ingress"]},
        opts=pattern.child(provider=provider, depends_on=[jobs_ns]))
    return {
        spec.name: GkeJob(f"{name}-job-{spec.name}", GkeJobArgs(
            spec=spec, project=args.project, namespace=JOBS_NAMESPACE, provider=provider,
            workload_pool=pattern.cluster.workload_pool, read_buckets=[pattern.storage.data_lake],
            write_buckets=[pattern.storage.artifacts], on_events=spec.name in triggered,
            cache=connection(pattern) if spec.cache else None,
            queued_pool=pattern.cluster.pool_names.get(spec.queued.pool) if spec.queued else None),
            opts=pattern.child(provider=provider, depends_on=[jobs_ns]))
        for spec in jobs
    }


def cluster_outputs(pattern: Any) -> dict[str, Any]:
    return {
        "cluster": pattern.cluster.cluster_name,
        "kubernetes_version": pattern.cluster.kubernetes_minor,
        "gateway": f"{GATEWAY_NAMESPACE}/mlinfra" if pattern.gateway_ref else None,
        **gateway_outputs(pattern.gateway),
        "jobs": sorted(pattern.jobs),
    }


def gateway_outputs(gateway: Optional[GkeGateway]) -> dict[str, Any]:
    """For an HTTPS Gateway: its hostname, the address its A record points at, and the CNAME
    record that authorizes its certificate (both to add to the domain's DNS zone)."""
    if gateway is None or gateway.hostname is None:
        return {}
    return {"gateway_hostname": gateway.hostname, "gateway_address": gateway.address,
            "gateway_dns_authorization": gateway.dns_authorization_record}


def apis(spec: Optional[ClusterSpec]) -> tuple[str, ...]:
    """The APIs a cluster needs: Certificate Manager too for an HTTPS Gateway."""
    return APIS + (("certificatemanager.googleapis.com",) if spec is not None and spec.gateway.https else ())
