"""A batch job on GKE as the stack file says it: the Kubernetes job spec, on the stack's cluster."""

from __future__ import annotations

from components.kubernetes.batch import KubernetesJobSpec


class GkeJobSpec(KubernetesJobSpec):
    """One batch job on GKE."""
