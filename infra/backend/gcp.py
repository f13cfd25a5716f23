"""The state backend on Google Cloud: a hardened Cloud Storage bucket and a Cloud KMS key for
Pulumi's secrets provider.

google-cloud-storage honours STORAGE_EMULATOR_HOST (tests run against a local emulator). Cloud
KMS has no emulator, so its calls go through KeyService, a small interface over Google's client;
tests pass a fake of that client.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import warnings
from dataclasses import dataclass
from typing import Any, Iterator, Optional, Protocol

import google.auth.exceptions
import requests

from infra.backend.common import BackendError, Options, Plan, Step, Weakness, key_name

# Google's clients warn, on import, about Python versions they will drop some day: noise for
# someone bootstrapping a bucket, so they are imported with that warning silenced.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    from google.api_core import exceptions as gexc
    from google.cloud import storage

KEY_RING = "pulumi"
ROTATION_SECONDS = 90 * 24 * 3600   # Google's recommended ceiling for symmetric keys
SOFT_DELETE_SECONDS = 7 * 24 * 3600  # Cloud Storage's default for new buckets
LABELS = {"managed-by": "mlinfra", "purpose": "pulumi-state"}
# Cloud Storage multi-regions whose Cloud KMS location has another name.
KMS_LOCATIONS = {"eu": "europe"}


@contextlib.contextmanager
def gcp_errors(what: str, project: str) -> Iterator[None]:
    """Turn Google client errors into one message naming the call that failed and the fix."""
    try:
        yield
    except (google.auth.exceptions.DefaultCredentialsError, google.auth.exceptions.RefreshError) as error:
        raise BackendError(f"mlinfra backend init: no usable Google Cloud credentials ({error}).\n"
                           "  fix: run `gcloud auth application-default login`, or set "
                           "GOOGLE_APPLICATION_CREDENTIALS\nNothing was changed.") from None
    except gexc.Unauthenticated as error:
        raise BackendError(f"mlinfra backend init: Google Cloud rejected the credentials while trying to "
                           f"{what} ({error.message}).\n  fix: `gcloud auth application-default login`") from None
    except gexc.Forbidden as error:  # PermissionDenied (gRPC) is a Forbidden too
        raise BackendError(f"mlinfra backend init: access denied: could not {what} ({error.message}).\n"
                           f"  fix: run as an identity with roles/storage.admin and roles/cloudkms.admin on "
                           f"project {project}, and check that the Cloud KMS API is enabled "
                           f"(gcloud services enable cloudkms.googleapis.com --project {project})") from None
    except gexc.GoogleAPICallError as error:
        raise BackendError(f"mlinfra backend init: Google Cloud refused to {what}: {error.code} {error.message}") from None
    except (requests.exceptions.ConnectionError, google.auth.exceptions.TransportError) as error:
        raise BackendError(f"mlinfra backend init: cannot reach Google Cloud to {what}: {error}.\n"
                           "  fix: check the network (and STORAGE_EMULATOR_HOST, if set)") from None


@dataclass
class KeyInfo:
    purpose: str                     # e.g. "ENCRYPT_DECRYPT"
    rotation_seconds: Optional[int]  # None: never rotates


class KeyService(Protocol):
    def key_ring_exists(self, name: str) -> bool: ...
    def create_key_ring(self, parent: str, key_ring_id: str) -> None: ...
    def get_key(self, name: str) -> Optional[KeyInfo]: ...
    def create_key(self, parent: str, key_id: str, rotation_seconds: int) -> None: ...
    def set_rotation(self, name: str, rotation_seconds: int) -> None: ...


class GoogleKms:
    """KeyService over google-cloud-kms's KeyManagementServiceClient (or a fake of it)."""

    def __init__(self, client: Any):
        self.client = client

    def key_ring_exists(self, name: str) -> bool:
        try:
            self.client.get_key_ring(request={"name": name})
            return True
        except gexc.NotFound:
            return False

    def create_key_ring(self, parent: str, key_ring_id: str) -> None:
        self.client.create_key_ring(request={"parent": parent, "key_ring_id": key_ring_id, "key_ring": {}})

    def get_key(self, name: str) -> Optional[KeyInfo]:
        try:
            key = self.client.get_crypto_key(request={"name": name})
        except gexc.NotFound:
            return None
        period = key.rotation_period
        seconds = int(period.total_seconds()) if period else None
        return KeyInfo(purpose=type(key.purpose)(key.purpose).name, rotation_seconds=seconds or None)

    def create_key(self, parent: str, key_id: str, rotation_seconds: int) -> None:
        self.client.create_crypto_key(request={
            "parent": parent, "crypto_key_id": key_id,
            "crypto_key": {"purpose": "ENCRYPT_DECRYPT",
                           "version_template": {"algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION"},
                           "labels": LABELS, **_rotation(rotation_seconds)}})

    def set_rotation(self, name: str, rotation_seconds: int) -> None:
        self.client.update_crypto_key(request={
            "crypto_key": {"name": name, **_rotation(rotation_seconds)},
            "update_mask": {"paths": ["rotation_period", "next_rotation_time"]}})


