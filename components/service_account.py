"""A dedicated Google service account per workload, with intent-level project grants.

Other components grant access to it (`bucket.grant_read(account)`); project-wide roles are
the exception and go through `grant_project_role`, which refuses the basic roles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Protocol, Sequence

import pulumi
import pulumi_gcp as gcp

from components.base import Component
from components.naming import account_id
from components.validation import Issue, raise_if_any

BASIC_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}
_MEMBER = re.compile(r"^(user|serviceAccount|group|domain|principal|principalSet):.+$")


def iam_member_issues(members: Sequence[str], key: str = "invokers") -> list[Issue]:
    """Callers named as IAM members; public access is a separate, explicit `public: true`."""
    issues = []
    for i, member in enumerate(members):
        if member in ("allUsers", "allAuthenticatedUsers"):
            issues.append(Issue((key, i), "a public grant does not belong in " + key, member,
                                fix="remove it and set `public: true` if the endpoint really must be public"))
        elif not _MEMBER.match(member):
            issues.append(Issue((key, i), "is not an IAM member", member,
                                allowed="user:, serviceAccount:, group:, domain:, principal:, principalSet:",
                                fix="prefix the identity with its kind, e.g. serviceAccount:app@acme.iam.gserviceaccount.com"))
    return issues


class Principal(Protocol):
    """Anything that can be granted access: a name for resource names and an IAM member."""

    principal_name: str
    member: pulumi.Input[str]


@dataclass
class Member:
    """A principal that is not one of ours, e.g. a Google service agent or a group."""

    principal_name: str
    member: pulumi.Input[str]


class ServiceAccountArgs:
    def __init__(self, account_id: Optional[str] = None, display_name: Optional[str] = None,
                 description: Optional[str] = None, project: Optional[str] = None):
        """`account_id` defaults to one derived from the component name (6-30 characters)."""
        self.account_id = account_id
        self.display_name = display_name
        self.description = description
        self.project = project


class ServiceAccount(Component):
    """Outputs: email, member (`serviceAccount:<email>`)."""

    def __init__(self, name: str, args: Optional[ServiceAccountArgs] = None,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("mlinfra:gcp:ServiceAccount", name, opts)
        args = args or ServiceAccountArgs()
        self.principal_name = name
        self.project = args.project
        self.account = gcp.serviceaccount.Account(
            name,
            account_id=args.account_id or account_id(name),
            display_name=args.display_name or f"mlinfra {name}",
            description=args.description,
            project=args.project,
            opts=self.child(),
        )
        self.email = self.account.email
        self.member = self.account.email.apply(lambda email: f"serviceAccount:{email}")
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
