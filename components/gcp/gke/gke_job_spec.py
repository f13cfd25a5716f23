"""A batch job on GKE as the stack file says it (`platform: gke`): the Kubernetes job spec, on
the stack's cluster."""

from __future__ import annotations

from typing import Literal

from components.kubernetes.batch import KubernetesJobSpec


class GkeJobSpec(KubernetesJobSpec):
    """One batch job on GKE."""

    platform: Literal["gke"] = "gke"
    """Where it runs: gke, a Job or CronJob on the stack's cluster (the kubernetes and hybrid patterns' default)."""
