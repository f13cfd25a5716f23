"""`mlinfra backend init --cloud aws` against moto's S3, KMS, STS and IAM on loopback."""

from __future__ import annotations

import json

import boto3
import pytest

from infra.backend.aws import denies_insecure_transport
from tests.infra.backend.fixtures import aws, aws_calls, moto_url, run_cli, writes  # noqa: F401 - fixtures

REGION = "eu-west-1"
LOGIN = "  pulumi login 's3://acme-state?region=eu-west-1&awssdk=v2'"
SECRETS = '  pulumi stack init <stack> --secrets-provider="awskms://alias/pulumi-acme-state?region=eu-west-1"'


def init(capsys, *extra: str, bucket: str = "acme-state"):
    return run_cli(capsys, "--cloud", "aws", "--bucket", bucket, "--region", REGION, *extra)


def client(service: str, **credentials):
    return boto3.client(service, region_name=REGION, **credentials)


def settings(bucket: str) -> dict:
    """Everything about a bucket and its key that init manages, as S3 and KMS report it."""
    s3, kms = client("s3"), client("kms")
    key = kms.describe_key(KeyId=f"alias/pulumi-{bucket}")["KeyMetadata"]
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    return {
        "versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status"),
        "encryption": rule["ApplyServerSideEncryptionByDefault"],
        "bucket_key": rule.get("BucketKeyEnabled"),
        "public_access": s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"],
        "ownership": s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"],
        "policy": json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]),
        "key": key["Arn"], "rotation": kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"],
        "keys": len(kms.list_keys()["Keys"]),
    }


def make_weak_bucket(bucket: str = "acme-state") -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": False})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    # Someone's own statement, which a repair must keep.
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "CiReads", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))


