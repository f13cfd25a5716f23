"""How EKS marks its nodes, and what mlinfra's EKS node groups add: plain data, no Pulumi.

Managed node groups label every node `eks.amazonaws.com/capacityType=ON_DEMAND|SPOT`;
mlinfra's spot node groups also carry the taint `eks.amazonaws.com/capacityType=SPOT:NoSchedule`,
and its GPU node groups the label `mlinfra.dev/accelerator=<gpu type>` and the taint
`nvidia.com/gpu=present:NoSchedule` (EKS writes taint effects as NO_SCHEDULE).
"""

from __future__ import annotations

from components.kubernetes.pods import GPU_RESOURCE, NodeScheme

CAPACITY_LABEL = "eks.amazonaws.com/capacityType"
ACCELERATOR_LABEL = "mlinfra.dev/accelerator"
SPOT_TAINT = (CAPACITY_LABEL, "SPOT", "NO_SCHEDULE")
GPU_TAINT = (GPU_RESOURCE, "present", "NO_SCHEDULE")
EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
EKS_NODES = NodeScheme(spot_label=CAPACITY_LABEL, spot_value="SPOT", accelerator_label=ACCELERATOR_LABEL)

# Karpenter labels its nodes `karpenter.sh/capacity-type=spot|on-demand` (and `karpenter.sh/nodepool`);
# mlinfra's spot-only NodePools carry the taint `karpenter.sh/capacity-type=spot:NoSchedule`.
KARPENTER_CAPACITY_LABEL = "karpenter.sh/capacity-type"
KARPENTER_SPOT_TAINT = (KARPENTER_CAPACITY_LABEL, "spot", "NO_SCHEDULE")
KARPENTER_NODES = NodeScheme(spot_label=KARPENTER_CAPACITY_LABEL, spot_value="spot", accelerator_label=ACCELERATOR_LABEL)
