"""The EC2NodeClass and NodePools Karpenter launches nodes from, as the v1 APIs write them
(karpenter.k8s.aws/v1, karpenter.sh/v1): plain functions returning Kubernetes API dicts.

- One EC2NodeClass: the EKS-optimized AL2023 AMIs by alias (`al2023@<version>`; Karpenter
  resolves the standard, NVIDIA and Neuron variants from SSM and gives GPU instance types the
  NVIDIA one), IMDSv2 only with a hop limit of 1 (pods cannot reach the node's credentials),
  an encrypted gp3 root volume, subnets and security groups found by the discovery tag, the
  node role, and the stack's tags on every instance.
- One NodePool per stack pool: its instance types (checked against its GPU), its capacity
  types (spot, on-demand, or both), the GPU taint and label, the spot taint on spot-only pools,
  expiry, consolidation when empty or underutilized within a disruption budget, and limits
  from the pool's max (nodes, and GPUs).
"""

from __future__ import annotations

from typing import Mapping

from components.aws.eks.eks_node_group import node_labels
from components.aws.eks.karpenter_spec import KarpenterSpec
from components.aws.eks.node_group_spec import EksNodePoolSpec
from components.aws.eks.node_labels import EFFECTS, GPU_TAINT, KARPENTER_CAPACITY_LABEL, KARPENTER_SPOT_TAINT
from components.kubernetes.pods import GPU_RESOURCE

NODE_CLASS = "mlinfra"
DISCOVERY_TAG = "karpenter.sh/discovery"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
# Tag keys an EC2NodeClass refuses (Karpenter sets them itself).
RESTRICTED_TAGS = ("eks:eks-cluster-name", "karpenter.sh/nodepool", "karpenter.sh/nodeclaim",
                   "karpenter.k8s.aws/ec2nodeclass")


def capacity_types(pool: EksNodePoolSpec) -> list[str]:
    if not pool.spot:
        return ["on-demand"]
    return ["spot", "on-demand"] if pool.on_demand_fallback else ["spot"]


def pool_taints(pool: EksNodePoolSpec) -> list[dict[str, str]]:
    """The pool's own taints, the GPU taint, and the spot taint when every node is spot."""
    taints = [(t.key, t.value, t.effect) for t in pool.taints]
    if pool.gpu is not None:
        taints.append(GPU_TAINT)
    if capacity_types(pool) == ["spot"]:
        taints.append(KARPENTER_SPOT_TAINT)
    return [{"key": k, **({"value": v} if v else {}), "effect": EFFECTS[e]} for k, v, e in taints]


def node_pool(pool: EksNodePoolSpec, settings: KarpenterSpec) -> dict:
    limits = {"nodes": str(pool.autoscaling.max)}
    if pool.gpu is not None:
        limits[GPU_RESOURCE] = str(pool.autoscaling.max * pool.gpu.count)
    return {
        "apiVersion": "karpenter.sh/v1", "kind": "NodePool",
        "metadata": {"name": pool.name, "labels": {"app.kubernetes.io/part-of": "mlinfra"}},
        "spec": {
            "template": {
                "metadata": {"labels": node_labels(pool)},
                "spec": {
                    "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": NODE_CLASS},
                    "requirements": [
                        {"key": KARPENTER_CAPACITY_LABEL, "operator": "In", "values": capacity_types(pool)},
                        {"key": INSTANCE_TYPE_LABEL, "operator": "In", "values": list(pool.instance_types)},
                    ],
                    **({"taints": pool_taints(pool)} if pool_taints(pool) else {}),
                    "expireAfter": settings.expire_after,
                },
            },
            "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized",
                           "consolidateAfter": settings.consolidate_after,
                           "budgets": [{"nodes": settings.disruption_budget}]},
            "limits": limits,
        },
    }


def node_class(cluster: str, node_role: str, disk_size_gb: int, settings: KarpenterSpec,
               tags: Mapping[str, str]) -> dict:
    selector = [{"tags": {DISCOVERY_TAG: cluster}}]
    return {
        "apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass",
        "metadata": {"name": NODE_CLASS, "labels": {"app.kubernetes.io/part-of": "mlinfra"}},
        "spec": {
            "role": node_role,
            "amiSelectorTerms": [{"alias": f"al2023@{settings.ami_version}"}],
            "subnetSelectorTerms": selector,
            "securityGroupSelectorTerms": selector,
            "metadataOptions": {"httpEndpoint": "enabled", "httpProtocolIPv6": "disabled",
                                "httpPutResponseHopLimit": 1, "httpTokens": "required"},
            "blockDeviceMappings": [{"deviceName": "/dev/xvda", "rootVolume": True, "ebs": {
                "volumeSize": f"{disk_size_gb}Gi", "volumeType": "gp3", "encrypted": True, "deleteOnTermination": True}}],
            "tags": {k: v for k, v in tags.items() if k not in RESTRICTED_TAGS and not k.startswith("kubernetes.io/cluster")},
        },
    }
