"""One private S3 bucket with every safety default: all public access blocked, ACLs disabled
(BucketOwnerEnforced), SSE-KMS with a bucket key, TLS-only access, optional versioning,
lifecycle rules and Object Lock retention, with the split resources of pulumi-aws 7."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws

from components.core.component import Component

TYPE = "mlinfra:aws:S3Bucket"


@dataclass(frozen=True, kw_only=True)
class S3BucketArgs:
    bucket_name: str
    """The global bucket name."""
    purpose: str
    """Tag `purpose` (data-lake, model-artifacts): the guardrails read intent from it."""
    kms_key_arn: pulumi.Input[str]
    """The KMS key objects are encrypted with."""
    versioning: bool = False
    """Keep noncurrent versions. Defaults to false."""
    keep_versions: int = 5
    """Noncurrent versions kept per object when versioned. Defaults to 5."""
    transitions: Sequence[tuple[int, str]] = ()
    """`(days, storage class)` transitions. Defaults to none."""
    delete_after_days: Optional[int] = None
    """Expire objects after this many days. Defaults to never."""
    expirations: Sequence[tuple[str, int]] = ()
    """`(prefix, days)`: objects under the prefix expire after that many days (a request log's
    retention), a rule each beside the bucket's own. Defaults to none."""
    retention_days: Optional[int] = None
    """Object Lock default retention (governance mode) in days. Defaults to none."""
    protect: bool = False
    """Protect the bucket and retain it when removed from the stack (prod). Defaults to false."""
    tags: dict[str, str] = field(default_factory=dict)
    """Extra tags. Defaults to none."""


class S3Bucket(Component):
    """Outputs: bucket_name, arn."""

    def __init__(self, name: str, args: S3BucketArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        keep = self.child(protect=args.protect, retain_on_delete=args.protect)
        self.bucket = aws.s3.Bucket(name, bucket=args.bucket_name, object_lock_enabled=bool(args.retention_days),
                                    tags={"purpose": args.purpose, **args.tags}, opts=keep)
        # The name, not the bucket's ID output: known at preview, so the guardrails can pair each
        # setting with its bucket; depends_on keeps the order.
        bucket = args.bucket_name
        after = self.child(depends_on=[self.bucket])
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access", bucket=bucket, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=after)
        aws.s3.BucketOwnershipControls(f"{name}-ownership", bucket=bucket, rule=aws.s3.BucketOwnershipControlsRuleArgs(
            object_ownership="BucketOwnerEnforced"), opts=after)
        aws.s3.BucketServerSideEncryptionConfiguration(f"{name}-encryption", bucket=bucket, rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=args.kms_key_arn),
                bucket_key_enabled=True)], opts=after)
        aws.s3.BucketPolicy(f"{name}-tls-only", bucket=bucket, policy=self.bucket.arn.apply(lambda arn: json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})),
            opts=self.child(depends_on=[self.public_access_block]))
        if args.versioning or args.retention_days:
            self.versioning = aws.s3.BucketVersioning(f"{name}-versioning", bucket=bucket,
                                                      versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                                                          status="Enabled"), opts=after)
        if args.retention_days:
            aws.s3.BucketObjectLockConfiguration(f"{name}-retention", bucket=bucket, object_lock_enabled="Enabled",
                                                 rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                                                     default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                                                         mode="GOVERNANCE", days=args.retention_days)), opts=after)
        L = aws.s3
        rule = L.BucketLifecycleConfigurationRuleArgs(
            id="mlinfra", status="Enabled", filter=L.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            abort_incomplete_multipart_upload=L.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=7),
            transitions=[L.BucketLifecycleConfigurationRuleTransitionArgs(days=d, storage_class=c)
                         for d, c in args.transitions] or None,
            expiration=L.BucketLifecycleConfigurationRuleExpirationArgs(days=args.delete_after_days)
            if args.delete_after_days else None,
            noncurrent_version_expiration=L.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=30, newer_noncurrent_versions=args.keep_versions) if args.versioning else None)
        versioned = args.versioning or bool(args.retention_days)
        # S3 applies the shortest expiration of the rules an object matches; in a versioned
        # bucket the expired version becomes noncurrent and goes a day later (Object Lock permitting).
        rules = [rule] + [L.BucketLifecycleConfigurationRuleArgs(
            id=f"expire-{prefix.strip('/').replace('/', '-')}"[:255], status="Enabled",
            filter=L.BucketLifecycleConfigurationRuleFilterArgs(prefix=prefix),
            expiration=L.BucketLifecycleConfigurationRuleExpirationArgs(days=days),
            noncurrent_version_expiration=L.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=1) if versioned else None) for prefix, days in args.expirations]
        aws.s3.BucketLifecycleConfiguration(f"{name}-lifecycle", bucket=bucket, rules=rules, opts=after)

        self.bucket_name = self.bucket.bucket
        self.arn = self.bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "arn": self.arn})

    def read_statements(self, prefix: str = "") -> pulumi.Output:
        """IAM statements reading this bucket (under `prefix`)."""
        return self.arn.apply(lambda arn: [
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": arn,
             **({"Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}}} if prefix else {})},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": f"{arn}/{prefix}*"}])

    def write_statements(self) -> pulumi.Output:
        """IAM statements reading, writing and deleting objects of this bucket."""
        return self.arn.apply(lambda arn: [
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": arn},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject",
                                           "s3:AbortMultipartUpload"], "Resource": f"{arn}/*"}])
