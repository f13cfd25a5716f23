"""The ML system's storage: a data lake bucket and a versioned model-artifact bucket."""

from __future__ import annotations

from typing import Optional

import pulumi
from pydantic import Field

from components.base import Component
from components.bucket import Bucket, BucketArgs, LifecycleRule
from components.naming import dns_name
from components.validation import Issue, Spec

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


def bucket_names(spec: StorageSpec, project: str, stack: str) -> dict[str, str]:
    """The bucket name of each role (`dataLake`, `artifacts`), explicit or derived."""
    return {
        "dataLake": spec.data_lake.name or dns_name(project, stack, "data-lake"),
        "artifacts": spec.artifacts.name or dns_name(project, stack, "artifacts"),
    }


def storage_issues(spec: StorageSpec, project: str, stack: str) -> list[Issue]:
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
    for role, name in bucket_names(spec, project, stack).items():
        key = ("dataLake" if role == "dataLake" else "artifacts", "name")
        if not (3 <= len(name) <= 63) or "google" in name or name.startswith("goog") or not name[0].isalnum():
            issues.append(Issue(key, "is not a valid bucket name", name,
                                allowed="3-63 lowercase letters, digits, - and _, not containing 'google'",
                                fix="set a shorter name explicitly"))
    return issues


class StorageArgs:
    def __init__(self, spec: StorageSpec, project: str, stack: str, region: str, protect: bool = False):
        """`protect`: protect and retain both buckets (prod)."""
        self.spec = spec
        self.names = bucket_names(spec, project, stack)
        self.region = region
        self.protect = protect


class Storage(Component):
    """Outputs: data_lake and artifacts (Bucket components), by role in `buckets`."""

    def __init__(self, name: str, args: StorageArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("mlinfra:gcp:Storage", name, opts)
        lake, art = args.spec.data_lake, args.spec.artifacts

        lake_rules = [LifecycleRule(age_days=7, abort_incomplete_uploads=True)]
        if lake.nearline_after_days:
            lake_rules.append(LifecycleRule(age_days=lake.nearline_after_days, storage_class="NEARLINE"))
        if lake.coldline_after_days:
            lake_rules.append(LifecycleRule(age_days=lake.coldline_after_days, storage_class="COLDLINE"))
        if lake.delete_after_days:
            lake_rules.append(LifecycleRule(age_days=lake.delete_after_days))
        self.data_lake = Bucket(f"{name}-data-lake", BucketArgs(
            name=args.names["dataLake"], location=lake.location or args.region,
            lifecycle=lake_rules, retention_days=lake.retention_days,
            soft_delete_days=lake.soft_delete_days, protect=args.protect, purpose="data-lake",
        ), opts=self.child())

        art_rules = [LifecycleRule(age_days=7, abort_incomplete_uploads=True)]
        if art.versioning:
            art_rules.append(LifecycleRule(noncurrent_versions=art.keep_versions))
        self.artifacts = Bucket(f"{name}-artifacts", BucketArgs(
            name=args.names["artifacts"], location=art.location or args.region,
            versioning=art.versioning, lifecycle=art_rules,
            soft_delete_days=art.soft_delete_days, protect=args.protect, purpose="model-artifacts",
        ), opts=self.child())

        self.buckets = {"dataLake": self.data_lake, "artifacts": self.artifacts}
        self.register_outputs({
            "data_lake": self.data_lake.bucket_name,
            "artifacts": self.artifacts.bucket_name,
        })
