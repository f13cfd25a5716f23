"""A GKE Standard cluster for ML serving and jobs, safe by default: private nodes, Workload
Identity, shielded nodes on a dedicated least-privilege service account, Dataplane V2, a
release channel with a maintenance window, managed Prometheus, the GCS FUSE CSI driver (models
mounted from buckets) and the Gateway API (model servers route with HTTPRoutes).

Node pools are separate children (`GkeNodePool`), one per spec pool; the default pool GKE must
create is removed at once. The component also builds a kubeconfig that authenticates with
`gke-gcloud-auth-plugin` and a Kubernetes provider for the workloads that run on the cluster.
"""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Literal, Optional

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
from pydantic import Field

from components import gpu as gpus
from components.base import Component
from components.gke_node_pool import (CLOUD_PLATFORM_SCOPE, GkeNodePool, GkeNodePoolArgs, NodePoolSpec,
                                      node_pool_issues, resource_name_issues)
from components.service_account import ServiceAccount, ServiceAccountArgs
from components.validation import Issue, Spec, one_of, raise_if_any

# The Kubernetes minor version new clusters get in each release channel ("Default patch version
# for cluster creation" in https://cloud.google.com/kubernetes-engine/docs/release-notes, current
# versions table as of September 2026: Rapid 1.36.4, Regular 1.35.7, Stable 1.35.6; Stable's
# auto-upgrade target was still 1.34). Manifests are validated against these; update them when
# the channels move (the kubernetes-validate package must ship the schema: it has 1.25 to 1.37).
KUBERNETES_MINOR = {"RAPID": "1.36", "REGULAR": "1.35", "STABLE": "1.35"}

# The least-privilege node role GKE documents as the minimum (logging, monitoring, metadata:
# https://cloud.google.com/kubernetes-engine/security/configure-node-service-accounts), plus
# pulling images from Artifact Registry.
# Image streaming also needs serviceUsageConsumer on a custom node account
# (cloud.google.com/kubernetes-engine/docs/how-to/image-streaming#requirements).
NODE_ROLES = ("roles/container.defaultNodeServiceAccount", "roles/artifactregistry.reader",
              "roles/serviceusage.serviceUsageConsumer")

# A fixed Saturday: the recurring window's first occurrence; the recurrence rule does the rest.
MAINTENANCE_EPOCH = datetime(2026, 1, 3, tzinfo=timezone.utc)
# GKE rejects a maintenance policy with less than 48 hours of availability in any 32 days.
MIN_MAINTENANCE_HOURS_PER_32_DAYS = 48
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_RFC1918 = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


class AuthorizedNetworkSpec(Spec):
    """A network allowed to reach the cluster's control plane."""

    cidr: str
    """IPv4 CIDR block, e.g. 203.0.113.0/24. Required."""
    name: str
    """A name shown in the console, e.g. office. Required."""


