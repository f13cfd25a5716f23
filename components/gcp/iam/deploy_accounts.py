"""A stack's two CI accounts: the deploy account (`pulumi up`), which only one workload identity
principal may act as, and the read-only preview account (`pulumi preview`, drift checks), which
the repository's workflows may act as; each with its project roles and its role on the state.

The deploy account's project roles are the ones `pulumi up` needs for what its stack creates
(infra/ci/deploy_roles.py); roles/resourcemanager.projectIamAdmin among them is conditioned to
grant and revoke only the roles the stack grants, so the account cannot make itself (or anyone)
an owner. It is bound to one GitHub environment, which carries the required reviewers. Accounts are protected: a re-created account has a new unique id, and the
bindings that named the old one silently stop applying.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.core.issues import InputError, Issue

TYPE = "mlinfra:gcp:DeployAccounts"
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
PROJECT_IAM_ADMIN = "roles/resourcemanager.projectIamAdmin"


@dataclass(frozen=True, kw_only=True)
class DeployAccountsArgs:
    project: str
    """The stack's project: both accounts live there and get their roles on it."""
    stack: str
    """The stack's name, in the accounts' display names."""
    deploy_account_id: str
    """The deploy account's id (6-30 characters)."""
    preview_account_id: str
    """The preview account's id (6-30 characters)."""
    deploy_member: pulumi.Input[str]
    """The one principal that may act as the deploy account (a job of the stack's GitHub environment)."""
    preview_member: pulumi.Input[str]
    """The principals that may act as the preview account (the repository's workflows)."""
    deploy_roles: Sequence[str]
    """Project roles of the deploy account."""
    grant_condition: Optional[str] = None
    """The IAM condition (CEL) on the deploy account's roles/resourcemanager.projectIamAdmin, when
    that is one of deploy_roles: which roles it may grant and revoke
    (`api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly([...])`). Defaults to
    none: projectIamAdmin among deploy_roles is then refused (unconditioned, it could grant roles/owner)."""
    preview_roles: Sequence[str]
    """Project roles of the preview account (read-only ones)."""
    state_bucket: Optional[str] = None
    """The Pulumi state bucket's name (no gs://). Defaults to none: no state grants."""
    deploy_state_role: str = "roles/storage.objectUser"
    """The deploy account's role on the state bucket. Defaults to objectUser (read and write objects)."""
    preview_state_role: str = "roles/storage.objectViewer"
    """The preview account's role on the state bucket. Defaults to objectViewer."""
    protect: bool = True
    """Pulumi `protect` on the accounts. Defaults to true."""


class DeployAccounts(Component):
    """Outputs: deploy_email, preview_email."""

    Args = DeployAccountsArgs

    def __init__(self, name: str, args: DeployAccountsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        self.deploy = gcp.serviceaccount.Account(
            f"{name}-deploy", account_id=args.deploy_account_id, project=args.project,
            display_name=f"mlinfra deploy ({args.stack})", opts=self.child(protect=args.protect))
        self.preview = gcp.serviceaccount.Account(
            f"{name}-preview", account_id=args.preview_account_id, project=args.project,
            display_name=f"mlinfra preview, read-only ({args.stack})", opts=self.child(protect=args.protect))
        for kind, account, roles, state_role, member in (
                ("deploy", self.deploy, args.deploy_roles, args.deploy_state_role, args.deploy_member),
                ("preview", self.preview, args.preview_roles, args.preview_state_role, args.preview_member)):
            for role in roles:
                gcp.projects.IAMMember(f"{name}-{kind}-{role.rsplit('/', 1)[-1]}", project=args.project, role=role,
                                       member=account.member, condition=self._condition(args, role), opts=self.child())
            if args.state_bucket:
                gcp.storage.BucketIAMMember(f"{name}-{kind}-state", bucket=args.state_bucket, role=state_role,
                                            member=account.member, opts=self.child())
            gcp.serviceaccount.IAMMember(f"{name}-{kind}-federation", service_account_id=account.name,
                                         role=WORKLOAD_IDENTITY_USER, member=member, opts=self.child())
        self.deploy_email = self.deploy.email
        self.preview_email = self.preview.email
        self.register_outputs({"deploy_email": self.deploy_email, "preview_email": self.preview_email})

    @staticmethod
    def _condition(args: DeployAccountsArgs, role: str) -> Optional[gcp.projects.IAMMemberConditionArgs]:
        if role != PROJECT_IAM_ADMIN:
            return None
        if not args.grant_condition:
            raise InputError(f"DeployAccounts {args.stack}", [Issue(
                ("grant_condition",), f"is required with {PROJECT_IAM_ADMIN} among deploy_roles: unconditioned, "
                "the deploy account could grant roles/owner", fix="give the roles it may grant (deploy_roles.grant_condition)")])
        return gcp.projects.IAMMemberConditionArgs(
            title=f"grants of {args.stack} only"[:100],
            description=f"Grant and revoke only the roles stack {args.stack} grants on the project.",
            expression=args.grant_condition)
