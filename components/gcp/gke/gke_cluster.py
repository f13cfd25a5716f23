"""A GKE Standard cluster for ML serving and jobs, safe by default: private nodes, Workload
Identity, shielded nodes on a dedicated least-privilege service account, Dataplane V2, a
release channel with a maintenance window, managed Prometheus, the GCS FUSE CSI driver (models
mounted from buckets) and the Gateway API (model servers route with HTTPRoutes).

Node pools are separate children (`GkeNodePool`), one per spec pool; the default pool GKE must
create is removed at once. The component also builds a kubeconfig that authenticates with
`gke-gcloud-auth-plugin` and a Kubernetes provider for the workloads that run on the cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.core.component import Component
from components.core.spec import Context, ensure_valid
from components.gcp.gke.cluster_spec import (KUBERNETES_MINOR, NODE_ROLES, ClusterSpec, cluster_name_issues,
                                             maintenance_window)
from components.gcp.gke.gke_node_pool import GkeNodePool, GkeNodePoolArgs
from components.gcp.gke.node_pool_spec import CLOUD_PLATFORM_SCOPE
from components.gcp.iam.service_account import ServiceAccount, ServiceAccountArgs

TYPE = "mlinfra:gcp:GkeCluster"


def has_gpus(spec: ClusterSpec) -> bool:
    """Whether the cluster may run GPU nodes: a GPU pool, or auto-provisioning with GPU types."""
    return any(p.gpu is not None for p in spec.node_pools) or bool(
        spec.auto_provisioning.enabled and spec.auto_provisioning.gpus)


def kubeconfig(context: str, endpoint: str, ca_certificate: str) -> str:
    """A kubeconfig authenticating with gke-gcloud-auth-plugin, as GKE documents
    (https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl); JSON is YAML."""
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": f"https://{endpoint}",
                                                    "certificate-authority-data": ca_certificate}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
        "users": [{"name": context, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "gke-gcloud-auth-plugin",
            "installHint": "Install gke-gcloud-auth-plugin: https://cloud.google.com/kubernetes-engine/docs/"
                           "how-to/cluster-access-for-kubectl#install_plugin",
            "provideClusterInfo": True,
        }}}],
    }, indent=2)


def _ca_certificate(master_auth) -> str:
    if master_auth is None:
        return ""
    if isinstance(master_auth, dict):
        return master_auth.get("cluster_ca_certificate") or master_auth.get("clusterCaCertificate") or ""
    return master_auth.cluster_ca_certificate or ""


@dataclass(frozen=True, kw_only=True)
class GkeClusterArgs:
    spec: ClusterSpec
    """The cluster as the stack file says it."""
    project: str
    """The project it runs in."""
    region: str
    """Its region (a zonal cluster's zone is in the spec)."""
    environment: str
    """dev, staging or prod: prod turns on deletion protection and `protect`."""
    network_id: pulumi.Input[str]
    """The VPC."""
    subnetwork_id: pulumi.Input[str]
    """The subnet its nodes use."""
    pods_range: str
    """The subnet's secondary range for pods."""
    services_range: str
    """The subnet's secondary range for services."""
    cluster_name: Optional[str] = None
    """The GKE cluster's name. Defaults to one Pulumi derives from the component's name."""
    secret_manager: bool = False
    """Turn on GKE's Secret Manager add-on (workloads with `secrets`). Defaults to false."""


class GkeCluster(Component):
    """Outputs: cluster_name, endpoint, location, workload_pool, node_service_account,
    kubeconfig, kubernetes_minor; `provider` deploys Kubernetes resources to the cluster."""

    def __init__(self, name: str, args: GkeClusterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        spec = args.spec
        ensure_valid(f"GkeCluster {name}", spec, Context(project=args.project, region=args.region,
                                                          environment=args.environment),
                     also=lambda: cluster_name_issues(name, spec, args.cluster_name))
        prod = args.environment == "prod"
        location = spec.zone or args.region
        self.workload_pool = f"{args.project}.svc.id.goog"

        self.nodes = ServiceAccount(f"{name}-nodes", ServiceAccountArgs(
            display_name=f"mlinfra GKE nodes of {name}", project=args.project), opts=self.child())
        grants = [self.nodes.grant_project_role(role) for role in NODE_ROLES]

        start, end = maintenance_window(spec.maintenance)
        self.cluster = gcp.container.Cluster(
            name,
            name=args.cluster_name,
            project=args.project,
            location=location,
            network=args.network_id,
            subnetwork=args.subnetwork_id,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=args.pods_range, services_secondary_range_name=args.services_range),
            private_cluster_config=gcp.container.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=True, enable_private_endpoint=spec.private_endpoint,
                master_ipv4_cidr_block=spec.master_cidr),
            master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                    cidr_block=n.cidr, display_name=n.name) for n in spec.authorized_networks])
            if spec.authorized_networks else None,
            workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(workload_pool=self.workload_pool),
            # Its CSI driver mounts Secret Manager secrets into pods, read as the pod's identity.
            secret_manager_config=gcp.container.ClusterSecretManagerConfigArgs(enabled=True)
            if args.secret_manager else None,
            datapath_provider="ADVANCED_DATAPATH",
            enable_shielded_nodes=True,
            release_channel=gcp.container.ClusterReleaseChannelArgs(channel=spec.release_channel),
            enable_legacy_abac=False,
            master_auth=gcp.container.ClusterMasterAuthArgs(
                client_certificate_config=gcp.container.ClusterMasterAuthClientCertificateConfigArgs(
                    issue_client_certificate=False)),
            remove_default_node_pool=True,
            initial_node_count=1,
            # The default pool lives for minutes, but even then on the node account, not the
            # Compute Engine default one, and without the legacy metadata server.
            node_config=gcp.container.ClusterNodeConfigArgs(
                service_account=self.nodes.email,
                oauth_scopes=[CLOUD_PLATFORM_SCOPE],
                workload_metadata_config=gcp.container.ClusterNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
                shielded_instance_config=gcp.container.ClusterNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True),
                metadata={"disable-legacy-endpoints": "true"},
            ),
            # With GPUs, GKE's managed DCGM metrics too: GKE runs DCGM-Exporter on the GPU nodes and
            # scrapes it into Managed Service for Prometheus (cloud.google.com/kubernetes-engine/docs/
            # how-to/dcgm-metrics; needs managed Prometheus; GKE installs its managed drivers for it).
            monitoring_config=gcp.container.ClusterMonitoringConfigArgs(
                enable_components=["SYSTEM_COMPONENTS"] + (["DCGM"] if has_gpus(spec) else []),
                managed_prometheus=gcp.container.ClusterMonitoringConfigManagedPrometheusArgs(enabled=True)),
            addons_config=gcp.container.ClusterAddonsConfigArgs(
                gcs_fuse_csi_driver_config=gcp.container.ClusterAddonsConfigGcsFuseCsiDriverConfigArgs(enabled=True),
                gce_persistent_disk_csi_driver_config=gcp.container.ClusterAddonsConfigGcePersistentDiskCsiDriverConfigArgs(
                    enabled=True),
                http_load_balancing=gcp.container.ClusterAddonsConfigHttpLoadBalancingArgs(disabled=False)),
            gateway_api_config=gcp.container.ClusterGatewayApiConfigArgs(channel="CHANNEL_STANDARD"),
            node_pool_defaults=gcp.container.ClusterNodePoolDefaultsArgs(
                node_config_defaults=gcp.container.ClusterNodePoolDefaultsNodeConfigDefaultsArgs(
                    gcfs_config=gcp.container.ClusterNodePoolDefaultsNodeConfigDefaultsGcfsConfigArgs(enabled=True))),
            maintenance_policy=gcp.container.ClusterMaintenancePolicyArgs(
                recurring_window=gcp.container.ClusterMaintenancePolicyRecurringWindowArgs(
                    start_time=start, end_time=end, recurrence=spec.maintenance.recurrence)),
            cluster_autoscaling=self._autoscaling(spec),
            vertical_pod_autoscaling=gcp.container.ClusterVerticalPodAutoscalingArgs(enabled=True),
            deletion_protection=prod,
            # Once the default pool is gone GKE no longer reports its node config, and a diff
            # there would replace the whole cluster (hashicorp/terraform-provider-google#17511).
            opts=self.child(depends_on=grants, protect=prod, ignore_changes=["nodeConfig"]),
        )

        # A pool may run as an account of its own (`serviceAccount: dedicated`, the node roles
        # only) or as an existing one; the others share the cluster's node account.
        self.pool_accounts: dict[str, pulumi.Input[str]] = {}
        pool_grants: dict[str, list] = {}
        for pool in spec.node_pools:
            if pool.service_account == "dedicated":
                account = ServiceAccount(f"{name}-{pool.name}-nodes", ServiceAccountArgs(
                    display_name=f"mlinfra GKE nodes of pool {pool.name}", project=args.project), opts=self.child())
                # Its nodes start only once the account holds its roles (the cluster waits for the shared one's).
                pool_grants[pool.name] = [account.grant_project_role(role) for role in NODE_ROLES]
                self.pool_accounts[pool.name] = account.email
            else:
                self.pool_accounts[pool.name] = pool.service_account or self.nodes.email
        self.node_pools = [
            GkeNodePool(f"{name}-{pool.name}", GkeNodePoolArgs(
                spec=pool, cluster=self.cluster.name, location=location, project=args.project,
                service_account=self.pool_accounts[pool.name]),
                opts=self.child(depends_on=pool_grants.get(pool.name)))
            for pool in spec.node_pools
        ]
        # The GKE names of the pools (Pulumi adds a suffix), which queued jobs select their nodes by.
        self.pool_names = {pool.name: p.pool_name for pool, p in zip(spec.node_pools, self.node_pools)}

        self.cluster_name = self.cluster.name
        self.endpoint = self.cluster.endpoint
        self.location = location
        self.node_service_account = self.nodes.email
        self.node_service_accounts = list(dict.fromkeys(self.pool_accounts.values())) or [self.nodes.email]
        self.kubernetes_minor = KUBERNETES_MINOR[spec.release_channel]
        self.kubeconfig = pulumi.Output.all(self.cluster.name, self.cluster.endpoint, self.cluster.master_auth).apply(
            lambda a: kubeconfig(f"gke_{args.project}_{location}_{a[0]}", a[1], _ca_certificate(a[2])))
        # Workloads deployed through this provider wait for the node pools to exist.
        self.provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
            opts=self.child(depends_on=[p.node_pool for p in self.node_pools]))

        self.register_outputs({
            "cluster_name": self.cluster_name,
            "endpoint": self.endpoint,
            "location": self.location,
            "workload_pool": self.workload_pool,
            "node_service_account": self.node_service_account,
            "kubernetes_minor": self.kubernetes_minor,
        })

    def _autoscaling(self, spec: ClusterSpec) -> gcp.container.ClusterClusterAutoscalingArgs:
        nap = spec.auto_provisioning
        if not nap.enabled:
            return gcp.container.ClusterClusterAutoscalingArgs(
                enabled=False, autoscaling_profile=spec.autoscaling_profile)
        limits = [gcp.container.ClusterClusterAutoscalingResourceLimitArgs(resource_type="cpu", maximum=nap.max_cpu),
                  gcp.container.ClusterClusterAutoscalingResourceLimitArgs(resource_type="memory",
                                                                           maximum=nap.max_memory_gb)]
        limits += [gcp.container.ClusterClusterAutoscalingResourceLimitArgs(resource_type=g.type, maximum=g.max)
                   for g in nap.gpus]
        return gcp.container.ClusterClusterAutoscalingArgs(
            enabled=True,
            autoscaling_profile=spec.autoscaling_profile,
            resource_limits=limits,
            auto_provisioning_defaults=gcp.container.ClusterClusterAutoscalingAutoProvisioningDefaultsArgs(
                service_account=self.nodes.email,
                oauth_scopes=[CLOUD_PLATFORM_SCOPE],
                image_type="COS_CONTAINERD",
                shielded_instance_config=gcp.container.ClusterClusterAutoscalingAutoProvisioningDefaultsShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True),
                management=gcp.container.ClusterClusterAutoscalingAutoProvisioningDefaultsManagementArgs(
                    auto_repair=True, auto_upgrade=True),
            ),
        )
