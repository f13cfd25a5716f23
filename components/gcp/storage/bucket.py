"""A Cloud Storage bucket with the safe settings always on and intent-level grants.

Uniform bucket-level access and public access prevention are not options. `protect` (set by
the caller for prod) also retains the bucket if the resource is ever deleted from the stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.gcp.iam.principals import Principal

TYPE = "mlinfra:gcp:Bucket"


@dataclass(frozen=True)
class LifecycleRule:
    """Move objects to `storage_class` (or delete them when it is None) after `age_days`;
    with `noncurrent_versions`, delete noncurrent versions beyond that many newer ones."""

    age_days: Optional[int] = None
    storage_class: Optional[str] = None
    noncurrent_versions: Optional[int] = None
    abort_incomplete_uploads: bool = False


@dataclass(frozen=True, kw_only=True)
class BucketArgs:
    name: str
    """The global bucket name."""
    location: str
    """A region, dual-region or multi-region."""
    versioning: bool = False
    """Keep noncurrent versions of overwritten objects. Defaults to false."""
    lifecycle: list[LifecycleRule] = field(default_factory=list)
    """Lifecycle rules, in order. Defaults to none."""
    retention_days: Optional[int] = None
    """Objects cannot be deleted or replaced before this age. Defaults to no retention policy."""
    soft_delete_days: int = 7
    """Deleted objects stay restorable this long (0 turns soft delete off). Defaults to 7."""
    protect: bool = False
    """Protect and retain the bucket (prod). Defaults to false."""
    force_destroy: bool = False
    """Let `pulumi destroy` delete a bucket that still holds objects. Defaults to false."""
    purpose: Optional[str] = None
    """What the bucket holds (a `purpose` label the guardrails read: data-lake, model-artifacts,
    function-sources). Defaults to none."""


class Bucket(Component):
    """Outputs: name, url (`gs://<name>`)."""

    READ = "roles/storage.objectViewer"
    WRITE = "roles/storage.objectCreator"
    READ_WRITE = "roles/storage.objectUser"

    def __init__(self, name: str, args: BucketArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        self.global_name = args.name
        self.location = args.location
        rules = [self._rule(r) for r in args.lifecycle]
        self.bucket = gcp.storage.Bucket(
            name,
            name=args.name,
            location=args.location,
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning=gcp.storage.BucketVersioningArgs(enabled=args.versioning),
            lifecycle_rules=rules or None,
            retention_policy=gcp.storage.BucketRetentionPolicyArgs(
                retention_period=str(args.retention_days * 86400)) if args.retention_days else None,
            soft_delete_policy=gcp.storage.BucketSoftDeletePolicyArgs(
                retention_duration_seconds=args.soft_delete_days * 86400),
            force_destroy=args.force_destroy,
            labels={"purpose": args.purpose} if args.purpose else None,
            opts=self.child(protect=args.protect, retain_on_delete=args.protect),
        )
        self.bucket_name = self.bucket.name
        self.url = self.bucket.url
        self.register_outputs({"name": self.bucket.name, "url": self.bucket.url})

    @staticmethod
    def _rule(rule: LifecycleRule) -> gcp.storage.BucketLifecycleRuleArgs:
        if rule.abort_incomplete_uploads:
            return gcp.storage.BucketLifecycleRuleArgs(
                action=gcp.storage.BucketLifecycleRuleActionArgs(type="AbortIncompleteMultipartUpload"),
                condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=rule.age_days or 7),
            )
        if rule.noncurrent_versions is not None:
            return gcp.storage.BucketLifecycleRuleArgs(
                action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                condition=gcp.storage.BucketLifecycleRuleConditionArgs(
                    num_newer_versions=rule.noncurrent_versions, with_state="ARCHIVED"),
            )
        action = gcp.storage.BucketLifecycleRuleActionArgs(type="SetStorageClass", storage_class=rule.storage_class) \
            if rule.storage_class else gcp.storage.BucketLifecycleRuleActionArgs(type="Delete")
        return gcp.storage.BucketLifecycleRuleArgs(
            action=action, condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=rule.age_days))

    def grant_read(self, principal: Principal) -> gcp.storage.BucketIAMMember:
        """Read objects (list and get)."""
        return self._grant(principal, "read", self.READ)

    def grant_write(self, principal: Principal) -> gcp.storage.BucketIAMMember:
        """Create objects, never overwrite or delete them."""
        return self._grant(principal, "write", self.WRITE)

    def grant_read_write(self, principal: Principal) -> gcp.storage.BucketIAMMember:
        """Read, create, overwrite and delete objects."""
        return self._grant(principal, "readwrite", self.READ_WRITE)

    def _grant(self, principal: Principal, verb: str, role: str) -> gcp.storage.BucketIAMMember:
        return gcp.storage.BucketIAMMember(
            f"{self.name}-{principal.principal_name}-{verb}",
            bucket=self.bucket.name,
            role=role,
            member=principal.member,
            opts=self.child(),
        )
