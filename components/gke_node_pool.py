"""One GKE node pool: CPU, GPU or spot, always autoscaled, auto-repaired and auto-upgraded,
on shielded COS nodes that expose only the GKE metadata server to pods (Workload Identity).

The pool's taints are derived: a GPU pool carries GKE's own `nvidia.com/gpu` taint and a spot
pool the `cloud.google.com/gke-spot` taint, so only workloads that tolerate them land there.
"""

from __future__ import annotations

import re
from typing import Literal, Optional

import pulumi
import pulumi_gcp as gcp
from pydantic import Field

from components import gpu as gpus
from components.base import Component
from components.naming import DNS_LABEL
from components.validation import Issue, Spec, raise_if_any

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
POOL_LABEL = "mlinfra.dev/pool"
SPOT_TAINT = ("cloud.google.com/gke-spot", "true", "NoSchedule")
# Label and taint key prefixes GKE and the kubelet keep for themselves.
RESERVED_DOMAINS = ("cloud.google.com", "kubernetes.io", "k8s.io")
# GKE names (clusters, node pools) have at most 40 characters; Pulumi's auto-naming adds a dash
# and 7 random characters to the resource name, so a new pool can be created before the old
# one is deleted when a setting forces a replacement.
GKE_NAME_MAX = 40
AUTONAME_SUFFIX = 8
TAINT_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE", "NoExecute": "NO_EXECUTE"}
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


class GpuSharingSpec(Spec):
    """Several containers on one physical GPU."""

    strategy: Literal["TIME_SHARING", "MPS"]
    """TIME_SHARING (containers take turns) or MPS (NVIDIA Multi-Process Service, concurrent). Required."""
    max_shared_clients: int = Field(ge=2, le=48)
    """Containers per physical GPU, 2 to 48. Required."""


class NodeGpuSpec(Spec):
    """The GPUs of every node in the pool."""

    type: str
    """Compute Engine accelerator type, e.g. nvidia-l4 or nvidia-tesla-t4. Required."""
    count: int = Field(1, ge=1)
    """GPUs per node. Accelerator-optimized machine types fix it (g2-standard-24: 2). Defaults to 1."""
    driver: Literal["DEFAULT", "LATEST", "INSTALLATION_DISABLED"] = "DEFAULT"
    """NVIDIA driver GKE installs: DEFAULT, LATEST or INSTALLATION_DISABLED (you install it). Defaults to DEFAULT."""
    sharing: Optional[GpuSharingSpec] = None
    """Share each GPU between containers. Defaults to none (one container per GPU)."""
    partition_size: Optional[str] = None
    """Multi-instance GPU partition size, e.g. 1g.5gb on nvidia-tesla-a100. Defaults to none (whole GPUs)."""


class TaintSpec(Spec):
    """A Kubernetes taint on every node of the pool."""

    key: str
    """Taint key, e.g. dedicated. Required."""
    value: str = ""
    """Taint value. Defaults to empty."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"
    """NoSchedule, PreferNoSchedule or NoExecute. Defaults to NoSchedule."""


class PoolAutoscalingSpec(Spec):
    """Node counts the cluster autoscaler keeps the pool between."""

    min: int = Field(0, ge=0, le=1000)
    """Fewest nodes (0 lets an idle pool cost nothing). Defaults to 0."""
    max: int = Field(3, ge=1, le=1000)
    """Most nodes: the cost ceiling. Defaults to 3."""
    per_zone: bool = True
    """min and max count per zone (true) or in total across the pool's zones (false). Defaults to true."""


class NodePoolSpec(Spec):
    """One node pool."""

    name: str = Field(pattern=DNS_LABEL, max_length=30)
    """Pool name: lowercase letters, digits and hyphens, at most 30. Required."""
    machine_type: str = "e2-standard-4"
    """Compute Engine machine type. Defaults to e2-standard-4."""
    disk_size_gb: int = Field(100, ge=20, le=65536)
    """Boot disk size in GB (at least 20; images and models are cached here). Defaults to 100."""
    disk_type: Literal["pd-balanced", "pd-ssd", "pd-standard"] = "pd-balanced"
    """Boot disk type. Defaults to pd-balanced."""
    spot: bool = False
    """Spot VMs: far cheaper, reclaimable at any time; the pool gets the spot taint. Defaults to false."""
    gpu: Optional[NodeGpuSpec] = None
    """GPUs on every node. Defaults to none."""
    autoscaling: PoolAutoscalingSpec = PoolAutoscalingSpec()
    """Node counts; defaults to 0 to 3 per zone."""
    zones: list[str] = []
    """Zones for the pool's nodes, inside the cluster's region (GPUs are not in every zone).
    Defaults to the cluster's zones."""
    labels: dict[str, str] = {}
    """Kubernetes labels on every node (mlinfra adds mlinfra.dev/pool). Defaults to none."""
    taints: list[TaintSpec] = []
    """Taints on every node, beside the GPU and spot taints mlinfra adds. Defaults to none."""
    max_surge: int = Field(1, ge=0, le=100)
    """Extra nodes created during an upgrade. Defaults to 1."""
    max_unavailable: int = Field(0, ge=0, le=100)
    """Nodes that may be down at once during an upgrade. Defaults to 0."""


