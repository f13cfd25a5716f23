"""An EKS cluster as the stack file says it (`mlinfra:cluster` on AWS), and the rules EKS would
otherwise enforce at apply time: endpoint access, versions, node group names (no Pulumi)."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field

from components.aws.eks.karpenter_spec import KarpenterSpec, karpenter_pool_issues
from components.aws.eks.node_group_spec import EksNodePoolSpec
from components.core.issues import Issue, duplicate_names
from components.core.spec import Context, Spec

# EKS versions in standard support when this was written (https://docs.aws.amazon.com/eks/latest/
# userguide/kubernetes-versions.html); manifests are validated against the cluster's version.
VERSIONS = ("1.33", "1.34", "1.35")
DEFAULT_VERSION = "1.34"
LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
# The managed add-ons every mlinfra cluster runs (and amazon-cloudwatch-observability with GPU metrics).
ADDONS = ("vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", "eks-pod-identity-agent")
# Karpenter's controller runs on this managed node group.
SYSTEM_POOL = "system"


class EksClusterSpec(Spec):
    """The EKS cluster and its managed node groups."""

    version: Literal[VERSIONS] = DEFAULT_VERSION
    """Kubernetes version (EKS standard support). Defaults to 1.34."""
    endpoint_public_access: bool = False
    """Expose the API server endpoint publicly, to publicAccessCidrs only. Defaults to false (private endpoint)."""
    public_access_cidrs: list[str] = []
    """CIDR blocks allowed to the public endpoint (never 0.0.0.0/0). Defaults to none."""
    log_types: list[Literal[LOG_TYPES]] = list(LOG_TYPES)
    """Control-plane logs sent to CloudWatch. Defaults to all five: api, audit, authenticator, controllerManager, scheduler."""
    log_retention_days: int = Field(90, ge=1, le=3653)
    """Days CloudWatch keeps the control-plane logs. Defaults to 90."""
    admins: list[str] = []
    """IAM role or user ARNs given cluster-admin through access entries. Defaults to none (the
    identity running `pulumi up` is bootstrapped as admin)."""
    node_pools: list[EksNodePoolSpec] = []
    """Node pools: CPU, GPU and spot (managed node groups, or Karpenter NodePools)."""
    autoscaler: Literal["cluster-autoscaler", "karpenter"] = "cluster-autoscaler"
    """Who sizes the nodes: cluster-autoscaler (one managed node group per pool, sized between
    min and max) or karpenter (one NodePool per pool, nodes launched for pending pods, spot
    interruptions drained through an SQS queue). Defaults to cluster-autoscaler."""
    karpenter: KarpenterSpec = KarpenterSpec()
    """Karpenter's settings (with autoscaler: karpenter)."""

    def issues(self, ctx: Context) -> list[Issue]:
        issues: list[Issue] = []
        if self.endpoint_public_access and not self.public_access_cidrs:
            issues.append(Issue(("publicAccessCidrs",), "a public endpoint needs the networks allowed to reach it",
                                [], fix="list your networks, e.g. [203.0.113.0/24], or set endpointPublicAccess: false"))
        if self.public_access_cidrs and not self.endpoint_public_access:
            issues.append(Issue(("publicAccessCidrs",), "has no effect on a private endpoint", self.public_access_cidrs,
                                fix="remove it, or set endpointPublicAccess: true"))
        for i, cidr in enumerate(self.public_access_cidrs):
            try:
                net = ipaddress.IPv4Network(cidr, strict=True)
            except ValueError:
                issues.append(Issue(("publicAccessCidrs", i), "is not an IPv4 CIDR block", cidr, fix="write e.g. 203.0.113.0/24"))
                continue
            if net.prefixlen == 0:
                issues.append(Issue(("publicAccessCidrs", i), "opens the API server to the whole internet", cidr,
                                    fix="list your own networks only"))
        for i, arn in enumerate(self.admins):
            if not arn.startswith("arn:aws:iam::") or (":role/" not in arn and ":user/" not in arn):
                issues.append(Issue(("admins", i), "is not an IAM role or user ARN", arn,
                                    allowed="arn:aws:iam::<account>:role/<name>", fix="write the principal's ARN"))
        if not self.node_pools:
            issues.append(Issue(("nodePools",), "needs at least one node group", [], fix="add a node pool, e.g. {name: general}"))
        issues += duplicate_names("nodePools", [p.name for p in self.node_pools])
        if self.autoscaler == "karpenter":
            for i, pool in enumerate(self.node_pools):
                issues += [issue.under("nodePools", i) for issue in karpenter_pool_issues(pool)]
                if pool.name == SYSTEM_POOL:
                    issues.append(Issue(("nodePools", i, "name"), "is the name of Karpenter's own managed node group",
                                        pool.name, fix="rename the pool"))
        else:
            if "karpenter" in self.model_fields_set:
                issues.append(Issue(("karpenter",), "has no effect: the autoscaler is cluster-autoscaler",
                                    fix="set autoscaler: karpenter, or remove karpenter"))
            for i, pool in enumerate(self.node_pools):
                if pool.on_demand_fallback:
                    issues.append(Issue(("nodePools", i, "onDemandFallback"), "needs Karpenter: a managed node group "
                                        "is either spot or on-demand", True,
                                        fix="set autoscaler: karpenter, or add an on-demand pool beside the spot one"))
        return issues


def offered_gpus(cluster: EksClusterSpec) -> set[str]:
    return {p.gpu.type for p in cluster.node_pools if p.gpu is not None}


def spot_pools(cluster: EksClusterSpec) -> list[EksNodePoolSpec]:
    return [p for p in cluster.node_pools if p.spot]