class MaintenanceSpec(Spec):
    """When GKE may upgrade the cluster and its nodes."""

    recurrence: str = "FREQ=WEEKLY;BYDAY=SA,SU"
    """RFC 5545 recurrence rule. Defaults to FREQ=WEEKLY;BYDAY=SA,SU (weekends)."""
    start: str = Field("03:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    """Start time of each window, HH:MM in UTC. Defaults to 03:00."""
    hours: int = Field(8, ge=4, le=24)
    """Length of each window in hours (GKE wants 48 hours of windows in any 32 days). Defaults to 8."""


class AutoProvisioningGpuSpec(Spec):
    """A GPU type node auto-provisioning may create nodes with."""

    type: str
    """Compute Engine accelerator type, e.g. nvidia-l4. Required."""
    max: int = Field(ge=1, le=10000)
    """Most GPUs of this type across the cluster. Required."""


class AutoProvisioningSpec(Spec):
    """Node auto-provisioning: GKE creates and deletes whole node pools for pending pods."""

    enabled: bool = False
    """Turn node auto-provisioning on. Defaults to false."""
    max_cpu: int = Field(64, ge=1)
    """Most vCPUs across the whole cluster (pools included). Defaults to 64."""
    max_memory_gb: int = Field(256, ge=1)
    """Most memory in GB across the whole cluster. Defaults to 256."""
    gpus: list[AutoProvisioningGpuSpec] = []
    """GPU types and limits auto-provisioning may use. Defaults to none."""


class ClusterSpec(Spec):
    """The GKE cluster of the kubernetes pattern."""

    zone: Optional[str] = None
    """Make a zonal cluster in this zone (one control plane zone: dev only). Defaults to a
    regional cluster in gcp:region."""
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    """GKE release channel, which picks the Kubernetes version and upgrades it. Defaults to REGULAR."""
    private_endpoint: bool = False
    """Reach the control plane only from inside the VPC. Defaults to false (public endpoint,
    limited by authorizedNetworks when given)."""
    authorized_networks: list[AuthorizedNetworkSpec] = []
    """Networks allowed to reach the control plane. Defaults to none (any network, with IAM)."""
    master_cidr: str = "172.16.0.0/28"
    """Private /28 for the control plane; must not overlap the VPC's ranges. Defaults to 172.16.0.0/28."""
    autoscaling_profile: Literal["BALANCED", "OPTIMIZE_UTILIZATION"] = "OPTIMIZE_UTILIZATION"
    """Cluster autoscaler profile: OPTIMIZE_UTILIZATION removes idle nodes sooner. Defaults to OPTIMIZE_UTILIZATION."""
    auto_provisioning: AutoProvisioningSpec = AutoProvisioningSpec()
    """Node auto-provisioning. Defaults to off."""
    maintenance: MaintenanceSpec = MaintenanceSpec()
    """Maintenance window. Defaults to weekends 03:00-11:00 UTC."""
    node_pools: list[NodePoolSpec] = []
    """Node pools. Defaults to none (then autoProvisioning must be on)."""


def maintenance_hours_per_32_days(spec: MaintenanceSpec) -> Optional[int]:
    """Fewest hours of maintenance windows in any 32 days, for DAILY and WEEKLY;BYDAY rules;
    None for any other rule (not checked here)."""
    parts = dict(p.split("=", 1) for p in spec.recurrence.upper().split(";") if "=" in p)
    if set(parts) - {"FREQ", "BYDAY"}:
        return None
    if parts.get("FREQ") == "DAILY" and "BYDAY" not in parts:
        return 32 * spec.hours
    if parts.get("FREQ") == "WEEKLY" and "BYDAY" in parts:
        days = parts["BYDAY"].split(",")
        if not days or any(d not in _DAYS for d in days):
            return None
        wanted = {_DAYS.index(d) for d in days}
        return min(sum((start + i) % 7 in wanted for i in range(32)) for start in range(7)) * spec.hours
    return None


def maintenance_window(spec: MaintenanceSpec) -> tuple[str, str]:
    """(start_time, end_time) of the first window, RFC 3339 in UTC."""
    hour, minute = (int(x) for x in spec.start.split(":"))
    start = MAINTENANCE_EPOCH.replace(hour=hour, minute=minute)
    end = start + timedelta(hours=spec.hours)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ")


def cluster_issues(spec: ClusterSpec, region: str, environment: str) -> list[Issue]:
    issues: list[Issue] = []
    if spec.zone is not None:
        if environment != "dev":
            issues.append(Issue(("zone",), f"a zonal cluster has one control plane zone: fine for dev, not {environment}",
                                spec.zone, fix="remove zone to get a regional cluster"))
        if not re.match(rf"^{re.escape(region)}-[a-z]$", spec.zone):
            issues.append(Issue(("zone",), f"is not a zone of region {region}", spec.zone,
                                allowed=f"{region}-a, {region}-b, ...", fix=f"use a zone of {region}"))

    seen: dict[str, int] = {}
    for i, pool in enumerate(spec.node_pools):
        if pool.name in seen:
            issues.append(Issue(("nodePools", i, "name"), f"is also the name of nodePools[{seen[pool.name]}]", pool.name,
                                fix="give every node pool its own name"))
        seen.setdefault(pool.name, i)
        issues += [issue.under("nodePools", i) for issue in node_pool_issues(pool, region)]

    nap = spec.auto_provisioning
    if not spec.node_pools and not nap.enabled:
        issues.append(Issue(("nodePools",), "the cluster has no node pool and auto-provisioning is off: no pod could run",
                            fix="add a node pool, or set autoProvisioning.enabled: true"))
    for i, g in enumerate(nap.gpus):
        if g.type not in gpus.KNOWN_GPU_TYPES:
            issues.append(Issue(("autoProvisioning", "gpus", i, "type"), "is not a GPU type mlinfra knows", g.type,
                                allowed=one_of(gpus.KNOWN_GPU_TYPES), fix="use one of the allowed GPU types"))
        elif region not in gpus.GPU_REGIONS.get(g.type, ()):
            issues.append(Issue(("autoProvisioning", "gpus", i, "type"), f"no {g.type} GPUs in region {region}", g.type,
                                allowed=f"{g.type} regions: {one_of(gpus.GPU_REGIONS.get(g.type, ()))}",
                                fix=f"pick a GPU type offered in {region}"))
    if nap.gpus and not nap.enabled:
        issues.append(Issue(("autoProvisioning", "gpus"), "has no effect while autoProvisioning.enabled is false",
                            fix="set autoProvisioning.enabled: true, or remove gpus"))

    issues += _cidr_issues(("masterCidr",), spec.master_cidr, control_plane=True)
    for i, net in enumerate(spec.authorized_networks):
        issues += _cidr_issues(("authorizedNetworks", i, "cidr"), net.cidr, control_plane=False)

    hours = maintenance_hours_per_32_days(spec.maintenance)
    if hours is not None and hours < MIN_MAINTENANCE_HOURS_PER_32_DAYS:
        issues.append(Issue(("maintenance", "hours"), f"gives only {hours} hours of maintenance in some 32 days; "
                            f"GKE needs at least {MIN_MAINTENANCE_HOURS_PER_32_DAYS}", spec.maintenance.hours,
                            fix="make the windows longer or more frequent"))
    return issues


def _cidr_issues(path: tuple, value: str, control_plane: bool) -> list[Issue]:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return [Issue(path, "is not an IPv4 CIDR block with its host bits zero", value,
                      fix="write the network address, e.g. 172.16.0.0/28" if control_plane else "e.g. 203.0.113.0/24")]
    if net.version != 4:
        return [Issue(path, "is not an IPv4 block", value, fix="use an IPv4 CIDR block")]
    if control_plane:
        if net.prefixlen != 28:
            return [Issue(path, "the control plane range must be a /28", value, fix="use a /28, e.g. 172.16.0.0/28")]
        if not any(net.subnet_of(p) for p in _RFC1918):
            return [Issue(path, "is not a private (RFC 1918) range", value,
                          allowed="inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16", fix="e.g. 172.16.0.0/28")]
    return []


def offered_gpus(spec: ClusterSpec) -> set[str]:
    """GPU types a workload may ask for: those of the node pools and of auto-provisioning."""
    found = {pool.gpu.type for pool in spec.node_pools if pool.gpu is not None}
    if spec.auto_provisioning.enabled:
        found |= {g.type for g in spec.auto_provisioning.gpus}
    return found


def spot_pools(spec: ClusterSpec) -> list[NodePoolSpec]:
    """The spot node pools (their nodes carry the cloud.google.com/gke-spot taint)."""
    return [pool for pool in spec.node_pools if pool.spot]


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


class GkeClusterArgs:
    def __init__(self, spec: ClusterSpec, *, project: str, region: str, environment: str,
                 network_id: pulumi.Input[str], subnetwork_id: pulumi.Input[str], pods_range: str,
                 services_range: str, master_cidr: Optional[str] = None, cluster_name: Optional[str] = None):
        """`pods_range` and `services_range` name the subnet's secondary ranges. `master_cidr`
        defaults to the spec's; `cluster_name` to a name Pulumi derives from the component's."""
        self.spec = spec
        self.project = project
        self.region = region
        self.environment = environment
        self.network_id = network_id
        self.subnetwork_id = subnetwork_id
        self.pods_range = pods_range
        self.services_range = services_range
        self.master_cidr = master_cidr or spec.master_cidr
        self.cluster_name = cluster_name


class GkeCluster(Component):
    """Outputs: cluster_name, endpoint, location, workload_pool, node_service_account,
    kubeconfig, kubernetes_minor; `provider` deploys Kubernetes resources to the cluster."""

    def __init__(self, name: str, args: GkeClusterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("mlinfra:gcp:GkeCluster", name, opts)
        spec = args.spec
        issues = cluster_issues(spec, args.region, args.environment)
        if args.master_cidr != spec.master_cidr:
            issues += _cidr_issues(("masterCidr",), args.master_cidr, control_plane=True)
        if args.cluster_name is None:
            issues += resource_name_issues(("name",), name, "cluster")
        elif not re.match(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$", args.cluster_name):
            issues.append(Issue(("name",), "is not a GKE cluster name", args.cluster_name,
                                allowed="lowercase letters, digits and hyphens, at most 40, starting with a letter",
                                fix="shorten or clean the name"))
        for i, pool in enumerate(spec.node_pools):
            issues += resource_name_issues(("nodePools", i, "name"), f"{name}-{pool.name}", "node pool")
        raise_if_any(f"GkeCluster {name}", issues)
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
                master_ipv4_cidr_block=args.master_cidr),
            master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                    cidr_block=n.cidr, display_name=n.name) for n in spec.authorized_networks])
            if spec.authorized_networks else None,
            workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(workload_pool=self.workload_pool),
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
            monitoring_config=gcp.container.ClusterMonitoringConfigArgs(
                enable_components=["SYSTEM_COMPONENTS"],
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

        self.node_pools = [
            GkeNodePool(f"{name}-{pool.name}", GkeNodePoolArgs(
                pool, cluster=self.cluster.name, location=location, project=args.project,
                service_account=self.nodes.email), opts=self.child())
            for pool in spec.node_pools
        ]

        self.cluster_name = self.cluster.name
        self.endpoint = self.cluster.endpoint
        self.location = location
        self.node_service_account = self.nodes.email
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
