"""The pattern registry: what each pattern allows in a stack file and what builds it.

Builders are named as `module:function` and imported only when their pattern is selected, so
a stack pays the import cost of its own pattern's providers and no other's.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Optional


@dataclass(frozen=True)
class Pattern:
    name: str
    summary: str
    sections: frozenset[str]
    builder: Optional[str]
    """`module:function` taking the validated StackConfig; None while the pattern is not built."""
    providers: frozenset[str]
    """Provider submodules the pattern may import (checked by the tests and the benchmark)."""
    tracking_issue: Optional[str] = None

    @property
    def built(self) -> bool:
        return self.builder is not None

    def load(self) -> Callable:
        module, function = self.builder.split(":")
        return getattr(importlib.import_module(module), function)


PATTERNS: dict[str, Pattern] = {
    "serverless": Pattern(
        "serverless",
        "Cloud Run model servers (GPU optional) and Cloud Functions triggers; scales to zero.",
        frozenset({"services", "triggers"}),
        "infra.build:serverless",
        frozenset({"pulumi_gcp.artifactregistry", "pulumi_gcp.cloudfunctionsv2", "pulumi_gcp.cloudrunv2",
                   "pulumi_gcp.cloudscheduler", "pulumi_gcp.compute", "pulumi_gcp.projects", "pulumi_gcp.pubsub",
                   "pulumi_gcp.secretmanager", "pulumi_gcp.serviceaccount", "pulumi_gcp.storage"}),
    ),
    "kubernetes": Pattern(
        "kubernetes",
        "GKE with CPU, GPU and spot node pools, autoscalers, model servers and jobs.",
        frozenset({"cluster", "services", "jobs", "triggers"}),
        "infra.build:kubernetes",
        frozenset({"pulumi_gcp.artifactregistry", "pulumi_gcp.cloudfunctionsv2", "pulumi_gcp.cloudrunv2",
                   "pulumi_gcp.cloudscheduler", "pulumi_gcp.compute", "pulumi_gcp.container", "pulumi_gcp.projects",
                   "pulumi_gcp.pubsub", "pulumi_gcp.secretmanager", "pulumi_gcp.serviceaccount", "pulumi_gcp.storage",
                   "pulumi_kubernetes.apiextensions", "pulumi_kubernetes.apiregistration", "pulumi_kubernetes.apps",
                   "pulumi_kubernetes.autoscaling", "pulumi_kubernetes.batch", "pulumi_kubernetes.core",
                   "pulumi_kubernetes.meta", "pulumi_kubernetes.networking", "pulumi_kubernetes.policy",
                   "pulumi_kubernetes.rbac"}),
    ),
    "dataflow": Pattern(
        "dataflow",
        "Batch and streaming Dataflow pipelines with their Pub/Sub topics, buckets and sinks.",
        frozenset({"pipelines", "triggers"}), None, frozenset(),
        tracking_issue="a later issue",
    ),
    "hybrid": Pattern(
        "hybrid",
        "A real-time path (services) beside a batch path (jobs, pipelines), wired by triggers.",
        frozenset({"cluster", "services", "jobs", "pipelines", "triggers"}), None, frozenset(),
        tracking_issue="a later issue",
    ),
}

# Every section some pattern allows; each pattern allows a subset.
OPTIONAL_SECTIONS = ("cluster", "services", "jobs", "pipelines", "triggers")


def patterns_allowing(section: str) -> list[str]:
    return [p.name for p in PATTERNS.values() if section in p.sections]
