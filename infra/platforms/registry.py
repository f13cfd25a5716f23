"""The platform registry: where a service or a job may run, its stack-file spec, and what builds it.

The service union of the stack-file schema, the tags error messages list, each pattern's
default platform and the dispatch that builds every service all derive from this table, so a
new platform is one entry here and one folder of components. Specs are named `module:Class`
and live in modules that import no provider; builders are `module:function`, imported only
when a stack has a service on that platform.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable


@dataclass(frozen=True)
class ServingPlatform:
    name: str
    """The value of a service's `platform` key."""
    summary: str
    spec: str
    """`module:Class` of the service spec (a ModelServingSpec with `platform: Literal[name]`)."""
    builder: str
    """`module:function(pattern, spec)` that creates the server's component inside a pattern."""
    monitor: str = ""
    """`module:function(pattern, spec, server, slo, channels)` that builds its objectives and alerts."""
    gpu_monitor: str = ""
    """`module:function(pattern, spec, server)` that builds a server's GPU alerts, or returns None
    when it has none; empty: the platform has no GPU alerts."""
    charts: str = ""
    """`module:function(pattern, spec, cluster) -> [Chart]`: a server's charts on the stack's
    dashboard; empty: the platform has none."""
    needs_cluster: bool = False
    """Whether a service or job on it runs on the stack's cluster (`mlinfra:cluster`)."""
    job_spec: str = ""
    """`module:Class` of its job spec (`platform: Literal[name]`); empty: it runs no jobs of the GCP schema."""
    job_builder: str = ""
    """`module:function(pattern, specs) -> {name: component}` that builds a pattern's jobs on it."""
    cloud: str = "gcp"
    """The cloud whose stacks have it (`mlinfra:cloud`)."""

    def spec_class(self) -> type:
        return _load(self.spec)

    def build(self) -> Callable[..., Any]:
        return _load(self.builder)

    def monitoring(self) -> Callable[..., Any]:
        return _load(self.monitor)

    def gpu_monitoring(self) -> Callable[..., Any]:
        return _load(self.gpu_monitor)

    def dashboard_charts(self) -> Callable[..., Any]:
        return _load(self.charts)

    def job_spec_class(self) -> type:
        return _load(self.job_spec)

    def build_jobs(self) -> Callable[..., Any]:
        return _load(self.job_builder)


@lru_cache(maxsize=None)
def _load(target: str) -> Any:
    module, attribute = target.split(":")
    return getattr(importlib.import_module(module), attribute)


PLATFORMS: dict[str, ServingPlatform] = {
    "cloudrun": ServingPlatform(
        "cloudrun", "Cloud Run (v2) services: serverless, GPU optional, canary by revision",
        "components.gcp.cloudrun.cloud_run_service_spec:CloudRunServiceSpec", "infra.platforms.cloudrun:build",
        monitor="infra.platforms.cloudrun:monitor", charts="infra.platforms.cloudrun:charts",
        job_spec="components.gcp.cloudrun.cloud_run_job_spec:CloudRunJobSpec", job_builder="infra.platforms.cloudrun:build_jobs"),
    "gke": ServingPlatform(
        "gke", "GKE Deployments per track behind the stack's Gateway, canary by route weight",
        "components.gcp.gke.gke_service_spec:GkeServiceSpec", "infra.platforms.gke:build", needs_cluster=True,
        monitor="infra.platforms.gke:monitor", gpu_monitor="infra.platforms.gke:watch_gpus",
        charts="infra.platforms.gke:charts",
        job_spec="components.gcp.gke.gke_job_spec:GkeJobSpec", job_builder="infra.patterns.gke_workloads:build_jobs"),
    "eks": ServingPlatform(
        "eks", "EKS Deployments per track behind the stack's internal ALB, canary by weighted target groups",
        "components.aws.eks.eks_service_spec:EksServiceSpec", "infra.platforms.eks:build", needs_cluster=True,
        monitor="infra.platforms.eks:monitor", cloud="aws"),
}


def job_platforms() -> list[str]:
    """Platforms that run jobs of the Google Cloud schema."""
    return [name for name, p in PLATFORMS.items() if p.job_spec]
