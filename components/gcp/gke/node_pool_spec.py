"""A GKE node pool as the stack file says it, and the rules GKE and Compute Engine would
otherwise enforce at apply time: GPUs per machine type, labels, taints, zones (no Pulumi).

The pool's taints are derived: a GPU pool carries GKE's own `nvidia.com/gpu` taint, a spot
pool the `cloud.google.com/gke-spot` taint and a queued pool GKE's `cloud.google.com/gke-queued`
taint, so only workloads that tolerate them land there.
"""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import Field

from components.core.issues import Issue
from components.core.naming import DNS_LABEL
from components.core.spec import Context, Spec
from components.gcp.compute.disk_types import disk_type_issues
from components.gcp.compute.machine_types import machine_type_issues
from components.gcp.compute.regions import zone_issues
from components.gcp.gke import gpus
from components.gcp.gke.node_labels import GPU_TAINT, QUEUED_TAINT, SPOT_TAINT
from components.gcp.iam.principals import SERVICE_ACCOUNT_EMAIL

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
POOL_LABEL = "mlinfra.dev/pool"
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


class LocalSsdSpec(Spec):
    """Local NVMe SSDs on every node: fast scratch for model weights and datasets."""

    count: int = Field(ge=1, le=24)
    """SSDs per node (375 GB each). Machine types with built-in SSDs (a3, g2 from g2-standard-32)
    take their fixed count. Required."""
    use: Literal["ephemeral", "block"] = "ephemeral"
    """ephemeral: the node's ephemeral storage (emptyDirs, image layers) lives on them; block: raw
    block devices for a local PersistentVolume. Defaults to ephemeral."""


class NodePoolSpec(Spec):
    """One node pool."""

    name: str = Field(pattern=DNS_LABEL, max_length=30)
    """Pool name: lowercase letters, digits and hyphens, at most 30. Required."""
    machine_type: str = "e2-standard-4"
    """Compute Engine machine type. Defaults to e2-standard-4."""
    disk_size_gb: int = Field(100, ge=20, le=65536)
    """Boot disk size in GB (at least 20; images and models are cached here). Defaults to 100."""
    disk_type: Literal["pd-balanced", "pd-ssd", "pd-standard", "pd-extreme", "hyperdisk-balanced"] = "pd-balanced"
    """Boot disk type; the machine family decides which it takes (C4, N4 and other new families
    take only hyperdisk-balanced; E2, N1, N2 only Persistent Disk). Defaults to pd-balanced."""
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
    """Extra nodes created during an upgrade (not on flex-start pools). Defaults to 1."""
    max_unavailable: int = Field(0, ge=0, le=100)
    """Nodes that may be down at once during an upgrade (not on flex-start pools). Defaults to 0."""
    flex_start: bool = False
    """Provision GPU nodes with flex-start (Dynamic Workload Scheduler): a pending pod's nodes are
    created when capacity frees up, at a discount, for at most 7 days each; for batch work that
    can wait. Needs a GPU, on-demand (not spot), autoscaling.min 0; GKE 1.32.2 or later.
    Defaults to false."""
    max_run_hours: Optional[int] = Field(None, ge=1, le=168)
    """With flexStart: hours a node runs before GKE removes it (at most 168). Defaults to 168."""
    queued_provisioning: bool = False
    """With flexStart: queued provisioning (Dynamic Workload Scheduler's ProvisioningRequest API):
    the pool's nodes are created only for a job that asks for them (`jobs[].queued.pool`), all of
    a job's nodes at once when capacity for all of them frees up, and removed when it ends or its
    `queued.maxRunHours` run out; no other pod lands there. Defaults to false."""
    local_ssd: Optional[LocalSsdSpec] = None
    """Local SSDs on every node (ephemeral storage or raw block). Defaults to none."""
    network_tags: list[str] = []
    """Compute Engine network tags on the nodes, for firewall rules of your own. Defaults to none."""
    service_account: Optional[str] = None
    """The nodes' Google service account: `dedicated` (one of the pool's own, with the node roles
    only), or the email of an existing account. Defaults to the cluster's shared node account."""

    def issues(self, ctx: Context) -> list[Issue]:
        return node_pool_issues(self, ctx.region)


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


