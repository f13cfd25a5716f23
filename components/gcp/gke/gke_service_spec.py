"""A model server on GKE as the stack file says it (`platform: gke`): the Kubernetes serving
spec, placed on the stack's GKE cluster."""

from __future__ import annotations

from typing import Literal

from components.kubernetes.serving import KubernetesServingSpec


class GkeServiceSpec(KubernetesServingSpec):
    """One model server on GKE."""

    platform: Literal["gke"] = "gke"
    """Where it runs: gke (the kubernetes pattern's default)."""