def _reserved(key: str) -> Optional[str]:
    prefix = key.split("/", 1)[0] if "/" in key else ""
    for domain in RESERVED_DOMAINS:
        if prefix == domain or prefix.endswith("." + domain):
            return domain
    return None


def _key_issue(path: tuple, key: str) -> Optional[Issue]:
    prefix, _, name = key.rpartition("/")
    if not _LABEL_NAME.match(name) or (prefix and (len(prefix) > 253 or not _LABEL_PREFIX.match(prefix))):
        return Issue(path, "is not a Kubernetes label or taint key", key,
                     allowed="[prefix/]name: name up to 63 letters, digits, '-', '_', '.'; prefix a DNS subdomain",
                     fix="e.g. team or acme.dev/team")
    return None


def node_pool_issues(spec: NodePoolSpec, region: str) -> list[Issue]:
    issues: list[Issue] = []
    scaling = spec.autoscaling
    if scaling.min > scaling.max:
        issues.append(Issue(("autoscaling", "max"), f"is below autoscaling.min ({scaling.min})", scaling.max,
                            fix=f"set max to at least {scaling.min}, or lower min"))
    if spec.max_surge + spec.max_unavailable == 0:
        issues.append(Issue(("maxSurge",), "maxSurge and maxUnavailable are both 0: an upgrade could never replace a node",
                            0, fix="set maxSurge to 1 (or maxUnavailable to 1 when quota is tight)"))
    for i, zone in enumerate(spec.zones):
        if not zone.startswith(region + "-"):
            issues.append(Issue(("zones", i), f"is not a zone of region {region}", zone,
                                allowed=f"{region}-a, {region}-b, ...", fix=f"use zones of {region}"))

    if spec.machine_type in gpus.SPOT_ONLY_MACHINE_TYPES and not spec.spot:
        issues.append(Issue(("spot",), f"{spec.machine_type} is sold only as Spot VMs", False,
                            fix="set `spot: true`, or use a3-highgpu-8g"))
    if spec.gpu is not None:
        g = spec.gpu
        issues += gpus.gpu_issues(g.type, g.count, spec.machine_type, region, g.partition_size,
                                  (g.sharing.strategy, g.sharing.max_shared_clients) if g.sharing else None)

    for key, value in spec.labels.items():
        bad = _key_issue(("labels", key), key)
        if bad:
            issues.append(bad)
        elif (domain := _reserved(key)) is not None:
            issues.append(Issue(("labels", key), f"uses the {domain}/ prefix, which GKE keeps for itself", key,
                                fix="use a prefix of your own, e.g. acme.dev/" + key.split("/", 1)[1]))
        elif key == POOL_LABEL:
            issues.append(Issue(("labels", key), "is set by mlinfra to the pool's name", key, fix="remove it"))
        if not _LABEL_VALUE.match(value):
            issues.append(Issue(("labels", key), "is not a Kubernetes label value", value,
                                allowed="up to 63 letters, digits, '-', '_', '.', starting and ending alphanumeric",
                                fix="shorten or clean the value"))
    for i, taint in enumerate(spec.taints):
        bad = _key_issue(("taints", i, "key"), taint.key)
        if bad:
            issues.append(bad)
        elif taint.key == SPOT_TAINT[0]:
            issues.append(Issue(("taints", i, "key"), "is added by mlinfra to spot pools", taint.key,
                                fix="remove it and set `spot: true`"))
        elif (domain := _reserved(taint.key)) is not None:
            issues.append(Issue(("taints", i, "key"), f"uses the {domain}/ prefix, which GKE keeps for itself",
                                taint.key, fix="use a prefix of your own, e.g. acme.dev/dedicated"))
        if not _LABEL_VALUE.match(taint.value):
            issues.append(Issue(("taints", i, "value"), "is not a Kubernetes taint value", taint.value,
                                allowed="up to 63 letters, digits, '-', '_', '.', starting and ending alphanumeric",
                                fix="shorten or clean the value"))
    return issues


def resource_name_issues(path: tuple, resource_name: str, what: str) -> list[Issue]:
    """A GKE name Pulumi derives from `resource_name` must fit GKE's 40 characters."""
    room = GKE_NAME_MAX - AUTONAME_SUFFIX
    if len(resource_name) <= room:
        return []
    return [Issue(path, f"the {what} would be named {resource_name}-xxxxxxx, over GKE's {GKE_NAME_MAX} characters",
                  resource_name, allowed=f"a resource name of at most {room} characters",
                  fix=f"shorten it by {len(resource_name) - room} characters")]