def node_pool_issues(spec: "NodePoolSpec", region: str) -> list[Issue]:
    issues: list[Issue] = []
    scaling = spec.autoscaling
    if scaling.min > scaling.max:
        issues.append(Issue(("autoscaling", "max"), f"is below autoscaling.min ({scaling.min})", scaling.max,
                            fix=f"set max to at least {scaling.min}, or lower min"))
    if spec.max_surge + spec.max_unavailable == 0 and not spec.flex_start:
        issues.append(Issue(("maxSurge",), "maxSurge and maxUnavailable are both 0: an upgrade could never replace a node",
                            0, fix="set maxSurge to 1 (or maxUnavailable to 1 when quota is tight)"))
    for i, zone in enumerate(spec.zones):
        issues += zone_issues(zone, region, key=("zones", i))

    machine = machine_type_issues(spec.machine_type)
    issues += machine
    if not machine:
        issues += disk_type_issues(spec.disk_type, spec.machine_type)
    if spec.machine_type in gpus.SPOT_ONLY_MACHINE_TYPES and not spec.spot:
        issues.append(Issue(("spot",), f"{spec.machine_type} is sold only as Spot VMs", False,
                            fix="set `spot: true`, or use a3-highgpu-8g"))
    if spec.gpu is not None and not machine:
        g = spec.gpu
        issues += gpus.gpu_issues(g.type, g.count, spec.machine_type, region, g.partition_size,
                                  (g.sharing.strategy, g.sharing.max_shared_clients) if g.sharing else None)

    issues += _capacity_issues(spec, machine)
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


_NETWORK_TAG = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_ACCOUNT_EMAIL = re.compile(SERVICE_ACCOUNT_EMAIL)


def _capacity_issues(spec: "NodePoolSpec", machine_issues: list) -> list[Issue]:
    """Flex-start, local SSDs, tags and the pool's account, as GKE would refuse them."""
    issues: list[Issue] = []
    if spec.flex_start:
        if spec.gpu is None:
            issues.append(Issue(("flexStart",), "provisions accelerator nodes; this pool has no GPU", True,
                                fix="add gpu, or remove flexStart"))
        if spec.spot:
            issues.append(Issue(("flexStart",), "and spot are two provisioning models; a pool has one", True,
                                fix="remove spot (flex-start is discounted too), or flexStart"))
        if spec.autoscaling.min != 0:
            issues.append(Issue(("autoscaling", "min"), "must be 0 on a flex-start pool: nodes exist only while "
                                "pods wait for them", spec.autoscaling.min, fix="set min: 0"))
        for key in ("max_surge", "max_unavailable"):
            if key in spec.model_fields_set:
                name = "maxSurge" if key == "max_surge" else "maxUnavailable"
                issues.append(Issue((name,), "does not apply to a flex-start pool: GKE upgrades its nodes with "
                                    "short-lived upgrades (each is replaced when it is next created)",
                                    getattr(spec, key), fix=f"remove {name}"))
    elif spec.max_run_hours is not None:
        issues.append(Issue(("maxRunHours",), "applies to flex-start nodes", spec.max_run_hours,
                            fix="add flexStart: true, or remove maxRunHours"))
    if spec.queued_provisioning:
        # GKE documents queued pools as flex-start pools (`--flex-start --enable-queued-provisioning`),
        # which brings flex-start's rules: a GPU, on demand, from 0, no reservation, no auto-repair.
        if not spec.flex_start:
            issues.append(Issue(("queuedProvisioning",), "provisions flex-start capacity: GKE creates a queued pool "
                                "as a flex-start pool", True, fix="add flexStart: true"))
        if spec.max_run_hours is not None:
            issues.append(Issue(("maxRunHours",), "a queued pool's nodes run as long as the job's ProvisioningRequest "
                                "asks", spec.max_run_hours,
                                fix="remove it, and set `queued: {maxRunHours}` on the job instead"))
    if spec.local_ssd is not None and not machine_issues and spec.machine_type.startswith(("e2-", "t2a-", "t2d-")):
        issues.append(Issue(("localSsd",), f"{spec.machine_type.split('-')[0].upper()} machine types take no local SSD",
                            spec.machine_type, fix="use an N2, C3, G2 or A2/A3 machine type, or remove localSsd"))
    for i, tag in enumerate(spec.network_tags):
        if not _NETWORK_TAG.match(tag):
            issues.append(Issue(("networkTags", i), "is not a network tag", tag,
                                allowed="1-63 lowercase letters, digits and hyphens, starting with a letter",
                                fix="rename it"))
    account = spec.service_account
    if account is not None and account != "dedicated" and not _ACCOUNT_EMAIL.match(account):
        issues.append(Issue(("serviceAccount",), "is neither `dedicated` nor a service account's email", account,
                            allowed="dedicated, or <name>@<project>.iam.gserviceaccount.com",
                            fix="write `dedicated` for an account of the pool's own"))
    return issues


