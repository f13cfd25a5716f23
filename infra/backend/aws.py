"""The state backend on AWS: a hardened S3 bucket and a KMS key for Pulumi's secrets provider.

Every setting is read back from AWS and compared with what a state bucket needs, so a rerun
changes nothing, and a bucket made elsewhere is either accepted, refused with its weak
settings listed, or repaired (--fix). boto3 honours AWS_ENDPOINT_URL itself; --endpoint-url
overrides it (tests run against a local S3/KMS/STS server).
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any, Iterator, Optional

import boto3
import botocore.exceptions
from botocore.config import Config

from infra.backend.common import BackendError, Options, Plan, Step, Weakness, key_name

TLS_SID = "DenyInsecureTransport"
PUBLIC_ACCESS_BLOCK = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
TAGS = {"managed-by": "mlinfra", "purpose": "pulumi-state"}

# Error codes that mean "this setting was never configured", not a failure.
NOT_CONFIGURED = {"NoSuchPublicAccessBlockConfiguration", "ServerSideEncryptionConfigurationNotFoundError",
                  "OwnershipControlsNotFoundError", "NoSuchBucketPolicy"}
DENIED = {"AccessDenied", "AccessDeniedException", "Forbidden", "403", "AllAccessDisabled"}
BAD_CREDENTIALS = {"InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
                   "UnrecognizedClientException", "InvalidAccessKeyId", "InvalidToken"}


@contextlib.contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Turn boto errors into one message naming the call that failed and the fix."""
    try:
        yield
    except botocore.exceptions.NoCredentialsError:
        raise BackendError("mlinfra backend init: no AWS credentials found.\n"
                           "  fix: set AWS_PROFILE (after `aws sso login` or `aws configure`), or "
                           "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\nNothing was changed.") from None
    except botocore.exceptions.ClientError as error:
        err = error.response.get("Error", {})
        code, message = str(err.get("Code", "")), str(err.get("Message", ""))
        if message.lstrip().startswith("<"):
            # Some S3/KMS-compatible servers answer a JSON API with an XML error body.
            found = re.search(r"<Code>(.*?)</Code>.*?<Message>(.*?)</Message>", message, re.S)
            code, message = (found.group(1), found.group(2)) if found else (code, message)
        if code in BAD_CREDENTIALS:
            raise BackendError(f"mlinfra backend init: AWS rejected the credentials while trying to {what} "
                               f"({code}: {message}).\n  fix: refresh them (`aws sso login`, or new access "
                               "keys) and check AWS_PROFILE") from None
        if code in DENIED:
            raise BackendError(f"mlinfra backend init: access denied: could not {what} ({code}: {message}).\n"
                               "  fix: run as an identity allowed to manage S3 buckets and KMS keys "
                               "(s3:*, kms:CreateKey, kms:CreateAlias, kms:EnableKeyRotation, "
                               "kms:DescribeKey, kms:GetKeyRotationStatus)") from None
        raise BackendError(f"mlinfra backend init: AWS refused to {what}: {code}: {message}") from None
    except botocore.exceptions.EndpointConnectionError as error:
        raise BackendError(f"mlinfra backend init: cannot reach AWS to {what}: {error}.\n"
                           "  fix: check the network, --region, and --endpoint-url / AWS_ENDPOINT_URL") from None
    except botocore.exceptions.BotoCoreError as error:
        # SSO token expiry, a broken profile, bad parameters: botocore's own text says which.
        raise BackendError(f"mlinfra backend init: could not {what}: {error}") from None


