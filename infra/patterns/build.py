"""A validated stack in, its pattern's component and outputs out.

The pattern's component (and so its providers) is imported only here, for the selected
pattern. Its arguments are the ones every pattern takes, plus each section of the stack file
its args class has a field for, so a pattern with a new section needs no code here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from components.core.labels import default_labels
from infra.patterns.couplings import ROOT
from infra.patterns.registry import pattern_for


def build(stack: Any) -> dict[str, Any]:
    cfg = stack.mlinfra
    component = pattern_for(cfg.cloud, cfg.pattern).component()
    fields = {f.name for f in dataclasses.fields(component.Args)}
    common = dict(project=stack.project, region=stack.region, stack=stack.stack, environment=cfg.environment,
                  labels=default_labels(cfg.environment, stack.stack, cfg.pattern, cfg.labels), source_root=stack.root)
    common = {k: v for k, v in common.items() if k in fields}  # an AWS pattern has no project
    sections = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(component.Args)
                if f.name not in common and f.name in type(cfg).model_fields}
    return component(ROOT, component.Args(**common, **sections)).outputs
