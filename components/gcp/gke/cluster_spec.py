"""A GKE cluster as the stack file says it, and the rules GKE would otherwise enforce at apply
time: zones, maintenance windows, control-plane ranges, auto-provisioning (no Pulumi)."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta, timezone
from typing import Literal, Optional

from pydantic import Field

from components.core.issues import Issue, one_of
from components.core.spec import Context, Spec
from components.core.schedules import recurrence_issues
from components.gcp.compute.regions import zone_issues
from components.gcp.gke import gpus
from components.gcp.gke.gateway_spec import GatewaySpec
from components.gcp.gke.node_pool_spec import NodePoolSpec, resource_name_issues

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
    limited by authorizedNetworks when given). `pulumi up` itself then must run inside the VPC
    (or one peered or connected to it): set deployerInVpc."""
    deployer_in_vpc: bool = False
    """`pulumi up` runs inside the cluster's VPC (a runner, bastion or VPN there), so it can reach a
    private control-plane endpoint. Required with privateEndpoint. Defaults to false."""
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
    gateway: GatewaySpec = GatewaySpec()
    """The Gateway the cluster's model servers share, each under /<service>/. Defaults to an
    internal HTTP Gateway (gke-l7-rilb on port 80)."""

    def issues(self, ctx: Context) -> list[Issue]:
        return cluster_issues(self, ctx.region, ctx.environment)


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


def cluster_issues(spec: "ClusterSpec", region: str, environment: str) -> list[Issue]:
    issues: list[Issue] = []
    if spec.zone is not None:
        if environment != "dev":
            issues.append(Issue(("zone",), f"a zonal cluster has one control plane zone: fine for dev, not {environment}",
                                spec.zone, fix="remove zone to get a regional cluster"))
        issues += zone_issues(spec.zone, region, key=("zone",))

    if spec.private_endpoint and not spec.deployer_in_vpc:
        issues.append(Issue(("privateEndpoint",), "the control plane would be reachable only from inside the VPC, but "
                            "`pulumi up` creates the cluster's Kubernetes objects through it: from outside, the first "
                            "up creates the cluster and then fails on every object", True,
                            allowed="false (public endpoint, narrowed by authorizedNetworks), or true with deployerInVpc: true",
                            fix="set deployerInVpc: true if the deploy runs inside the VPC, or use authorizedNetworks instead"))
    elif spec.deployer_in_vpc and not spec.private_endpoint:
        issues.append(Issue(("deployerInVpc",), "only matters with privateEndpoint: true", True,
                            fix="remove it, or set privateEndpoint: true"))

    seen: dict[str, int] = {}
    for i, pool in enumerate(spec.node_pools):
        if pool.name in seen:
            issues.append(Issue(("nodePools", i, "name"), f"is also the name of nodePools[{seen[pool.name]}]", pool.name,
                                fix="give every node pool its own name"))
        seen.setdefault(pool.name, i)

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

    issues += recurrence_issues(spec.maintenance.recurrence, key=("maintenance", "recurrence"))
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


def offered_gpus(spec: "ClusterSpec") -> set[str]:
    """GPU types a workload may ask for: those of the node pools and of auto-provisioning (a queued
    pool's only through a job's `queued`)."""
    found = {pool.gpu.type for pool in spec.node_pools if pool.gpu is not None and not pool.queued_provisioning}
    if spec.auto_provisioning.enabled:
        found |= {g.type for g in spec.auto_provisioning.gpus}
    return found


def spot_pools(spec: "ClusterSpec") -> list[NodePoolSpec]:
    """The spot node pools (their nodes carry the cloud.google.com/gke-spot taint)."""
    return [pool for pool in spec.node_pools if pool.spot]


def cluster_name_issues(resource_name: str, spec: ClusterSpec, cluster_name: Optional[str] = None) -> list[Issue]:
    """The GKE names a cluster component would give its cluster and pools fit GKE's 40 characters:
    the cluster's (explicit, or derived by Pulumi from the resource name) and each pool's
    (`<resource name>-<pool>` plus Pulumi's suffix)."""
    issues: list[Issue] = []
    if cluster_name is None:
        issues += resource_name_issues(("name",), resource_name, "cluster")
    elif not re.match(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$", cluster_name):
        issues.append(Issue(("name",), "is not a GKE cluster name", cluster_name,
                            allowed="lowercase letters, digits and hyphens, at most 40, starting with a letter",
                            fix="shorten or clean the name"))
    for i, pool in enumerate(spec.node_pools):
        issues += resource_name_issues(("nodePools", i, "name"), f"{resource_name}-{pool.name}", "node pool")
    return issues
