"""A service's request and prediction log on AWS (`services[].logging` of an EKS server): an
Amazon Data Firehose stream (Direct PUT) that writes what the server puts to it, GZIP'd, to the
stack's data lake under `request-logs/<service>/!{timestamp:yyyy/MM/dd}/` (the day Firehose
received the batch, UTC), and the records it could not deliver under `request-logs/<service>/errors/`.

Grants: Firehose's own role may write that prefix only (PutObject, AbortMultipartUpload and
GetObject on `request-logs/<service>/*`, listing the bucket under it) and use the buckets' KMS key
through S3 only; it trusts the Firehose service of this account alone (sts:ExternalId). The
server's Pod Identity role gets `put_statements` (firehose:PutRecord and PutRecordBatch on this
stream only); the data lake's lifecycle rule for the prefix is the storage's (S3Storage's
`expirations`). The stream itself is encrypted at rest with the same key.

The stream's name is fixed (the server's environment names it), so a replacement deletes the old
stream before creating the new one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from components.aws.eks.iam_policies import document
from components.aws.eks.pod_identity_role import kms_statements
from components.aws.monitoring.eks_request_logging_spec import log_prefix
from components.aws.storage.s3_bucket import S3Bucket
from components.core.component import Component

TYPE = "mlinfra:aws:RequestLogStream"
BUFFER_SECONDS = 300
BUFFER_MB = 5


def trust_policy(account: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "firehose.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": account}}}]}, sort_keys=True)


def delivery_statements(bucket_arn: str, prefix: str) -> list[dict]:
    """What Firehose needs of the bucket to deliver under `prefix`, and nothing beyond it."""
    return [
        {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"], "Resource": bucket_arn},
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket_arn,
         "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}}},
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"],
         "Resource": f"{bucket_arn}/{prefix}*"},
    ]


@dataclass(frozen=True, kw_only=True)
class RequestLogStreamArgs:
    service: str
    """The service's name in the stack file (its prefix in the data lake)."""
    stream_name: str
    """The Firehose stream's name (eks_request_logging_spec.stream_name)."""
    bucket: S3Bucket
    """The data lake."""
    kms_key_arn: pulumi.Input[str]
    """The buckets' KMS key (the objects' and the stream's encryption)."""
    region: str
    """The stack's region."""
    account: pulumi.Input[str]
    """The stack's account ID (the Firehose role's external ID)."""


class RequestLogStream(Component):
    """Outputs: stream_name, stream_arn, prefix (in the data lake)."""

    def __init__(self, name: str, args: RequestLogStreamArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        prefix = log_prefix(args.service)
        self.role = aws.iam.Role(f"{name}-firehose", assume_role_policy=pulumi.Output.from_input(args.account).apply(
            trust_policy), description=f"mlinfra: Firehose delivery of {args.stream_name}", opts=self.child())
        statements = pulumi.Output.all(args.bucket.arn, kms_statements(args.kms_key_arn, args.region, write=True)).apply(
            lambda v: delivery_statements(v[0], prefix) + v[1])
        self.policy = aws.iam.RolePolicy(f"{name}-firehose", role=self.role.id, policy=statements.apply(document),
                                         opts=self.child())
        self.stream = aws.kinesis.FirehoseDeliveryStream(
            name, name=args.stream_name, destination="extended_s3",
            server_side_encryption=aws.kinesis.FirehoseDeliveryStreamServerSideEncryptionArgs(
                enabled=True, key_type="CUSTOMER_MANAGED_CMK", key_arn=args.kms_key_arn),
            extended_s3_configuration=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationArgs(
                bucket_arn=args.bucket.arn, role_arn=self.role.arn, kms_key_arn=args.kms_key_arn,
                prefix=f"{prefix}!{{timestamp:yyyy/MM/dd}}/",
                error_output_prefix=f"{prefix}errors/!{{firehose:error-output-type}}/!{{timestamp:yyyy/MM/dd}}/",
                compression_format="GZIP", buffering_interval=BUFFER_SECONDS, buffering_size=BUFFER_MB),
            # Firehose checks the role's access when the stream is created.
            opts=self.child(depends_on=[self.policy], delete_before_replace=True))
        self.stream_name = args.stream_name
        self.stream_arn = self.stream.arn
        self.prefix = prefix
        self.register_outputs({"stream_name": self.stream_name, "stream_arn": self.stream_arn, "prefix": prefix})

    def put_statements(self) -> pulumi.Output:
        """IAM statements putting records to this stream, and nothing else."""
        return self.stream.arn.apply(lambda arn: [
            {"Effect": "Allow", "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"], "Resource": arn}])
