"""What a validated stack file is, on any cloud and for the bootstrap stack: the namespace of
mlinfra's keys, how Pulumi hands config values over, and the validated result. Below both loaders
(infra/config.py for the pattern stacks, infra/bootstrap_config.py for the bootstrap stack)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NAMESPACE = "mlinfra"


@dataclass(frozen=True)
class StackConfig:
    """A validated stack: its name, where it is written, the provider keys and the mlinfra keys."""

    stack: str
    file: str
    project: str
    region: str
    root: Path
    mlinfra: Any
    """MlinfraConfig, or AwsMlinfraConfig on AWS (infra/aws_config.py)."""

    @property
    def cloud(self) -> str:
        return self.mlinfra.cloud

    @property
    def prod(self) -> bool:
        return self.mlinfra.environment == "prod"


def parse_value(value: Any) -> Any:
    """A config value as `pulumi.Config.get_object` reads it: JSON when it parses, else the string."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
