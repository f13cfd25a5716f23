"""Karpenter as the stack file says it (`cluster.autoscaler: karpenter`, `cluster.karpenter`),
and the rules a Karpenter cluster's node pools are held to (no Pulumi).

Karpenter launches nodes for pending pods from NodePools; it keeps no minimum and no desired
size, so a pool's `autoscaling.min` means nothing to it and is refused when set above 0. Its
own controller runs on a small managed node group (`systemNodes`), never on nodes it manages.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import Field

from components.aws.eks.instance_types import INSTANCE_TYPE, gpus_of, mixed_architecture_issue
from components.core.issues import Issue
from components.core.spec import Context, Spec

if TYPE_CHECKING:
    from components.aws.eks.node_group_spec import EksNodePoolSpec

# The chart (oci://public.ecr.aws/karpenter/karpenter) and its CRDs' chart, at the release
# github.com/aws/karpenter-provider-aws tags v1.14.1 (charts/karpenter/Chart.yaml).
DEFAULT_VERSION = "1.14.1"
DURATION = r"^([0-9]+(s|m|h))+$"
BUDGET = re.compile(r"^((100|[0-9]{1,2})%|[0-9]+)$")


class KarpenterSystemNodesSpec(Spec):
    """The managed node group Karpenter's controller (and CoreDNS) run on."""

    instance_types: list[str] = ["m6i.large"]
    """EC2 instance types of the system nodes (no GPU). Defaults to [m6i.large]."""
    count: int = Field(2, ge=2, le=10)
    """System nodes, spread over the zones (the controller runs 2 replicas on different nodes). Defaults to 2."""


class KarpenterSpec(Spec):
    """Karpenter's settings: chart version, node expiry, consolidation and its budget."""

    version: str = Field(DEFAULT_VERSION, pattern=r"^1\.[0-9]+\.[0-9]+$")
    """Karpenter's Helm chart version (and its CRDs' chart). Defaults to 1.14.1."""
    ami_version: str = Field("latest", pattern=r"^(latest|v[0-9]{8})$")
    """The EKS-optimized AL2023 AMI release (`al2023@<version>`): latest, or a release tag of
    awslabs/amazon-eks-ami (vYYYYMMDD) to pin it (a new release then rolls the nodes only when you
    change this). Defaults to latest."""
    expire_after: str = Field("720h", pattern=DURATION)
    """A node's maximum age before Karpenter replaces it (picks up new AMIs and patches). Defaults to 720h (30 days)."""
    consolidate_after: str = Field("5m", pattern=DURATION)
    """How long a node must be empty or underutilized before Karpenter consolidates it. Defaults to 5m."""
    disruption_budget: str = "10%"
    """Nodes of a pool Karpenter may disrupt at once (consolidation, expiry, drift): a count or a
    percentage. Defaults to 10%."""
    system_nodes: KarpenterSystemNodesSpec = KarpenterSystemNodesSpec()
    """The managed node group Karpenter's controller runs on."""

    def issues(self, ctx: Context) -> list[Issue]:
        issues: list[Issue] = []
        if not BUDGET.match(self.disruption_budget):
            issues.append(Issue(("disruptionBudget",), "is not a node count or percentage", self.disruption_budget,
                                allowed="e.g. 1, 2, 10%, 100%", fix="write a count or a percentage"))
        for t in self.system_nodes.instance_types:
            if not INSTANCE_TYPE.match(t):
                issues.append(Issue(("systemNodes", "instanceTypes"), "is not an EC2 instance type", t,
                                    allowed="<family>.<size>, e.g. m6i.large", fix="write the type as EC2 names it"))
            elif gpus_of(t):
                issues.append(Issue(("systemNodes", "instanceTypes"), "carries GPUs: the system nodes run controllers",
                                    t, fix="use a CPU type, e.g. m6i.large"))
        issues += mixed_architecture_issue([t for t in self.system_nodes.instance_types if INSTANCE_TYPE.match(t)],
                                           ("systemNodes", "instanceTypes"))
        if not self.system_nodes.instance_types:
            issues.append(Issue(("systemNodes", "instanceTypes"), "needs at least one instance type", [],
                                fix="add e.g. [m6i.large]"))
        return issues


def karpenter_pool_issues(pool: "EksNodePoolSpec") -> list[Issue]:
    """A pool Karpenter manages: no minimum size, no node-group update settings."""
    issues: list[Issue] = []
    if "min" in pool.autoscaling.model_fields_set and pool.autoscaling.min > 0:
        issues.append(Issue(("autoscaling", "min"), "Karpenter keeps no minimum or desired size: nodes follow the "
                            "pending pods", pool.autoscaling.min, allowed="0",
                            fix="remove min (keep max, the pool's node limit), or use autoscaler: cluster-autoscaler"))
    if "max_unavailable" in pool.model_fields_set:
        issues.append(Issue(("maxUnavailable",), "is a managed node group's update setting; Karpenter replaces nodes "
                            "within the cluster's karpenter.disruptionBudget", pool.max_unavailable,
                            fix="remove it and set cluster.karpenter.disruptionBudget"))
    return issues
