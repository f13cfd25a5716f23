"""Pattern builders: a validated StackConfig in, the pattern's component and outputs out.

Each imports its pattern's component only when called, so a stack imports its own pattern's
provider modules and no other's.
"""

from __future__ import annotations

from typing import Any

from components.labels import default_labels
from infra.config import StackConfig


def _common(stack: StackConfig) -> dict[str, Any]:
    """The arguments every pattern's platform takes (components.platform.PlatformArgs)."""
    cfg = stack.mlinfra
    return dict(project=stack.project, region=stack.region, stack=stack.stack, environment=cfg.environment,
                labels=default_labels(cfg.environment, stack.stack, cfg.pattern, cfg.labels),
                network=cfg.network, storage=cfg.storage, triggers=cfg.triggers, source_root=stack.root)


def serverless(stack: StackConfig) -> dict[str, Any]:
    from components.serverless import ServerlessPlatform, ServerlessPlatformArgs

    args = ServerlessPlatformArgs(**_common(stack), services=stack.mlinfra.services)
    return ServerlessPlatform("mlinfra", args).outputs


def kubernetes(stack: StackConfig) -> dict[str, Any]:
    from components.kubernetes import KubernetesPlatform, KubernetesPlatformArgs

    cfg = stack.mlinfra
    args = KubernetesPlatformArgs(**_common(stack), cluster=cfg.cluster, services=cfg.services, jobs=cfg.jobs)
    return KubernetesPlatform("mlinfra", args).outputs
