"""GitHub's OIDC provider in an AWS account and the roles CI assumes through it: each role's
trust policy names the provider and the token claims (`aud`, `sub`) that may assume it.

The provider is one per account and issuer (IAM refuses a second with the same URL); roles and
provider are protected, as the pipelines of every AWS stack depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components.core.component import Component

TYPE = "mlinfra:aws:GithubDeployRoles"


@dataclass(frozen=True, kw_only=True)
class DeployRole:
    name: str
    """The role's name (it is in the workflows' role-to-assume ARN)."""
    trust_policy: Callable[[str], str]
    """The assume-role policy document (JSON) given the OIDC provider's ARN."""
    policy_arns: Sequence[str] = ()
    """Managed policies (AWS's or existing ones) attached to it. Defaults to none."""
    policies: Mapping[str, str] = field(default_factory=dict)
    """Customer-managed policies created for it and attached, name -> document (JSON). Defaults to none."""


@dataclass(frozen=True, kw_only=True)
class GithubDeployRolesArgs:
    issuer_uri: str
    """The OIDC issuer, https://token.actions.githubusercontent.com."""
    audience: str
    """The token audience the roles accept (sts.amazonaws.com, what configure-aws-credentials asks for)."""
    roles: Sequence[DeployRole]
    """The roles, each with its trust policy."""
    protect: bool = True
    """Pulumi `protect` on the provider and the roles. Defaults to true."""


class GithubDeployRoles(Component):
    """Outputs: provider_arn, account_id, role_arns (name -> ARN)."""

    Args = GithubDeployRolesArgs

    def __init__(self, name: str, args: GithubDeployRolesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        self.provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc", url=args.issuer_uri, client_id_lists=[args.audience], opts=self.child(protect=args.protect))
        self.roles = {}
        for role in args.roles:
            made = aws.iam.Role(f"{name}-{role.name}", name=role.name,
                                assume_role_policy=self.provider.arn.apply(role.trust_policy),
                                opts=self.child(protect=args.protect))
            arns = list(role.policy_arns)
            for policy, document in role.policies.items():
                arns.append(aws.iam.Policy(f"{name}-{policy}", name=policy, policy=document,
                                           description=f"What {role.name} needs to deploy its stack",
                                           opts=self.child()).arn)
            for i, arn in enumerate(arns):
                aws.iam.RolePolicyAttachment(f"{name}-{role.name}-policy" + (f"-{i + 1}" if i else ""), role=made.name,
                                             policy_arn=arn, opts=self.child())
            self.roles[role.name] = made
        self.provider_arn = self.provider.arn
        # arn:aws:iam::ACCOUNT:oidc-provider/...: the account the roles live in.
        self.account_id = self.provider.arn.apply(lambda arn: arn.split(":")[4])
        self.register_outputs({"provider_arn": self.provider_arn, "account_id": self.account_id,
                               "role_arns": {n: r.arn for n, r in self.roles.items()}})