def resource_name_issues(path: tuple, resource_name: str, what: str) -> list[Issue]:
    """A GKE name Pulumi derives from `resource_name` must fit GKE's 40 characters."""
    room = GKE_NAME_MAX - AUTONAME_SUFFIX
    if len(resource_name) <= room:
        return []
    return [Issue(path, f"the {what} would be named {resource_name}-xxxxxxx, over GKE's {GKE_NAME_MAX} characters",
                  resource_name, allowed=f"a resource name of at most {room} characters",
                  fix=f"shorten it by {len(resource_name) - room} characters")]


def pool_taints(spec: "NodePoolSpec") -> list[TaintSpec]:
    """The declared taints, then GKE's GPU taint, the spot taint and GKE's queued taint, each
    (key, effect) once.

    GKE adds `nvidia.com/gpu=present:NoSchedule` to GPU nodes itself, but not always: it skips
    it when every pool of the cluster is a GPU pool at creation, which `remove_default_node_pool`
    can make true for a moment (terraform-google-kubernetes-engine#703). Declaring it guarantees
    the isolation and keeps plans free of a diff that never goes away. GKE labels spot nodes
    `cloud.google.com/gke-spot=true` but does not taint them: the taint keeps workloads that
    cannot stand being reclaimed off spot nodes unless they tolerate it. Queued nodes carry
    `cloud.google.com/gke-queued=true:NoSchedule`, which the pods of a ProvisioningRequest
    tolerate; declared like the GPU taint.
    """
    taints = list(spec.taints)
    if spec.gpu is not None:
        taints.append(TaintSpec(key=GPU_TAINT[0], value=GPU_TAINT[1], effect=GPU_TAINT[2]))
    if spec.spot:
        taints.append(TaintSpec(key=SPOT_TAINT[0], value=SPOT_TAINT[1], effect=SPOT_TAINT[2]))
    if spec.queued_provisioning:
        taints.append(TaintSpec(key=QUEUED_TAINT[0], value=QUEUED_TAINT[1], effect=QUEUED_TAINT[2]))
    seen: set[tuple[str, str]] = set()
    out = []
    for taint in taints:
        if (taint.key, taint.effect) not in seen:
            seen.add((taint.key, taint.effect))
            out.append(taint)
    return out


def location_policy(spec: "NodePoolSpec") -> str:
    """ANY for spot and flex-start (scale up wherever capacity is), BALANCED otherwise."""
    return "ANY" if spec.spot or spec.flex_start else "BALANCED"


def pool_labels(spec: "NodePoolSpec") -> dict[str, str]:
    return {**spec.labels, POOL_LABEL: spec.name}
