"""An EKS managed node group as the stack file says it (`cluster.nodePools[]`), and the rules
EC2 and EKS would otherwise report at apply time: instance types against the GPU asked for,
spot with a single instance type, autoscaling bounds (no Pulumi)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from components.aws.eks.instance_types import GPUS, INSTANCE_TYPE, gpus_of, instance_types_with, mixed_architecture_issue
from components.core.issues import Issue
from components.core.naming import DNS_LABEL
from components.core.spec import Context, Spec


class EksNodeGpuSpec(Spec):
    """The NVIDIA GPUs every node of the group carries."""

    type: str = Field(pattern=r"^nvidia-[a-z0-9-]+$")
    """GPU type: nvidia-t4 (g4dn), nvidia-a10g (g5), nvidia-l4 (g6), nvidia-l40s (g6e),
    nvidia-a100 (p4d), nvidia-a100-80gb (p4de) or nvidia-h100 (p5). Required."""
    count: int = Field(1, ge=1, le=16)
    """GPUs per node; every instance type must carry exactly this many. Defaults to 1."""


class EksTaintSpec(Spec):
    """A node taint, as EKS writes it."""

    key: str = Field(pattern=r"^([a-z0-9.-]+/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
    """Taint key, e.g. dedicated. Required."""
    value: str = ""
    """Taint value. Defaults to empty."""
    effect: Literal["NO_SCHEDULE", "PREFER_NO_SCHEDULE", "NO_EXECUTE"] = "NO_SCHEDULE"
    """NO_SCHEDULE, PREFER_NO_SCHEDULE or NO_EXECUTE. Defaults to NO_SCHEDULE."""


class EksAutoscalingSpec(Spec):
    """The node group's bounds; the cluster autoscaler (or Karpenter) picks the size between them."""

    min: int = Field(1, ge=0, le=1000)
    """Fewest nodes (a node group's; Karpenter keeps no minimum, so leave it out there). Defaults to 1."""
    max: int = Field(3, ge=1, le=1000)
    """Most nodes. Defaults to 3."""


class EksNodePoolSpec(Spec):
    """One EKS managed node group."""

    name: str = Field(pattern=DNS_LABEL, max_length=30)
    """Node group name: lowercase letters, digits and hyphens, at most 30. Required."""
    instance_types: list[str] = ["m6i.xlarge"]
    """EC2 instance types, e.g. [m6i.2xlarge] or, for spot, several of the same size
    ([g6.2xlarge, g5.2xlarge]); all x86_64 or all Graviton (m7g.xlarge: the arm64 AMI, for
    images built for arm64). Defaults to [m6i.xlarge]."""
    disk_size_gb: int = Field(100, ge=20, le=16384)
    """Root volume (gp3, encrypted) in GiB. Defaults to 100."""
    spot: bool = False
    """Spot capacity: tainted so only work that tolerates reclaims lands there; needs at least two
    instance types. Defaults to false."""
    on_demand_fallback: bool = False
    """With spot and Karpenter: one pool of spot and on-demand nodes (Karpenter launches spot first
    and on-demand when spot runs out; not tainted, the workloads' placement keeps `never` off
    spot). Defaults to false."""
    gpu: Optional[EksNodeGpuSpec] = None
    """The NVIDIA GPUs of each node (AMI AL2023_x86_64_NVIDIA, tainted nvidia.com/gpu). Defaults to none."""
    autoscaling: EksAutoscalingSpec = EksAutoscalingSpec()
    """Node count bounds (the desired size is left to the autoscaler)."""
    labels: dict[str, str] = {}
    """Kubernetes labels on every node. Defaults to none."""
    taints: list[EksTaintSpec] = []
    """Extra taints (the spot and GPU taints are added for you). Defaults to none."""
    max_unavailable: int = Field(1, ge=1, le=100)
    """Nodes replaced at once during an update. Defaults to 1."""

    def issues(self, ctx: Context) -> list[Issue]:
        return node_pool_issues(self)


def node_pool_issues(pool: EksNodePoolSpec) -> list[Issue]:
    issues: list[Issue] = []
    if not pool.instance_types:
        issues.append(Issue(("instanceTypes",), "needs at least one instance type", [], fix="add e.g. [m6i.xlarge]"))
    bad = [t for t in pool.instance_types if not INSTANCE_TYPE.match(t)]
    for t in bad:
        issues.append(Issue(("instanceTypes",), "is not an EC2 instance type", t,
                            allowed="<family>.<size>, e.g. m6i.xlarge, g6.2xlarge", fix="write the type as EC2 names it"))
    if len(set(pool.instance_types)) != len(pool.instance_types):
        issues.append(Issue(("instanceTypes",), "lists an instance type twice", pool.instance_types, fix="remove the duplicate"))
    if pool.spot and len(set(pool.instance_types)) < 2:
        issues.append(Issue(("instanceTypes",), "a spot node group needs at least two instance types: one type's spot "
                            "capacity runs out on its own", pool.instance_types,
                            allowed="two or more types of the same size, e.g. [g6.2xlarge, g5.2xlarge]",
                            fix="add another instance type with the same GPUs and size"))
    if pool.on_demand_fallback and not pool.spot:
        issues.append(Issue(("onDemandFallback",), "falls back from spot, and the pool is not spot", True,
                            fix="set spot: true, or remove onDemandFallback (the pool is on-demand already)"))
    good = [t for t in pool.instance_types if t not in bad]
    issues += mixed_architecture_issue(good, ("instanceTypes",))
    if pool.gpu is None:
        for t in good:
            carried = gpus_of(t)
            if carried:
                issues.append(Issue(("instanceTypes",), f"{t} carries {carried[1]} {carried[0]} GPU(s), but the pool "
                                    "declares no gpu", t, fix=f"add `gpu: {{type: {carried[0]}, count: {carried[1]}}}`"))
    elif pool.gpu.type not in GPUS:
        issues.append(Issue(("gpu", "type"), "is not a GPU of an EKS-supported instance family", pool.gpu.type,
                            allowed=", ".join(GPUS), fix="use one of the allowed types"))
    else:
        want = (pool.gpu.type, pool.gpu.count)
        fitting = instance_types_with(*want)
        for t in good:
            if gpus_of(t) != want:
                carried = gpus_of(t)
                what = f"{carried[1]} {carried[0]}" if carried else "no"
                issues.append(Issue(("instanceTypes",), f"{t} carries {what} GPU(s), not {want[1]} {want[0]}", t,
                                    allowed=", ".join(fitting) or f"no instance type carries {want[1]} {want[0]}",
                                    fix=f"use an instance type with {want[1]} {want[0]} GPU(s)"))
    if pool.autoscaling.min > pool.autoscaling.max:
        issues.append(Issue(("autoscaling", "max"), f"is below min ({pool.autoscaling.min})", pool.autoscaling.max,
                            fix=f"set max to at least {pool.autoscaling.min}"))
    return issues
