"""The stack's storage on AWS: a KMS key, the data lake and the versioned model-artifact bucket."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws

from components.aws.storage.s3_bucket import S3Bucket, S3BucketArgs
from components.aws.storage.s3_storage_spec import S3StorageSpec, bucket_names
from components.core.component import Component

TYPE = "mlinfra:aws:S3Storage"


@dataclass(frozen=True, kw_only=True)
class S3StorageArgs:
    spec: S3StorageSpec
    """The buckets as the stack file says them."""
    stack: str
    """The stack's name (bucket names derive from it)."""
    region: str
    """The stack's region."""
    protect: bool = False
    """Protect and retain the buckets and key (prod). Defaults to false."""
    lake_expirations: Sequence[tuple[str, int]] = ()
    """`(prefix, days)` of the data lake expiring sooner than the rest (request logs). Defaults to none."""


class S3Storage(Component):
    """Outputs: buckets (name per role), kms_key_arn."""

    def __init__(self, name: str, args: S3StorageArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        spec, names = args.spec, bucket_names(args.spec, args.stack, args.region)
        self.key = aws.kms.Key(f"{name}-key", description=f"mlinfra {args.stack}: S3 buckets",
                               enable_key_rotation=True, deletion_window_in_days=30,
                               opts=self.child(protect=args.protect))
        aws.kms.Alias(f"{name}-key", name=f"alias/mlinfra-{args.stack}-s3", target_key_id=self.key.key_id, opts=self.child())
        lake = spec.data_lake
        transitions = [(d, c) for d, c in ((lake.infrequent_access_after_days, "STANDARD_IA"),
                                           (lake.glacier_after_days, "GLACIER_IR")) if d]
        self.data_lake = S3Bucket(f"{name}-data-lake", S3BucketArgs(
            bucket_name=names["dataLake"], purpose="data-lake", kms_key_arn=self.key.arn, transitions=transitions,
            delete_after_days=lake.delete_after_days, expirations=args.lake_expirations,
            retention_days=lake.retention_days, protect=args.protect),
            opts=self.child())
        self.artifacts = S3Bucket(f"{name}-artifacts", S3BucketArgs(
            bucket_name=names["artifacts"], purpose="model-artifacts", kms_key_arn=self.key.arn,
            versioning=spec.artifacts.versioning, keep_versions=spec.artifacts.keep_versions, protect=args.protect),
            opts=self.child())
        self.buckets = {"dataLake": self.data_lake, "artifacts": self.artifacts}
        self.kms_key_arn = self.key.arn
        self.register_outputs({"buckets": {r: b.bucket_name for r, b in self.buckets.items()}, "kms_key_arn": self.kms_key_arn})
