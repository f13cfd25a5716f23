"""A GitHub deployment environment: the required reviewers who approve each job that runs in
it, and the branches whose workflows may run such a job (custom branch policies, one per
branch: a job from any other branch or from a tag is refused before it starts).

Admins cannot bypass the reviewers (GitHub's default lets them). The environment is protected:
deleting it deletes its secrets (PULUMI_CONFIG_PASSPHRASE) with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_github as github

from components.core.component import Component

TYPE = "mlinfra:github:DeploymentEnvironment"


@dataclass(frozen=True, kw_only=True)
class DeploymentEnvironmentArgs:
    repository: str
    """The repository's name (its owner is the provider's)."""
    environment: str
    """The environment's name."""
    branches: Sequence[str]
    """Branch name patterns whose workflows may deploy to it; at least one."""
    reviewer_users: Sequence[int] = ()
    """Numeric GitHub user ids of the required reviewers. Defaults to none."""
    reviewer_teams: Sequence[int] = ()
    """Numeric GitHub team ids of the required reviewers. Defaults to none."""
    wait_timer: int = 0
    """Minutes to wait before a job starts. Defaults to 0."""
    prevent_self_review: bool = True
    """Whether the person who triggered a job may not approve it. Defaults to true."""
    can_admins_bypass: bool = False
    """Whether repository admins may skip the reviewers. Defaults to false."""
    protect: bool = True
    """Pulumi `protect` on the environment. Defaults to true."""


class DeploymentEnvironment(Component):
    """Outputs: environment (its name)."""

    Args = DeploymentEnvironmentArgs

    def __init__(self, name: str, args: DeploymentEnvironmentArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        if not args.branches:
            raise ValueError(f"{name}: an environment needs at least one branch that may deploy to it")
        reviewed = bool(args.reviewer_users or args.reviewer_teams)
        self.environment = github.RepositoryEnvironment(
            name, repository=args.repository, environment=args.environment,
            reviewers=[{"users": list(args.reviewer_users), "teams": list(args.reviewer_teams)}] if reviewed else None,
            prevent_self_review=args.prevent_self_review if reviewed else None,
            wait_timer=args.wait_timer or None, can_admins_bypass=args.can_admins_bypass,
            deployment_branch_policy={"protected_branches": False, "custom_branch_policies": True},
            opts=self.child(protect=args.protect))
        for branch in args.branches:
            github.RepositoryEnvironmentDeploymentPolicy(
                f"{name}-{branch}", repository=args.repository, environment=self.environment.environment,
                branch_pattern=branch, opts=self.child())
        self.register_outputs({"environment": self.environment.environment})
