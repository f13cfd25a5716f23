"""The ML system's storage: a data lake bucket and a versioned model-artifact bucket."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from components.core.component import Component
from components.gcp.storage.bucket import Bucket, BucketArgs, LifecycleRule
from components.gcp.storage.storage_spec import StorageSpec, bucket_names

TYPE = "mlinfra:gcp:Storage"


@dataclass(frozen=True, kw_only=True)
class StorageArgs:
    spec: StorageSpec
    """The buckets as the stack file says them."""
    project: str
    """The project; derived bucket names start with it."""
    stack: str
    """The stack; derived bucket names carry it."""
    region: str
    """Where the buckets are, unless the spec names a location."""
    protect: bool = False
    """Protect and retain both buckets (prod). Defaults to false."""

    @property
    def names(self) -> dict[str, str]:
        return bucket_names(self.spec, self.project, self.stack)


class Storage(Component):
    """Outputs: data_lake and artifacts (Bucket components), by role in `buckets`."""

    def __init__(self, name: str, args: StorageArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
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
