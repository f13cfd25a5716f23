"""The stack's storage as the stack file says it: the data lake and the model-artifact bucket,
their names (explicit or derived) and the rules Cloud Storage enforces on them."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from components.core.issues import Issue
from components.core.naming import dns_name
from components.core.spec import Context, Spec
from components.gcp.storage.locations import location_issues
from components.gcp.storage.names import bucket_name_issues

BUCKET_ROLES = ("dataLake", "artifacts")


class DataLakeSpec(Spec):
    """Raw and curated data: ages into colder storage classes, optionally under retention."""

    name: Optional[str] = None
    """Global bucket name. Defaults to `<project>-<stack>-data-lake`."""
    location: Optional[str] = None
    """Bucket location. Defaults to the stack's region."""
    retention_days: Optional[int] = Field(None, ge=1, le=3650)
    """Objects cannot be deleted or replaced before this many days. Defaults to none."""
    nearline_after_days: Optional[int] = Field(30, ge=1)
    """Move objects to NEARLINE after this many days (null: never). Defaults to 30."""
    coldline_after_days: Optional[int] = Field(90, ge=1)
    """Move objects to COLDLINE after this many days (null: never). Defaults to 90."""
    delete_after_days: Optional[int] = Field(None, ge=1)
    """Delete objects after this many days. Defaults to never."""
    soft_delete_days: int = Field(7, ge=0, le=90)
    """Deleted objects stay restorable this long (0: off). Defaults to 7."""


class ArtifactsSpec(Spec):
    """Model artifacts: every overwrite keeps the previous version, so a model can be restored."""

    name: Optional[str] = None
    """Global bucket name. Defaults to `<project>-<stack>-artifacts`."""
    location: Optional[str] = None
    """Bucket location. Defaults to the stack's region."""
    versioning: bool = True
    """Keep noncurrent object versions. Defaults to true."""
    keep_versions: int = Field(5, ge=1, le=1000)
    """Noncurrent versions kept per object; older ones are deleted. Defaults to 5."""
    soft_delete_days: int = Field(7, ge=0, le=90)
    """Deleted objects stay restorable this long (0: off). Defaults to 7."""


class StorageSpec(Spec):
    data_lake: DataLakeSpec = DataLakeSpec()
    """The data lake bucket."""
    artifacts: ArtifactsSpec = ArtifactsSpec()
    """The model-artifact bucket."""

    def issues(self, ctx: Context) -> list[Issue]:
        return storage_issues(self, ctx.project, ctx.stack)


def bucket_names(spec: StorageSpec, project: str, stack: str) -> dict[str, str]:
    """The bucket name of each role (`dataLake`, `artifacts`), explicit or derived."""
    return {
        "dataLake": spec.data_lake.name or dns_name(project, stack, "data-lake"),
        "artifacts": spec.artifacts.name or dns_name(project, stack, "artifacts"),
    }


def storage_issues(spec: "StorageSpec", project: str, stack: str) -> list[Issue]:
    issues: list[Issue] = []
    lake = spec.data_lake
    if lake.nearline_after_days and lake.coldline_after_days and lake.coldline_after_days <= lake.nearline_after_days:
        issues.append(Issue(("dataLake", "coldlineAfterDays"), "must be later than nearlineAfterDays",
                            lake.coldline_after_days, fix=f"set it above {lake.nearline_after_days}"))
    if lake.delete_after_days and lake.retention_days and lake.delete_after_days < lake.retention_days:
        issues.append(Issue(("dataLake", "deleteAfterDays"), "is shorter than retentionDays, so objects could never be deleted on time",
                            lake.delete_after_days, fix=f"set it to at least {lake.retention_days}"))
    for key, days in (("dataLake", lake.soft_delete_days), ("artifacts", spec.artifacts.soft_delete_days)):
        if 0 < days < 7:
            issues.append(Issue((key, "softDeleteDays"), "Cloud Storage keeps soft-deleted objects 7 to 90 days, or not at all",
                                days, allowed="0, or 7 to 90", fix="set 0 to turn soft delete off, or 7 or more"))
    names = bucket_names(spec, project, stack)
    for role, name in names.items():
        written = getattr(spec, "data_lake" if role == "dataLake" else "artifacts").name is not None
        for issue in bucket_name_issues(name, key=(role, "name")):
            # A derived name is not in the file: say where it came from and how to choose one.
            issues.append(issue if written else Issue(issue.path, f"the derived name {name} {issue.message}", name,
                                                      allowed=issue.allowed, fix="set a name explicitly"))
    if names["dataLake"] == names["artifacts"]:
        issues.append(Issue(("artifacts", "name"), "is the data lake's name too: bucket names are global and unique",
                            names["artifacts"], fix="give each bucket its own name"))
    for role, location in (("dataLake", lake.location), ("artifacts", spec.artifacts.location)):
        if location is not None:
            issues += location_issues(location, key=(role, "location"))
    return issues
