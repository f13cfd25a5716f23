"""GitHub Actions variables of a repository (`${{ vars.NAME }}`): values that are not secrets,
such as which identity provider and state backend the workflows use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import pulumi
import pulumi_github as github

from components.core.component import Component

TYPE = "mlinfra:github:RepositoryVariables"


@dataclass(frozen=True, kw_only=True)
class RepositoryVariablesArgs:
    repository: str
    """The repository's name (its owner is the provider's)."""
    variables: Mapping[str, pulumi.Input[str]]
    """Variable name -> value."""


class RepositoryVariables(Component):
    """Outputs: names."""

    Args = RepositoryVariablesArgs

    def __init__(self, name: str, args: RepositoryVariablesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        for variable, value in sorted(args.variables.items()):
            github.ActionsVariable(f"{name}-{variable.lower().replace('_', '-')}", repository=args.repository,
                                   variable_name=variable, value=value, opts=self.child())
        self.register_outputs({"names": sorted(args.variables)})
