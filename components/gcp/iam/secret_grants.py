"""Read access to Secret Manager secrets, one binding per secret, for the one account a workload
runs as: every workload that names `secrets` (or a model token) is granted through here."""

from __future__ import annotations

from typing import Any, Iterable

import pulumi
import pulumi_gcp as gcp

READ = "roles/secretmanager.secretAccessor"


def read_secrets(parent: Any, name: str, *, project: str, secret_ids: Iterable[str],
                 member: pulumi.Input[str]) -> list[gcp.secretmanager.SecretIamMember]:
    """A `<name>-secret-<id>` binding (a child of `parent`) on each secret, once each, in order."""
    return [gcp.secretmanager.SecretIamMember(f"{name}-secret-{secret}", project=project, secret_id=secret,
                                              role=READ, member=member, opts=parent.child())
            for secret in sorted(set(secret_ids))]