def pool_taints(spec: NodePoolSpec) -> list[TaintSpec]:
    """The declared taints, then GKE's GPU taint and the spot taint, each (key, effect) once.

    GKE adds `nvidia.com/gpu=present:NoSchedule` to GPU nodes itself, but not always: it skips
    it when every pool of the cluster is a GPU pool at creation, which `remove_default_node_pool`
    can make true for a moment (terraform-google-kubernetes-engine#703). Declaring it guarantees
    the isolation and keeps plans free of a diff that never goes away. GKE labels spot nodes
    `cloud.google.com/gke-spot=true` but does not taint them: the taint keeps workloads that
    cannot stand being reclaimed off spot nodes unless they tolerate it.
    """
    taints = list(spec.taints)
    if spec.gpu is not None:
        taints.append(TaintSpec(key=gpus.GPU_TAINT[0], value=gpus.GPU_TAINT[1], effect=gpus.GPU_TAINT[2]))
    if spec.spot:
        taints.append(TaintSpec(key=SPOT_TAINT[0], value=SPOT_TAINT[1], effect=SPOT_TAINT[2]))
    seen: set[tuple[str, str]] = set()
    out = []
    for taint in taints:
        if (taint.key, taint.effect) not in seen:
            seen.add((taint.key, taint.effect))
            out.append(taint)
    return out


def location_policy(spec: NodePoolSpec) -> str:
    """ANY for spot (scale up wherever capacity is, fewer preemptions), BALANCED otherwise."""
    return "ANY" if spec.spot else "BALANCED"


def pool_labels(spec: NodePoolSpec) -> dict[str, str]:
    return {**spec.labels, POOL_LABEL: spec.name}


class GkeNodePoolArgs:
    def __init__(self, spec: NodePoolSpec, *, cluster: pulumi.Input[str], location: str, project: str,
                 service_account: pulumi.Input[str], image_streaming: bool = True):
        """`cluster` is the cluster's name or ID, `location` its region (or zone), `service_account`
        the node service account's email. `image_streaming` defaults to true (faster pulls of large
        serving images)."""
        self.spec = spec
        self.cluster = cluster
        self.location = location
        self.project = project
        self.service_account = service_account
        self.image_streaming = image_streaming


class GkeNodePool(Component):
    """Outputs: pool_name (the GKE node pool's name)."""

    def __init__(self, name: str, args: GkeNodePoolArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("mlinfra:gcp:GkeNodePool", name, opts)
        spec = args.spec
        region = args.location if args.location.count("-") == 1 else args.location.rsplit("-", 1)[0]
        raise_if_any(f"GkeNodePool {name}", node_pool_issues(spec, region)
                     + resource_name_issues(("name",), name, "node pool"))

        scaling = spec.autoscaling
        autoscaling = gcp.container.NodePoolAutoscalingArgs(
            min_node_count=scaling.min if scaling.per_zone else None,
            max_node_count=scaling.max if scaling.per_zone else None,
            total_min_node_count=None if scaling.per_zone else scaling.min,
            total_max_node_count=None if scaling.per_zone else scaling.max,
            location_policy=location_policy(spec),
        )
        self.node_pool = gcp.container.NodePool(
            name,
            cluster=args.cluster,
            location=args.location,
            project=args.project,
            node_locations=list(spec.zones) or None,
            initial_node_count=scaling.min if scaling.per_zone else 0,
            autoscaling=autoscaling,
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            upgrade_settings=gcp.container.NodePoolUpgradeSettingsArgs(
                strategy="SURGE", max_surge=spec.max_surge, max_unavailable=spec.max_unavailable),
            node_config=gcp.container.NodePoolNodeConfigArgs(
                machine_type=spec.machine_type,
                disk_size_gb=spec.disk_size_gb,
                disk_type=spec.disk_type,
                image_type="COS_CONTAINERD",
                service_account=args.service_account,
                oauth_scopes=[CLOUD_PLATFORM_SCOPE],
                workload_metadata_config=gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
                shielded_instance_config=gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True),
                metadata={"disable-legacy-endpoints": "true"},
                labels=pool_labels(spec),
                taints=[gcp.container.NodePoolNodeConfigTaintArgs(key=t.key, value=t.value, effect=TAINT_EFFECTS[t.effect])
                        for t in pool_taints(spec)],
                spot=spec.spot,
                gcfs_config=gcp.container.NodePoolNodeConfigGcfsConfigArgs(enabled=args.image_streaming),
                guest_accelerators=[self._accelerator(spec.gpu)] if spec.gpu is not None else None,
            ),
            # The initial size forces a new pool when changed; the autoscaler owns the size after creation.
            opts=self.child(ignore_changes=["initialNodeCount"]),
        )
        self.pool_name = self.node_pool.name
        self.register_outputs({"pool_name": self.pool_name})

    @staticmethod
    def _accelerator(g: NodeGpuSpec) -> gcp.container.NodePoolNodeConfigGuestAcceleratorArgs:
        return gcp.container.NodePoolNodeConfigGuestAcceleratorArgs(
            type=g.type,
            count=g.count,
            gpu_driver_installation_config=gcp.container.NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs(
                gpu_driver_version=g.driver),
            gpu_sharing_config=gcp.container.NodePoolNodeConfigGuestAcceleratorGpuSharingConfigArgs(
                gpu_sharing_strategy=g.sharing.strategy, max_shared_clients_per_gpu=g.sharing.max_shared_clients)
            if g.sharing else None,
            gpu_partition_size=g.partition_size,
        )
