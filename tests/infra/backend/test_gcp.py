"""`mlinfra backend init --cloud gcp`: the bucket against gcp-storage-emulator on loopback; the
Cloud KMS key against FakeKmsClient (Cloud KMS has no local emulator, so the KMS calls are
tested against the fake's record of them, not against a server)."""

from __future__ import annotations

import datetime

import pytest

from tests.infra.backend.fixtures import FakeKmsClient, gcs, gcs_server, run_cli  # noqa: F401 - fixtures

KEY = "projects/acme-ml/locations/us/keyRings/pulumi/cryptoKeys/pulumi-acme-state"
LOGIN = "  pulumi login gs://acme-state"
SECRETS = f'  pulumi stack init <stack> --secrets-provider="gcpkms://{KEY}"'


@pytest.fixture
def kms(monkeypatch) -> FakeKmsClient:
    fake = FakeKmsClient()
    from google.cloud import kms as kms_module

    monkeypatch.setattr(kms_module, "KeyManagementServiceClient", lambda: fake)
    return fake


def init(capsys, *extra: str, bucket: str = "acme-state"):
    return run_cli(capsys, "--cloud", "gcp", "--bucket", bucket, "--project", "acme-ml", "--location", "US", *extra)


def state(gcs, bucket: str = "acme-state") -> dict:
    b = gcs.get_bucket(bucket)
    return {"uniform": b.iam_configuration.uniform_bucket_level_access_enabled,
            "prevention": b.iam_configuration.public_access_prevention,
            "versioning": b.versioning_enabled,
            "soft_delete": b.soft_delete_policy.retention_duration_seconds,
            "labels": b.labels, "metageneration": b.metageneration}


def make_weak_bucket(gcs) -> None:
    """As `gsutil mb` made buckets before these defaults: ACLs, public access inherited, no versions."""
    bucket = gcs.create_bucket("acme-state", location="US")
    bucket.soft_delete_policy.retention_duration_seconds = 0
    bucket.patch()


def test_creates_a_hardened_bucket_and_a_rotating_key_and_prints_the_exact_lines(gcs, kms, capsys):
    code, out, err = init(capsys)
    assert (code, err) == (0, "")
    assert out.splitlines()[-2:] == [LOGIN, SECRETS]
    got = state(gcs)
    assert (got["uniform"], got["prevention"], got["versioning"]) == (True, "enforced", True)
    assert got["soft_delete"] == 7 * 24 * 3600
    assert got["labels"] == {"managed-by": "mlinfra", "purpose": "pulumi-state"}
    key = kms.keys[KEY]
    assert key.purpose.name == "ENCRYPT_DECRYPT"
    assert key.version_template.algorithm.name == "GOOGLE_SYMMETRIC_ENCRYPTION"
    assert key.rotation_period == datetime.timedelta(days=90)
    assert list(kms.rings) == ["projects/acme-ml/locations/us/keyRings/pulumi"]
    assert kms.writes() == ["create_key_ring", "create_crypto_key"]


def test_a_second_run_reports_no_change_and_modifies_nothing(gcs, kms, capsys):
    init(capsys)
    before, calls = state(gcs), len(kms.calls)
    code, out, _ = init(capsys)
    assert code == 0
    assert "gs://acme-state (project acme-ml) is already set up: nothing changed." in out
    assert out.splitlines()[-2:] == [LOGIN, SECRETS]
    assert state(gcs) == before  # metageneration too: no patch reached the bucket
    assert [m for m, _ in kms.calls[calls:]] == ["get_key_ring", "get_crypto_key"]


def test_refuses_an_existing_weak_bucket_listing_each_weak_setting(gcs, kms, capsys):
    make_weak_bucket(gcs)
    before = state(gcs)
    code, out, err = init(capsys)
    assert code == 1 and "Traceback" not in err
    lines = err.splitlines()
    assert lines[0] == ("mlinfra backend init: gs://acme-state (project acme-ml) already exists with 4 settings "
                        "weaker than a state backend needs:")
    for line in ("  uniform bucket-level access: off (object ACLs apply)",
                 "  public access prevention: inherited",
                 "  versioning: off",
                 "  soft delete: off",
                 "    fix: enforce public access prevention"):
        assert line in lines
    assert state(gcs) == before
    assert kms.writes() == []


def test_fix_repairs_a_weak_bucket(gcs, kms, capsys):
    make_weak_bucket(gcs)
    code, out, _ = init(capsys, "--fix")
    assert code == 0 and "  + turn on versioning (every state file write stays recoverable)" in out
    got = state(gcs)
    assert (got["uniform"], got["prevention"], got["versioning"], got["soft_delete"]) == (True, "enforced", True, 604800)
    assert "is already set up: nothing changed." in init(capsys)[1]