def test_creates_a_hardened_bucket_and_a_rotating_key_and_prints_the_exact_lines(aws, capsys):
    code, out, err = init(capsys)
    assert (code, err) == (0, "")
    assert out.splitlines()[-2:] == [LOGIN, SECRETS]
    got = settings("acme-state")
    assert got["versioning"] == "Enabled"
    assert got["encryption"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": got["key"]}
    assert got["bucket_key"] is True
    assert got["public_access"] == dict.fromkeys(
        ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"], True)
    assert got["ownership"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert denies_insecure_transport(got["policy"], "arn:aws:s3:::acme-state")
    assert got["rotation"] is True
    assert client("s3").get_bucket_location(Bucket="acme-state")["LocationConstraint"] == REGION


def test_a_second_run_reports_no_change_and_makes_no_write_call(aws, aws_calls, capsys):
    init(capsys)
    before = settings("acme-state")
    aws_calls.clear()
    code, out, _ = init(capsys)
    assert code == 0
    assert "s3://acme-state (eu-west-1) is already set up: nothing changed." in out
    assert out.splitlines()[-2:] == [LOGIN, SECRETS]
    assert aws_calls and writes(aws_calls) == []
    assert settings("acme-state") == before


def test_refuses_an_existing_weak_bucket_listing_each_weak_setting(aws, aws_calls, capsys):
    make_weak_bucket()
    code, out, err = init(capsys)
    assert code == 1 and "Traceback" not in err
    for line in ("  public access block: BlockPublicPolicy, RestrictPublicBuckets off",
                 "  object ownership: not set (ACLs on)",
                 "  versioning: Suspended",
                 "  default encryption: AES256 (not SSE-KMS)",
                 "  TLS-only bucket policy: no statement denies non-TLS requests",
                 "    fix: turn on versioning (every state file write stays recoverable)"):
        assert line in err.splitlines()
    assert "Rerun with --fix" in err
    assert writes(aws_calls) == ["s3.CreateBucket", "s3.PutBucketVersioning", "s3.PutPublicAccessBlock",
                                 "s3.PutBucketEncryption", "s3.PutBucketPolicy"]  # the test's own, none of init's


def test_fix_repairs_a_weak_bucket_and_keeps_its_own_policy_statements(aws, capsys):
    make_weak_bucket()
    code, out, _ = init(capsys, "--fix")
    assert code == 0 and "Done." in out
    got = settings("acme-state")
    assert got["versioning"] == "Enabled" and got["encryption"]["SSEAlgorithm"] == "aws:kms"
    assert all(got["public_access"].values()) and got["ownership"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert [s["Sid"] for s in got["policy"]["Statement"]] == ["CiReads", "DenyInsecureTransport"]
    assert "is already set up: nothing changed." in init(capsys)[1]


def test_fix_turns_on_rotation_of_an_existing_key(aws, capsys):
    init(capsys)
    kms = client("kms")
    key_id = kms.describe_key(KeyId="alias/pulumi-acme-state")["KeyMetadata"]["KeyId"]
    kms.disable_key_rotation(KeyId=key_id)
    code, _, err = init(capsys)
    assert code == 1 and "  KMS key alias/pulumi-acme-state rotation: off" in err.splitlines()
    assert init(capsys, "--fix")[0] == 0
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True


def test_dry_run_reports_what_it_would_create_and_changes_nothing(aws, aws_calls, capsys):
    code, out, _ = init(capsys, "--dry-run")
    assert code == 0
    assert "dry run: would make 6 changes to s3://acme-state (eu-west-1):" in out
    assert "  would create KMS key alias/pulumi-acme-state (symmetric, for encrypt/decrypt) with yearly " \
           "automatic rotation" in out.splitlines()
    assert out.splitlines()[-2:] == [LOGIN, SECRETS]
    assert writes(aws_calls) == []
    assert client("s3").list_buckets()["Buckets"] == [] and client("kms").list_keys()["Keys"] == []


def test_dry_run_with_fix_lists_the_repairs_and_changes_nothing(aws, aws_calls, capsys):
    make_weak_bucket()
    aws_calls.clear()
    code, out, _ = init(capsys, "--dry-run", "--fix")
    assert code == 0 and "  would turn on versioning (every state file write stays recoverable)" in out
    assert writes(aws_calls) == []
    assert client("s3").get_bucket_versioning(Bucket="acme-state")["Status"] == "Suspended"


def test_refuses_a_bucket_name_taken_by_another_account(aws, capsys):
    credentials = client("sts").assume_role(RoleArn="arn:aws:iam::111111111111:role/other",
                                            RoleSessionName="other")["Credentials"]
    other = client("s3", aws_access_key_id=credentials["AccessKeyId"],
                   aws_secret_access_key=credentials["SecretAccessKey"],
                   aws_session_token=credentials["SessionToken"])
    other.create_bucket(Bucket="acme-state", CreateBucketConfiguration={"LocationConstraint": REGION})
    code, _, err = init(capsys)
    assert code == 1
    assert "the bucket name acme-state is taken by another AWS account" in err
    assert "fix: choose another --bucket name" in err and "Traceback" not in err


def test_refuses_a_bucket_in_another_region_naming_the_region(aws, capsys):
    boto3.client("s3", region_name="us-west-2").create_bucket(
        Bucket="acme-state", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    code, _, err = init(capsys)
    assert code == 1 and "fix: rerun with --region us-west-2" in err


def test_reports_access_denied_with_the_permissions_needed(aws, capsys, monkeypatch):
    from moto.core.authorization import enable_iam_authentication

    iam = client("iam")
    iam.create_user(UserName="nobody")
    key = iam.create_access_key(UserName="nobody")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    with enable_iam_authentication():
        code, _, err = init(capsys)
    assert code == 1 and "Traceback" not in err
    assert err.startswith("mlinfra backend init: access denied: could not ")
    assert "kms:CreateKey" in err


def test_reports_missing_credentials_without_a_traceback(aws, capsys, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, out, err = init(capsys)
    assert (code, out) == (1, "")
    assert err.startswith("mlinfra backend init: no AWS credentials found.")
    assert "fix: set AWS_PROFILE" in err


def test_reports_a_missing_region(aws, capsys):
    code, _, err = run_cli(capsys, "--cloud", "aws", "--bucket", "acme-state")
    assert code == 1 and "fix: pass --region" in err


@pytest.mark.parametrize("name, why", [
    ("Acme_State", "may have only lowercase letters, digits and hyphens"),
    ("ab", "is 2 characters long"),
    ("acme.state", "contains a dot"),
    ("xn--acme", "starts with 'xn--'"),
])
def test_rejects_an_invalid_bucket_name_before_calling_aws(aws, aws_calls, capsys, name, why):
    code, _, err = init(capsys, bucket=name)
    assert code == 1 and why in err and aws_calls == []


def test_a_narrower_tls_statement_does_not_count_as_tls_only():
    arn = "arn:aws:s3:::acme-state"
    statement = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [f"{arn}/*"],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    assert not denies_insecure_transport({"Statement": [statement]}, arn)
    assert denies_insecure_transport({"Statement": [dict(statement, Resource=[arn, f"{arn}/*"])]}, arn)
    assert not denies_insecure_transport({"Statement": dict(statement, Resource=[arn, f"{arn}/*"],
                                                             Effect="Allow")}, arn)


def test_names_the_requirements_file_when_the_backend_packages_are_missing(aws, capsys, monkeypatch):
    import sys

    import infra.backend

    monkeypatch.delitem(sys.modules, "infra.backend.aws")
    monkeypatch.delattr(infra.backend, "aws")
    monkeypatch.setitem(sys.modules, "boto3", None)  # as if requirements-backend.txt was never installed
    code, _, err = init(capsys)
    assert code == 1
    assert err.startswith("mlinfra backend init --cloud aws needs boto3 (missing: boto3).")
    assert "fix: .venv/bin/pip install -r requirements-backend.txt" in err
