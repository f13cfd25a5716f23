"""A dedicated Google service account per workload, with intent-level project grants.

Other components grant access to it (`bucket.grant_read(account)`); project-wide roles are
the exception and go through `grant_project_role`, which refuses the basic roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.core.issues import Issue, raise_if_any
from components.core.naming import account_id
from components.gcp.iam.principals import BASIC_ROLES

TYPE = "mlinfra:gcp:ServiceAccount"


@dataclass(frozen=True, kw_only=True)
class ServiceAccountArgs:
    account_id: Optional[str] = None
    """The account ID (6-30 characters). Defaults to one derived from the component name."""
    display_name: Optional[str] = None
    """Shown in the console. Defaults to `mlinfra <name>`."""
    description: Optional[str] = None
    """Defaults to none."""
    project: Optional[str] = None
    """Defaults to the provider's project."""
    existing: Optional[str] = None
    """The email of an account that exists already (the stack's bindings go to it, nothing
    creates or deletes it). Defaults to none: a new account."""


class ServiceAccount(Component):
    """Outputs: email, member (`serviceAccount:<email>`)."""

    def __init__(self, name: str, args: Optional[ServiceAccountArgs] = None,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        args = args or ServiceAccountArgs()
        self.principal_name = name
        self.project = args.project
        if args.existing is not None:
            self.account = None
            self.email = args.existing
            # An account's resource name takes its own project, from its email's domain.
            own_project = args.existing.split("@", 1)[1].split(".", 1)[0]
            self.resource_name = f"projects/{own_project}/serviceAccounts/{args.existing}"
        else:
            self.account = gcp.serviceaccount.Account(
                name,
                account_id=args.account_id or account_id(name),
                display_name=args.display_name or f"mlinfra {name}",
                description=args.description,
                project=args.project,
                opts=self.child(),
            )
            self.email = self.account.email
            self.resource_name = self.account.name
        self.member = pulumi.Output.concat("serviceAccount:", self.email)
        self.register_outputs({"email": self.email})

    def grant_project_role(self, role: str, condition: Optional[tuple[str, str]] = None) -> gcp.projects.IAMMember:
        """Grant one predefined role on the project, optionally narrowed by an IAM condition
        `(title, CEL expression)`; refuses owner, editor and viewer."""
        raise_if_any(f"ServiceAccount {self.name}", [
            Issue(("role",), "basic roles grant far more than a workload needs", role,
                  fix="grant a predefined role such as roles/storage.objectViewer")
        ] if role in BASIC_ROLES else [])
        short = role.split("/")[-1].replace(".", "-").lower()
        return gcp.projects.IAMMember(
            f"{self.name}-{short}",
            project=self.project or gcp.config.project,
            role=role,
            member=self.member,
            condition=gcp.projects.IAMMemberConditionArgs(title=condition[0], expression=condition[1])
            if condition else None,
            opts=self.child(),
        )
