"""The serving-platform registry: where a service may run, its stack-file spec, and what builds it.

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
    needs_cluster: bool = False
    """Whether a service on it runs on the stack's cluster (`mlinfra:cluster`)."""

    def spec_class(self) -> type:
        return _load(self.spec)

    def build(self) -> Callable[..., Any]:
        return _load(self.builder)

    def monitoring(self) -> Callable[..., Any]:
        return _load(self.monitor)


@lru_cache(maxsize=None)
def _load(target: str) -> Any:
    module, attribute = target.split(":")
    return getattr(importlib.import_module(module), attribute)


PLATFORMS: dict[str, ServingPlatform] = {
    "cloudrun": ServingPlatform(
        "cloudrun", "Cloud Run (v2) services: serverless, GPU optional, canary by revision",
        "components.gcp.cloudrun.cloud_run_service_spec:CloudRunServiceSpec", "infra.platforms.cloudrun:build",
        monitor="infra.platforms.cloudrun:monitor"),
    "gke": ServingPlatform(
        "gke", "GKE Deployments per track behind the stack's Gateway, canary by route weight",
        "components.gcp.gke.gke_service_spec:GkeServiceSpec", "infra.platforms.gke:build", needs_cluster=True,
        monitor="infra.platforms.gke:monitor"),
    "eks": ServingPlatform(
        "eks", "EKS Deployments per track behind the stack's internal ALB, canary by weighted target groups",
        "components.aws.eks.eks_service_spec:EksServiceSpec", "infra.platforms.eks:build", needs_cluster=True),
}
