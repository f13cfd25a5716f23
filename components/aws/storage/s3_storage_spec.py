"""The stack's storage on AWS as the stack file says it (`mlinfra:storage`): the data lake and the
model-artifact bucket, their names (explicit or derived) and S3's naming rules (no Pulumi)."""

from __future__ import annotations

import re
from typing import Optional

from pydantic import Field

from components.core.issues import Issue
from components.core.naming import dns_name
from components.core.spec import Context, Spec

BUCKET_ROLES = ("dataLake", "artifacts")
_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class S3DataLakeSpec(Spec):
    """Raw and curated data: ages into colder storage classes, optionally under retention."""

    name: Optional[str] = None
    """Global bucket name. Defaults to `mlinfra-<stack>-<region>-data-lake`."""
    retention_days: Optional[int] = Field(None, ge=1, le=3650)
    """Objects cannot be deleted or overwritten before this many days (S3 Object Lock,
    governance mode). Defaults to none."""
    infrequent_access_after_days: Optional[int] = Field(30, ge=30)
    """Move objects to STANDARD_IA after this many days (null: never; S3 needs 30 or more). Defaults to 30."""
    glacier_after_days: Optional[int] = Field(90, ge=1)
    """Move objects to GLACIER_IR after this many days (null: never). Defaults to 90."""
    delete_after_days: Optional[int] = Field(None, ge=1)
    """Delete objects after this many days. Defaults to never."""


class S3ArtifactsSpec(Spec):
    """Model artifacts: every overwrite keeps the previous version, so a model can be restored."""

    name: Optional[str] = None
    """Global bucket name. Defaults to `mlinfra-<stack>-<region>-artifacts`."""
    versioning: bool = True
    """Keep noncurrent object versions. Defaults to true."""
    keep_versions: int = Field(5, ge=1, le=100)
    """Noncurrent versions kept per object; older ones expire. Defaults to 5."""


class S3StorageSpec(Spec):
    data_lake: S3DataLakeSpec = S3DataLakeSpec()
    """The data lake bucket."""
    artifacts: S3ArtifactsSpec = S3ArtifactsSpec()
    """The model-artifact bucket."""

    def issues(self, ctx: Context) -> list[Issue]:
        issues: list[Issue] = []
        lake = self.data_lake
        if lake.infrequent_access_after_days and lake.glacier_after_days and \
                lake.glacier_after_days <= lake.infrequent_access_after_days:
            issues.append(Issue(("dataLake", "glacierAfterDays"), "must be later than infrequentAccessAfterDays",
                                lake.glacier_after_days, fix=f"set it above {lake.infrequent_access_after_days}"))
        if lake.delete_after_days and lake.retention_days and lake.delete_after_days < lake.retention_days:
            issues.append(Issue(("dataLake", "deleteAfterDays"), "is shorter than retentionDays", lake.delete_after_days,
                                fix=f"set it to at least {lake.retention_days}"))
        names = bucket_names(self, ctx.stack, ctx.region)
        for role, name in names.items():
            if not _NAME.match(name) or ".." in name or name.startswith("xn--") or name.endswith("-s3alias"):
                issues.append(Issue((role, "name"), "is not a valid S3 bucket name", name,
                                    allowed="3 to 63 lowercase letters, digits, dots and hyphens",
                                    fix="choose a name S3 accepts"))
        if len(set(names.values())) < len(names):
            issues.append(Issue(("artifacts", "name"), "is the data lake's name too", names["artifacts"],
                                fix="give each bucket its own name"))
        return issues


def bucket_names(spec: S3StorageSpec, stack: str, region: str) -> dict[str, str]:
    """The bucket name of each role, explicit or derived (S3 names are global: the region is in them)."""
    return {
        "dataLake": spec.data_lake.name or dns_name("mlinfra", stack, region, "data-lake"),
        "artifacts": spec.artifacts.name or dns_name("mlinfra", stack, region, "artifacts"),
    }
