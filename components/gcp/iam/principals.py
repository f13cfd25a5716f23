"""Who may be granted access: IAM member strings as the stack file writes them, and the
protocol every grantee (our service accounts, Google's service agents) follows. No provider."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol, Sequence

import pulumi

from components.core.issues import Issue
from components.gcp.iam.members import iam_member_issues as one_member_issues
from components.gcp.iam.members import is_public_member

BASIC_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}


def iam_member_issues(members: Sequence[str], key: str = "invokers") -> list[Issue]:
    """Callers named as IAM members, each in a form IAM accepts (components/gcp/iam/members.py);
    public access is a separate, explicit `public: true`."""
    issues = []
    for i, member in enumerate(members):
        if is_public_member(member):
            issues.append(Issue((key, i), "a public grant does not belong in " + key, member,
                                fix="remove it and set `public: true` if the endpoint really must be public"))
        else:
            issues += one_member_issues(member, key=(key, i))
    return issues


SERVICE_ACCOUNT_EMAIL = r"^[a-z][-a-z0-9]{4,28}[a-z0-9]@[a-z][-a-z0-9.]+\.iam\.gserviceaccount\.com$"
"""A user-managed service account's email (an existing account a workload may run as)."""


class Principal(Protocol):
    """Anything that can be granted access: a name for resource names and an IAM member."""

    principal_name: str
    member: pulumi.Input[str]


@dataclass
class Member:
    """A principal that is not one of ours, e.g. a Google service agent or a group."""

    principal_name: str
    member: pulumi.Input[str]


def member_slug(member: str) -> str:
    """A resource-name part for an IAM member: readable, and unique per member (a hash of it)."""
    readable = re.sub(r"[^a-z0-9]+", "-", member.split("@", 1)[0].lower()).strip("-")[:24]
    return f"{readable}-{hashlib.sha256(member.encode()).hexdigest()[:6]}"