def _rotation(seconds: int) -> dict[str, Any]:
    first = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return {"rotation_period": datetime.timedelta(seconds=seconds), "next_rotation_time": first}


def kms_location(location: str) -> str:
    location = location.lower()
    return KMS_LOCATIONS.get(location, location)


class GcpBackend:
    def __init__(self, options: Options, kms_client: Any = None):
        self.bucket_name = options.bucket
        self.project = (options.project or os.environ.get("GOOGLE_CLOUD_PROJECT")
                        or os.environ.get("CLOUDSDK_CORE_PROJECT") or "")
        if not self.project:
            raise BackendError("mlinfra backend init: no Google Cloud project given.\n"
                               "  fix: pass --project (e.g. --project acme-ml-prod), or set GOOGLE_CLOUD_PROJECT")
        if not options.region:
            raise BackendError("mlinfra backend init: no location given for the bucket and its key.\n"
                               "  fix: pass --location (a region such as us-central1, or US / EU / ASIA)")
        self.location = options.region
        with gcp_errors("set up the Google Cloud clients", self.project):
            self.storage = storage.Client(project=self.project)
            if kms_client is None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)
                    from google.cloud import kms
                kms_client = kms.KeyManagementServiceClient()
        self.kms: KeyService = GoogleKms(kms_client)
        self.ring = f"projects/{self.project}/locations/{kms_location(self.location)}/keyRings/{KEY_RING}"
        self.key = f"{self.ring}/cryptoKeys/{key_name(self.bucket_name)}"

    def plan(self) -> Plan:
        plan = Plan(title=f"gs://{self.bucket_name} (project {self.project})",
                    login=f"pulumi login gs://{self.bucket_name}",
                    secrets_provider=f"gcpkms://{self.key}")
        with gcp_errors(f"look up Cloud KMS key {self.key}", self.project):
            self._plan_key(plan)
        with gcp_errors(f"look up bucket {self.bucket_name}", self.project):
            try:
                bucket = self.storage.get_bucket(self.bucket_name)
            except gexc.NotFound:
                bucket = None
            except gexc.Forbidden:
                raise self._taken() from None
        if bucket is None:
            plan.steps.append(Step(f"create Cloud Storage bucket {self.bucket_name} in {self.location} with "
                                   "uniform bucket-level access, public access prevention enforced, versioning "
                                   "and 7-day soft delete", self._create_bucket))
            return plan
        if bucket.location and bucket.location.lower() != self.location.lower():
            plan.notes.append(f"bucket {self.bucket_name} is in {bucket.location}, not {self.location}; "
                              "a bucket's location cannot change, so it is kept")
        plan.weaknesses.extend(self._weaknesses(bucket))
        return plan

    def _plan_key(self, plan: Plan) -> None:
        ring_id = self.ring.rsplit("/", 1)[1]
        parent = self.ring.rsplit("/keyRings/", 1)[0]
        ring_missing = not self.kms.key_ring_exists(self.ring)
        if ring_missing:
            plan.steps.append(Step(f"create Cloud KMS key ring {self.ring}",
                                   self._kms_call("create the key ring", self.kms.create_key_ring, parent, ring_id)))
        info = None if ring_missing else self.kms.get_key(self.key)
        if info is None:
            plan.steps.append(Step(f"create Cloud KMS key {self.key} (symmetric, rotated every 90 days)",
                                   self._kms_call("create the key", self.kms.create_key, self.ring,
                                                  self.key.rsplit("/", 1)[1], ROTATION_SECONDS)))
            return
        if info.purpose != "ENCRYPT_DECRYPT":
            raise BackendError(f"mlinfra backend init: Cloud KMS key {self.key} has purpose {info.purpose}; "
                               "Pulumi's gcpkms secrets provider needs ENCRYPT_DECRYPT.\n  fix: a key's purpose "
                               "cannot change; pass another --bucket (the key is named after it)\nNothing was changed.")
        if not info.rotation_seconds or info.rotation_seconds > ROTATION_SECONDS:
            found = "never rotates" if not info.rotation_seconds else f"rotates every {info.rotation_seconds // 86400} days"
            plan.weaknesses.append(Weakness(f"Cloud KMS key {self.key.rsplit('/', 1)[1]} rotation", found, Step(
                "rotate the Cloud KMS key every 90 days",
                self._kms_call("set the key's rotation", self.kms.set_rotation, self.key, ROTATION_SECONDS))))

    def _kms_call(self, what: str, call: Any, *args: Any) -> Any:
        def apply() -> None:
            with gcp_errors(what, self.project):
                call(*args)
        return apply

    def _taken(self) -> BackendError:
        return BackendError(f"mlinfra backend init: the bucket name {self.bucket_name} is taken by another "
                            f"project, or this identity may not read it (project {self.project}).\n"
                            "  fix: choose another --bucket name (Cloud Storage names are global), e.g. "
                            f"{self.project}-pulumi-state\nNothing was changed.")

    # Each rule: (setting, what it is now or None when it holds, what the repair does, the repair).
    def _weaknesses(self, bucket: storage.Bucket) -> list[Weakness]:
        iam = bucket.iam_configuration
        soft = (bucket.soft_delete_policy.retention_duration_seconds or 0) if bucket.soft_delete_policy else 0
        rules = [
            ("uniform bucket-level access", None if iam.uniform_bucket_level_access_enabled else "off (object ACLs apply)",
             "turn on uniform bucket-level access (IAM only, no object ACLs)",
             lambda b: setattr(b.iam_configuration, "uniform_bucket_level_access_enabled", True)),
            ("public access prevention", None if iam.public_access_prevention == "enforced" else iam.public_access_prevention,
             "enforce public access prevention",
             lambda b: setattr(b.iam_configuration, "public_access_prevention", "enforced")),
            ("versioning", None if bucket.versioning_enabled else "off",
             "turn on versioning (every state file write stays recoverable)",
             lambda b: setattr(b, "versioning_enabled", True)),
            ("soft delete", None if int(soft) > 0 else "off",
             "turn on soft delete (7 days, Cloud Storage's default)",
             lambda b: setattr(b.soft_delete_policy, "retention_duration_seconds", SOFT_DELETE_SECONDS)),
        ]
        return [Weakness(setting, found, Step(summary, self._patch(summary, change)))
                for setting, found, summary, change in rules if found is not None]

    def _patch(self, summary: str, change: Any) -> Any:
        def apply() -> None:
            with gcp_errors(summary, self.project):
                bucket = self.storage.bucket(self.bucket_name)
                bucket.reload()
                change(bucket)
                bucket.patch()
        return apply

    def _create_bucket(self) -> None:
        bucket = self.storage.bucket(self.bucket_name)
        bucket.iam_configuration.uniform_bucket_level_access_enabled = True
        bucket.iam_configuration.public_access_prevention = "enforced"
        bucket.versioning_enabled = True
        bucket.labels = dict(LABELS)
        with gcp_errors(f"create bucket {self.bucket_name}", self.project):
            try:
                created = self.storage.create_bucket(bucket, project=self.project, location=self.location)
            except gexc.Conflict:
                raise self._taken() from None
            # Read back and finish what the create did not take (some emulators ignore the
            # settings of an insert); on Cloud Storage itself this finds nothing to do.
            created.reload()
            if created.labels != LABELS:
                created.labels = dict(LABELS)
                created.patch()
        for weakness in self._weaknesses(created):
            weakness.repair.apply()


def plan(options: Options, kms_client: Any = None) -> Plan:
    return GcpBackend(options, kms_client=kms_client).plan()