def _code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class AwsBackend:
    def __init__(self, options: Options):
        self.bucket = options.bucket
        session = boto3.session.Session(region_name=options.region)
        if not session.region_name:
            raise BackendError("mlinfra backend init: no AWS region given.\n"
                               "  fix: pass --region (e.g. --region eu-west-1), or set AWS_REGION")
        self.region = session.region_name
        config = Config(retries={"max_attempts": 3, "mode": "standard"})
        with aws_errors("set up the AWS clients"):
            clients = {name: session.client(name, endpoint_url=options.endpoint_url, config=config)
                       for name in ("s3", "kms", "sts")}
        self.s3, self.kms, self.sts = clients["s3"], clients["kms"], clients["sts"]
        self.alias = f"alias/{key_name(options.bucket)}"
        self.key_arn: Optional[str] = None

    # -- the plan ---------------------------------------------------------------------------

    def plan(self) -> Plan:
        with aws_errors("find out which AWS account the credentials belong to"):
            identity = self.sts.get_caller_identity()
        self.account = identity["Account"]
        self.partition = identity["Arn"].split(":")[1]
        plan = Plan(title=f"s3://{self.bucket} ({self.region})",
                    login=f"pulumi login 's3://{self.bucket}?region={self.region}&awssdk=v2'",
                    secrets_provider=f"awskms://{self.alias}?region={self.region}")
        self._plan_key(plan)
        if self._bucket_state() == "missing":
            plan.steps.append(Step(f"create S3 bucket {self.bucket} in {self.region} with object ownership "
                                   "BucketOwnerEnforced (ACLs off)", self._create_bucket))
            for check in self.CHECKS:
                needed = check(self, {}, missing=True)
                if needed:
                    plan.steps.append(needed.repair)
        else:
            current = self._read_bucket()
            for check in self.CHECKS:
                weakness = check(self, current, missing=False)
                if weakness:
                    plan.weaknesses.append(weakness)
            algorithm, key = current["encryption"]
            if algorithm.startswith("aws:kms") and key and not self._is_our_key(key):
                plan.notes.append(f"bucket {self.bucket} is encrypted with KMS key {key}, not {self.alias}; kept as it is")
        return plan

    def _plan_key(self, plan: Plan) -> None:
        with aws_errors(f"look up KMS key {self.alias}"):
            try:
                meta = self.kms.describe_key(KeyId=self.alias)["KeyMetadata"]
            except botocore.exceptions.ClientError as error:
                if _code(error) != "NotFoundException":
                    raise
                meta = None
        if meta is None:
            plan.steps.append(Step(f"create KMS key {self.alias} (symmetric, for encrypt/decrypt) "
                                   "with yearly automatic rotation", self._create_key))
            return
        self.key_arn = meta["Arn"]
        if meta.get("KeyState") != "Enabled":
            fix = ("aws kms cancel-key-deletion --key-id {0} && aws kms enable-key --key-id {0}"
                   if meta.get("KeyState") == "PendingDeletion" else "aws kms enable-key --key-id {0}")
            raise BackendError(f"mlinfra backend init: KMS key {self.alias} ({meta['KeyId']}) is "
                               f"{meta.get('KeyState')}, so Pulumi could not encrypt or decrypt secrets with it.\n"
                               f"  fix: {fix.format(meta['KeyId'])}\nNothing was changed.")
        if meta.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT" or meta.get("KeyUsage") != "ENCRYPT_DECRYPT":
            raise BackendError(f"mlinfra backend init: {self.alias} points at a {meta.get('KeySpec')} "
                               f"{meta.get('KeyUsage')} key; Pulumi's awskms secrets provider needs a "
                               "symmetric ENCRYPT_DECRYPT key.\n  fix: delete or repoint the alias "
                               f"(aws kms delete-alias --alias-name {self.alias})\nNothing was changed.")
        with aws_errors(f"read the rotation of KMS key {self.alias}"):
            rotating = self.kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"]
        if not rotating:
            plan.weaknesses.append(Weakness(
                f"KMS key {self.alias} rotation", "off",
                Step(f"turn on automatic yearly rotation of KMS key {self.alias}", self._enable_rotation)))

    def _bucket_state(self) -> str:
        """"missing", or "ours"; a bucket of another account is refused here."""
        with aws_errors(f"look up bucket {self.bucket}"):
            try:
                # ExpectedBucketOwner makes S3 answer 403 for a bucket of another account.
                head = self.s3.head_bucket(Bucket=self.bucket, ExpectedBucketOwner=self.account)
            except botocore.exceptions.ClientError as error:
                if _code(error) in ("404", "NoSuchBucket"):
                    return "missing"
                if _code(error) in ("403", "AccessDenied"):
                    raise self._taken() from None
                raise
        region = head.get("BucketRegion") or head["ResponseMetadata"]["HTTPHeaders"].get("x-amz-bucket-region")
        if region and region != self.region:
            raise BackendError(f"mlinfra backend init: bucket {self.bucket} is in {region}, not {self.region}.\n"
                               f"  fix: rerun with --region {region}\nNothing was changed.")
        if not self._in_own_listing():
            raise self._taken()
        return "ours"

    def _in_own_listing(self) -> bool:
        """Second check of ownership, for S3-compatible servers that ignore ExpectedBucketOwner."""
        with aws_errors("list the account's buckets"):
            try:
                pages = self.s3.get_paginator("list_buckets").paginate(Prefix=self.bucket)
                return any(b["Name"] == self.bucket for page in pages for b in page.get("Buckets", []))
            except botocore.exceptions.ClientError as error:
                if _code(error) in DENIED:
                    return True  # cannot list: the ExpectedBucketOwner check above already held
                raise

    def _taken(self) -> BackendError:
        return BackendError(f"mlinfra backend init: the bucket name {self.bucket} is taken by another AWS "
                            f"account (or this identity may not read it; account {self.account}).\n"
                            "  fix: choose another --bucket name (S3 names are global), e.g. "
                            f"{self.account}-pulumi-state\nNothing was changed.")

    def _read_bucket(self) -> dict[str, Any]:
        b = self.bucket
        with aws_errors(f"read the settings of bucket {b}"):
            current: dict[str, Any] = {
                "versioning": self.s3.get_bucket_versioning(Bucket=b).get("Status", "never enabled")}
            rules = self._optional(self.s3.get_bucket_encryption, b, "ServerSideEncryptionConfiguration", "Rules") or []
            default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
            current["encryption"] = (default.get("SSEAlgorithm", "none"), default.get("KMSMasterKeyID"))
            current["public_access"] = self._optional(self.s3.get_public_access_block, b,
                                                      "PublicAccessBlockConfiguration") or {}
            ownership = self._optional(self.s3.get_bucket_ownership_controls, b, "OwnershipControls", "Rules") or []
            current["ownership"] = ownership[0].get("ObjectOwnership") if ownership else None
            policy = self._optional(self.s3.get_bucket_policy, b, "Policy")
            current["policy"] = json.loads(policy) if policy else None
        return current

    @staticmethod
    def _optional(call: Any, bucket: str, *keys: str) -> Any:
        try:
            value: Any = call(Bucket=bucket)
        except botocore.exceptions.ClientError as error:
            if _code(error) in NOT_CONFIGURED:
                return None
            raise
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def _is_our_key(self, key: str) -> bool:
        return key in (self.key_arn, self.alias) or (self.key_arn or "").endswith("/" + key)

    # -- the checks: each returns the weakness of an existing bucket, or the step for a new one --

    def _check_public_access(self, current: dict, missing: bool) -> Optional[Weakness]:
        off = [name for name in PUBLIC_ACCESS_BLOCK if not current.get("public_access", {}).get(name)]
        step = Step("block all public access (the four public access block settings on)", self._block_public)
        return Weakness("public access block", ", ".join(off) + " off", step) if missing or off else None

    def _check_ownership(self, current: dict, missing: bool) -> Optional[Weakness]:
        found = current.get("ownership")
        if missing:
            return None  # set by CreateBucket itself
        step = Step("set object ownership to BucketOwnerEnforced (ACLs off)", self._enforce_owner)
        return Weakness("object ownership", found or "not set (ACLs on)", step) if found != "BucketOwnerEnforced" else None

    def _check_versioning(self, current: dict, missing: bool) -> Optional[Weakness]:
        found = current.get("versioning")
        step = Step("turn on versioning (every state file write stays recoverable)", self._enable_versioning)
        return Weakness("versioning", found, step) if missing or found != "Enabled" else None

    def _check_encryption(self, current: dict, missing: bool) -> Optional[Weakness]:
        algorithm, _ = current.get("encryption", ("none", None))
        step = Step(f"encrypt new objects by default with SSE-KMS using {self.alias} (S3 Bucket Key on)",
                    self._encrypt)
        if missing or not algorithm.startswith("aws:kms"):
            return Weakness("default encryption", f"{algorithm} (not SSE-KMS)", step)
        return None

    def _check_tls_policy(self, current: dict, missing: bool) -> Optional[Weakness]:
        policy = current.get("policy")
        step = Step("add a bucket policy statement denying every request not made over TLS "
                    "(aws:SecureTransport false)", lambda: self._require_tls(policy))
        if missing or not denies_insecure_transport(policy, self._arn()):
            return Weakness("TLS-only bucket policy", "no statement denies non-TLS requests", step)
        return None

    CHECKS = (_check_public_access, _check_ownership, _check_versioning, _check_encryption, _check_tls_policy)

    # -- the changes --------------------------------------------------------------------------

    def _arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.bucket}"

    def _create_key(self) -> None:
        with aws_errors(f"create KMS key {self.alias}"):
            meta = self.kms.create_key(
                Description=f"Pulumi secrets provider for state bucket {self.bucket} (mlinfra backend init)",
                KeyUsage="ENCRYPT_DECRYPT", KeySpec="SYMMETRIC_DEFAULT",
                Tags=[{"TagKey": k, "TagValue": v} for k, v in TAGS.items()])["KeyMetadata"]
            self.key_arn = meta["Arn"]
            self.kms.create_alias(AliasName=self.alias, TargetKeyId=meta["KeyId"])
            self.kms.enable_key_rotation(KeyId=meta["KeyId"])

    def _enable_rotation(self) -> None:
        with aws_errors(f"turn on rotation of KMS key {self.alias}"):
            self.kms.enable_key_rotation(KeyId=self.key_arn)

    def _create_bucket(self) -> None:
        args: dict[str, Any] = {"Bucket": self.bucket, "ObjectOwnership": "BucketOwnerEnforced"}
        if self.region != "us-east-1":  # us-east-1 is the one region S3 refuses as a LocationConstraint
            args["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        with aws_errors(f"create bucket {self.bucket}"):
            try:
                self.s3.create_bucket(**args)
            except botocore.exceptions.ClientError as error:
                if _code(error) == "BucketAlreadyExists":
                    raise self._taken() from None
                raise
            self.s3.put_bucket_tagging(Bucket=self.bucket, Tagging={
                "TagSet": [{"Key": k, "Value": v} for k, v in TAGS.items()]})

    def _block_public(self) -> None:
        with aws_errors(f"block public access to bucket {self.bucket}"):
            self.s3.put_public_access_block(Bucket=self.bucket, ExpectedBucketOwner=self.account,
                                            PublicAccessBlockConfiguration={k: True for k in PUBLIC_ACCESS_BLOCK})

    def _enforce_owner(self) -> None:
        with aws_errors(f"set object ownership of bucket {self.bucket}"):
            self.s3.put_bucket_ownership_controls(Bucket=self.bucket, ExpectedBucketOwner=self.account,
                                                  OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})

    def _enable_versioning(self) -> None:
        with aws_errors(f"turn on versioning of bucket {self.bucket}"):
            self.s3.put_bucket_versioning(Bucket=self.bucket, ExpectedBucketOwner=self.account,
                                          VersioningConfiguration={"Status": "Enabled"})

    def _encrypt(self) -> None:
        with aws_errors(f"set default encryption of bucket {self.bucket}"):
            self.s3.put_bucket_encryption(Bucket=self.bucket, ExpectedBucketOwner=self.account,
                                          ServerSideEncryptionConfiguration={"Rules": [{
                                              "ApplyServerSideEncryptionByDefault": {
                                                  "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": self.key_arn},
                                              "BucketKeyEnabled": True}]})

    def _require_tls(self, existing: Optional[dict]) -> None:
        # The user's own statements are kept; ours replaces an older statement of the same Sid.
        document = dict(existing or {"Version": "2012-10-17"})
        statements = [s for s in _statements(document) if s.get("Sid") != TLS_SID]
        arn = self._arn()
        statements.append({"Sid": TLS_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                           "Resource": [arn, f"{arn}/*"],
                           "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
        document["Statement"] = statements
        with aws_errors(f"set the bucket policy of {self.bucket}"):
            self.s3.put_bucket_policy(Bucket=self.bucket, ExpectedBucketOwner=self.account,
                                      Policy=json.dumps(document))


def _statements(document: dict) -> list[dict]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def denies_insecure_transport(policy: Optional[dict], bucket_arn: str) -> bool:
    """Whether some statement denies every principal every S3 action on the bucket and its
    objects when the request is not TLS. A narrower statement does not count."""
    for s in _statements(policy or {}):
        principal = s.get("Principal")
        everyone = principal == "*" or (isinstance(principal, dict) and "*" in _as_list(principal.get("AWS")))
        resources = set(_as_list(s.get("Resource", [])))
        covers = "*" in resources or {bucket_arn, f"{bucket_arn}/*"} <= resources
        condition = {k.lower(): v for k, v in s.get("Condition", {}).get("Bool", {}).items()}
        insecure = [str(v).lower() for v in _as_list(condition.get("aws:securetransport"))] == ["false"]
        if (s.get("Effect") == "Deny" and everyone and covers and insecure
                and {"s3:*", "*"} & set(_as_list(s.get("Action", [])))):
            return True
    return False


def plan(options: Options) -> Plan:
    return AwsBackend(options).plan()
