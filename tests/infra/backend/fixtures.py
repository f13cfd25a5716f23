"""Local servers for the state-backend tests, on loopback only, started and stopped here.

AWS: moto's ThreadedMotoServer (S3, KMS, STS, IAM) on a port the OS picks. Cloud Storage:
gcp-storage-emulator on a free loopback port. Cloud KMS has no emulator: FakeKmsClient stands
in for google-cloud-kms's client, takes the same requests (parsed into the real request
types, so a misspelt field fails) and records every call.
"""

from __future__ import annotations

import socket
import warnings
from typing import Any, Iterator

import pytest
import requests

from infra.cli import main


def run_cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["backend", "init", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> str:
    """A clean moto and an environment that can reach nothing but it."""
    requests.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    # No instance-metadata lookups (they would leave loopback), no profiles from this machine.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    return moto_url


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every AWS operation mlinfra calls, in order ("s3.PutBucketVersioning")."""
    import boto3.session

    calls: list[str] = []
    original = boto3.session.Session.client

    def client(self: Any, service: str, *args: Any, **kwargs: Any) -> Any:
        made = original(self, service, *args, **kwargs)
        made.meta.events.register("before-call", lambda model, **_: calls.append(f"{service}.{model.name}"))
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client)
    return calls


WRITES = ("Create", "Put", "Enable", "Delete", "Update", "Tag")


def writes(calls: list[str]) -> list[str]:
    return [c for c in calls if c.split(".", 1)[1].startswith(WRITES)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def gcs_server() -> Iterator[Any]:
    from gcp_storage_emulator.server import create_server

    port = _free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    server.url = f"http://127.0.0.1:{port}"
    yield server
    server.stop()


@pytest.fixture
def gcs(gcs_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A clean emulator, and a Cloud Storage client of it (as the tests' own view of the bucket)."""
    from infra.backend.gcp import storage  # imported there with Google's import-time warning silenced

    gcs_server.wipe()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.url)
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    return storage.Client(project="acme-ml")


class FakeKmsClient:
    """google-cloud-kms's KeyManagementServiceClient, as far as mlinfra uses it, in memory.

    Like Cloud KMS it refuses duplicates, a key in a missing ring, and a rotation period under
    a day or without a next rotation time."""

    def __init__(self, deny: tuple[str, ...] = ()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # google's notice about future Python versions
            from google.cloud import kms

        self.kms = kms
        self.deny = deny
        self.calls: list[tuple[str, Any]] = []
        self.rings: dict[str, Any] = {}
        self.keys: dict[str, Any] = {}

    def _record(self, method: str, request_type: Any, request: Any) -> Any:
        from google.api_core import exceptions

        parsed = request_type(request)
        self.calls.append((method, parsed))
        if method in self.deny:
            raise exceptions.PermissionDenied(f"Permission 'cloudkms.{method}' denied")
        return parsed

    def writes(self) -> list[str]:
        return [m for m, _ in self.calls if not m.startswith("get_")]

    def get_key_ring(self, request: Any) -> Any:
        req = self._record("get_key_ring", self.kms.GetKeyRingRequest, request)
        return self._get(self.rings, req.name)

    def create_key_ring(self, request: Any) -> Any:
        req = self._record("create_key_ring", self.kms.CreateKeyRingRequest, request)
        name = f"{req.parent}/keyRings/{req.key_ring_id}"
        self._absent(self.rings, name)
        self.rings[name] = self.kms.KeyRing(name=name)
        return self.rings[name]

    def get_crypto_key(self, request: Any) -> Any:
        req = self._record("get_crypto_key", self.kms.GetCryptoKeyRequest, request)
        return self._get(self.keys, req.name)

    def create_crypto_key(self, request: Any) -> Any:
        req = self._record("create_crypto_key", self.kms.CreateCryptoKeyRequest, request)
        self._get(self.rings, req.parent)
        name = f"{req.parent}/cryptoKeys/{req.crypto_key_id}"
        self._absent(self.keys, name)
        key = self.kms.CryptoKey(req.crypto_key)
        self._check_rotation(key)
        key.name = name
        self.keys[name] = key
        return key

    def update_crypto_key(self, request: Any) -> Any:
        req = self._record("update_crypto_key", self.kms.UpdateCryptoKeyRequest, request)
        key = self._get(self.keys, req.crypto_key.name)
        for path in req.update_mask.paths:
            setattr(key, path, getattr(req.crypto_key, path))
        self._check_rotation(key)
        return key

    @staticmethod
    def _get(store: dict, name: str) -> Any:
        from google.api_core import exceptions

        if name not in store:
            raise exceptions.NotFound(f"{name} not found.")
        return store[name]

    @staticmethod
    def _absent(store: dict, name: str) -> None:
        from google.api_core import exceptions

        if name in store:
            raise exceptions.AlreadyExists(f"{name} already exists.")

    @staticmethod
    def _check_rotation(key: Any) -> None:
        from google.api_core import exceptions

        if "rotation_period" in key and key.rotation_period.total_seconds() < 86400:
            raise exceptions.InvalidArgument("rotation_period must be at least 24 hours")
        if "rotation_period" in key and "next_rotation_time" not in key:
            raise exceptions.InvalidArgument("next_rotation_time is required with rotation_period")
