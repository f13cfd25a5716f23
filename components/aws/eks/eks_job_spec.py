"""A batch job on EKS as the stack file says it: the Kubernetes job spec, on the stack's cluster."""

from __future__ import annotations

from components.kubernetes.batch import KubernetesJobSpec


class EksJobSpec(KubernetesJobSpec):
    """One batch job on EKS."""
