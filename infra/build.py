"""Pattern builders: a validated StackConfig in, the pattern's component and outputs out."""

from __future__ import annotations

from typing import Any

from components.labels import default_labels
from infra.config import StackConfig


def serverless(stack: StackConfig) -> dict[str, Any]:
    from components.serverless import ServerlessPlatform, ServerlessPlatformArgs

    cfg = stack.mlinfra
    platform = ServerlessPlatform("mlinfra", ServerlessPlatformArgs(
        project=stack.project, region=stack.region, stack=stack.stack, environment=cfg.environment,
        labels=default_labels(cfg.environment, stack.stack, cfg.pattern, cfg.labels),
        network=cfg.network, storage=cfg.storage, services=cfg.services, triggers=cfg.triggers,
        source_root=stack.root,
    ))
    return platform.outputs


def kubernetes(stack: StackConfig) -> dict[str, Any]:
    from components.kubernetes import KubernetesPlatform, KubernetesPlatformArgs

    cfg = stack.mlinfra
    platform = KubernetesPlatform("mlinfra", KubernetesPlatformArgs(
        project=stack.project, region=stack.region, stack=stack.stack, environment=cfg.environment,
        labels=default_labels(cfg.environment, stack.stack, cfg.pattern, cfg.labels),
        cluster=cfg.cluster, network=cfg.network, storage=cfg.storage, services=cfg.services,
        jobs=cfg.jobs, triggers=cfg.triggers, source_root=stack.root,
    ))
    return platform.outputs