def test_fix_sets_the_rotation_of_a_key_that_never_rotates(gcs, kms, capsys):
    init(capsys)
    del kms.keys[KEY].rotation_period
    del kms.keys[KEY].next_rotation_time
    code, _, err = init(capsys)
    assert code == 1 and "  Cloud KMS key pulumi-acme-state rotation: never rotates" in err.splitlines()
    assert init(capsys, "--fix")[0] == 0
    method, request = kms.calls[-1]
    assert method == "update_crypto_key" and list(request.update_mask.paths) == ["rotation_period", "next_rotation_time"]
    assert kms.keys[KEY].rotation_period == datetime.timedelta(days=90)


def test_dry_run_reports_what_it_would_create_and_changes_nothing(gcs, kms, capsys):
    code, out, _ = init(capsys, "--dry-run")
    assert code == 0
    assert "dry run: would make 3 changes to gs://acme-state (project acme-ml):" in out
    assert f"  would create Cloud KMS key {KEY} (symmetric, rotated every 90 days)" in out.splitlines()
    assert out.splitlines()[-2:] == [LOGIN, SECRETS]
    assert list(gcs.list_buckets()) == [] and kms.writes() == []


def test_dry_run_of_a_weak_bucket_refuses_it_as_a_real_run_would(gcs, kms, capsys):
    make_weak_bucket(gcs)
    before = state(gcs)
    code, _, err = init(capsys, "--dry-run")
    assert code == 1 and "Rerun with --fix to make these changes, or change them yourself." in err
    assert state(gcs) == before


def test_reports_access_denied_on_the_key_with_the_roles_needed(gcs, monkeypatch, capsys):
    fake = FakeKmsClient(deny=("create_key_ring",))
    from google.cloud import kms as kms_module

    monkeypatch.setattr(kms_module, "KeyManagementServiceClient", lambda: fake)
    code, out, err = init(capsys)
    assert code == 1 and "Traceback" not in err
    assert err.startswith("mlinfra backend init: access denied: could not create the key ring "
                          "(Permission 'cloudkms.create_key_ring' denied).")
    assert "roles/cloudkms.admin on project acme-ml" in err
    assert "  + create Cloud KMS key ring" in out  # how far it got


def test_reports_missing_credentials_without_a_traceback(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    # Should google-auth ever fall through to the metadata server, it finds loopback, not the network.
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    code, out, err = init(capsys)
    assert (code, out) == (1, "")
    assert err.startswith("mlinfra backend init: no usable Google Cloud credentials")
    assert "gcloud auth application-default login" in err


def test_reports_a_missing_project_and_location(gcs, kms, capsys):
    code, _, err = run_cli(capsys, "--cloud", "gcp", "--bucket", "acme-state", "--location", "US")
    assert code == 1 and "fix: pass --project" in err
    code, _, err = run_cli(capsys, "--cloud", "gcp", "--bucket", "acme-state", "--project", "acme-ml")
    assert code == 1 and "fix: pass --location" in err


@pytest.mark.parametrize("name, why", [
    ("acme_State!", "may have only lowercase letters"),
    ("google-state", "contains 'google'"),
    ("192.168.1.1", "looks like an IP address"),
])
def test_rejects_an_invalid_bucket_name_before_calling_google(gcs, kms, capsys, name, why):
    code, _, err = init(capsys, bucket=name)
    assert code == 1 and why in err and kms.calls == []


def test_names_the_eu_key_ring_in_the_europe_kms_location(gcs, kms, capsys):
    code, out, _ = run_cli(capsys, "--cloud", "gcp", "--bucket", "acme-state", "--project", "acme-ml",
                           "--location", "EU")
    assert code == 0 and "gcpkms://projects/acme-ml/locations/europe/keyRings/pulumi/cryptoKeys/" in out


def test_refuses_a_name_someone_else_takes_between_the_look_up_and_the_create(gcs, monkeypatch, capsys):
    class RacingKms(FakeKmsClient):
        def create_key_ring(self, request):
            gcs.create_bucket("acme-state")  # another creator wins the name while init runs its first step
            return super().create_key_ring(request)

    fake = RacingKms()
    from google.cloud import kms as kms_module

    monkeypatch.setattr(kms_module, "KeyManagementServiceClient", lambda: fake)
    code, out, err = init(capsys)
    assert code == 1 and "Traceback" not in err
    assert err.startswith("mlinfra backend init: the bucket name acme-state is taken by another project")
    assert "fix: choose another --bucket name" in err
