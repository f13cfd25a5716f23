"""A workload identity pool and its OIDC provider: Google Cloud trusts the tokens of one issuer
(GitHub Actions) that satisfy the attribute condition, and nothing else. Accounts are bound to
principals of the pool by whoever grants them (`pool_name` names it); the pool grants nothing.

Both are protected: a deleted pool stays soft-deleted for 30 days, during which its id cannot
be reused, and every deploy that federates through it fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component

TYPE = "mlinfra:gcp:GithubWorkloadIdentity"


@dataclass(frozen=True, kw_only=True)
class GithubWorkloadIdentityArgs:
    project: str
    """The project of the pool (its number goes into every principal of the pool)."""
    pool_id: str
    """The pool's id, 4-32 characters."""
    provider_id: str
    """The provider's id, 4-32 characters."""
    issuer_uri: str
    """The OIDC issuer, e.g. https://token.actions.githubusercontent.com."""
    attribute_mapping: Mapping[str, str]
    """Google attributes from the token's claims (`google.subject` at least)."""
    attribute_condition: str
    """CEL over the token's claims; a token that fails it is refused. Required: an issuer shared by
    every GitHub repository must never be trusted unconditionally."""
    protect: bool = True
    """Pulumi `protect` on the pool and provider. Defaults to true."""


class GithubWorkloadIdentity(Component):
    """Outputs: pool_name (projects/NUMBER/locations/global/workloadIdentityPools/ID),
    provider_name (the value of google-github-actions/auth's workload_identity_provider)."""

    Args = GithubWorkloadIdentityArgs

    def __init__(self, name: str, args: GithubWorkloadIdentityArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        self.pool = gcp.iam.WorkloadIdentityPool(
            name, workload_identity_pool_id=args.pool_id, project=args.project, display_name="GitHub Actions",
            description="mlinfra: the CI workflows' identities (bootstrap stack)", opts=self.child(protect=args.protect))
        self.provider = gcp.iam.WorkloadIdentityPoolProvider(
            f"{name}-provider", workload_identity_pool_id=self.pool.workload_identity_pool_id,
            workload_identity_pool_provider_id=args.provider_id, project=args.project, display_name="GitHub OIDC",
            attribute_mapping=dict(args.attribute_mapping), attribute_condition=args.attribute_condition,
            oidc={"issuer_uri": args.issuer_uri}, opts=self.child(protect=args.protect))
        self.pool_name = self.pool.name
        self.provider_name = self.provider.name
        self.register_outputs({"pool_name": self.pool_name, "provider_name": self.provider_name})
