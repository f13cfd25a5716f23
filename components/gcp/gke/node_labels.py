"""How GKE marks its nodes, and what mlinfra's GKE node pools add: plain data, no Pulumi.

Spot nodes carry the label `cloud.google.com/gke-spot=true` and, in mlinfra's spot pools, the
taint `cloud.google.com/gke-spot=true:NoSchedule`; GPU nodes carry
`cloud.google.com/gke-accelerator=<type>` and the taint `nvidia.com/gpu=present:NoSchedule`;
nodes of a queued-provisioning pool the taint `cloud.google.com/gke-queued=true:NoSchedule`.
Every node carries its GKE pool's name as `cloud.google.com/gke-nodepool`.
"""

from __future__ import annotations

from components.kubernetes.pods import GPU_RESOURCE, NodeScheme

ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"
SPOT_LABEL = "cloud.google.com/gke-spot"
PREEMPTIBLE_LABEL = "cloud.google.com/gke-preemptible"
SPOT_TAINT = (SPOT_LABEL, "true", "NoSchedule")
GPU_TAINT = (GPU_RESOURCE, "present", "NoSchedule")
QUEUED_TAINT = ("cloud.google.com/gke-queued", "true", "NoSchedule")
NODE_POOL_LABEL = "cloud.google.com/gke-nodepool"
GKE_NODES = NodeScheme(spot_label=SPOT_LABEL, spot_value="true", accelerator_label=ACCELERATOR_LABEL,
                       reclaimable_labels=(PREEMPTIBLE_LABEL,))
