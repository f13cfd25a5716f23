"""Triton's response cache on Cloud Run: the same `--cache-config redis,...` flags as on GKE
(components/serving/runtimes.py), with what Cloud Run lacks filled in.

- Cloud Run does not expand `$(VAR)` in a container's args ("Variable references are not
  supported in Cloud Run", the v2 API's Container.args), so host and port are the instance's
  own values, written into the flags.
- Triton's `redis` cache takes the CA as a file (`cacert=<path>`, hiredis' CA file; there is no
  option for the PEM itself), and Cloud Run mounts files only from Cloud Storage or Secret
  Manager. The CA is a public certificate, but a Secret Manager secret is the right carrier: one
  small version the stack writes from the instance's own CA output, mounted read-only at the
  same path as on GKE (CACHE_CA_FILE), `latest` (a volume is read from Secret Manager on each
  read, so a rotated CA reaches running instances and the revision template never changes), and
  readable by the server's account alone (a binding on that secret). A bucket volume would mount
  gcsfuse for one file and need read access on a bucket for it.

Each server has its own secret (`<service>-cache-ca`, a fixed name: replaced by deleting it
first), in the service's region.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.serving import cache_wiring, runtimes
from components.serving.cache_wiring import CacheConnection

READ = "roles/secretmanager.secretAccessor"
VOLUME = "cache-ca"


@dataclass
class ResponseCache:
    """What a server's template gets: its flags, volume and mount, the CA file's variable, and
    the resources the service waits for."""

    args: list = field(default_factory=list)
    volumes: list = field(default_factory=list)
    mounts: list = field(default_factory=list)
    env: list = field(default_factory=list)
    resources: list = field(default_factory=list)


def secret_id(service_name: str) -> str:
    """The CA's Secret Manager secret of a service (letters, digits, hyphens: at most 72)."""
    return f"{service_name}-cache-ca"


def expand(args: list[str], cache: CacheConnection) -> list[Any]:
    """The flags with `$(CACHE_HOST)` and `$(CACHE_PORT)` replaced by the instance's values."""
    def one(arg: str) -> Any:
        if "$(" not in arg:
            return arg
        return pulumi.Output.all(cache.host, cache.port).apply(
            lambda hp: arg.replace("$(CACHE_HOST)", str(hp[0])).replace("$(CACHE_PORT)", str(hp[1])))
    return [one(a) for a in args]


def response_cache(parent: Any, name: str, *, spec: Any, cache: CacheConnection, service_name: str,
                   project: str, region: str, member: pulumi.Input[str]) -> ResponseCache:
    """The response cache of a server with `cache: true` whose runtime has one (Triton) and that
    sets no `args` of its own (then the whole argument list is the spec's); empty otherwise."""
    flags = runtimes.cache_args(spec.runtime, cache.tls, cache_wiring.CA_FILE) if spec.args is None else []
    if not flags:
        return ResponseCache()
    found = ResponseCache(args=expand(flags, cache))
    if not cache.tls:
        return found
    secret = gcp.secretmanager.Secret(
        f"{name}-cache-ca", secret_id=secret_id(service_name), project=project,
        replication=gcp.secretmanager.SecretReplicationArgs(
            user_managed=gcp.secretmanager.SecretReplicationUserManagedArgs(
                replicas=[gcp.secretmanager.SecretReplicationUserManagedReplicaArgs(location=region)])),
        opts=parent.child(delete_before_replace=True))
    version = gcp.secretmanager.SecretVersion(
        f"{name}-cache-ca-version", secret=secret.id, secret_data=cache.ca_cert, opts=parent.child())
    read = gcp.secretmanager.SecretIamMember(
        f"{name}-cache-ca-read", project=project, secret_id=secret.secret_id, role=READ, member=member,
        opts=parent.child())
    found.volumes.append(gcp.cloudrunv2.ServiceTemplateVolumeArgs(
        name=VOLUME, secret=gcp.cloudrunv2.ServiceTemplateVolumeSecretArgs(
            secret=secret.secret_id, default_mode=0o444,
            items=[gcp.cloudrunv2.ServiceTemplateVolumeSecretItemArgs(
                path=cache_wiring.CA_FILE.rsplit("/", 1)[1], version="latest")])))
    found.mounts.append(gcp.cloudrunv2.ServiceTemplateContainerVolumeMountArgs(
        name=VOLUME, mount_path=cache_wiring.CA_DIR))
    found.env.append(gcp.cloudrunv2.ServiceTemplateContainerEnvArgs(
        name=cache_wiring.ENV_CA_FILE, value=cache_wiring.CA_FILE))
    found.resources += [version, read]
    return found
