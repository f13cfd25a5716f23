"""How a workload reaches the stack's cache (`mlinfra:cache`): the variables it reads, the
Kubernetes Secret and file that carry them on GKE, and the runtime's own cache flags.

Every workload with `cache: true` gets the same contract, whatever runs it:
`CACHE_HOST`, `CACHE_PORT`, `CACHE_TLS` (`true`/`false`) and, with TLS, the CA that signs the
server's certificate: a file at `CACHE_CA_FILE` on GKE (the Secret's `ca.crt`, mounted), the
PEM itself in `CACHE_CA_CERT` on Cloud Run (a CA certificate is public, not a secret).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ENV_HOST, ENV_PORT, ENV_TLS = "CACHE_HOST", "CACHE_PORT", "CACHE_TLS"
ENV_CA_FILE, ENV_CA_CERT = "CACHE_CA_FILE", "CACHE_CA_CERT"
ENV_NAMES = (ENV_HOST, ENV_PORT, ENV_TLS, ENV_CA_FILE, ENV_CA_CERT)
"""Names mlinfra sets on a workload with `cache: true` (a spec's own `env` may not set them)."""
CONFIG_MAP_NAME = "mlinfra-cache"
"""The Kubernetes Secret in the workload's namespace: keys `host`, `port`, `ca.crt`."""
CA_DIR = "/etc/mlinfra/cache"
CA_FILE = f"{CA_DIR}/ca.crt"


@dataclass(frozen=True)
class CacheConnection:
    """Where the cache is: the Memorystore instance's outputs (Pulumi inputs: known at deploy time)."""

    host: Any
    port: Any
    ca_cert: Any
    """PEM of the server CA; empty without TLS."""
    tls: bool


def cache_env(cache: CacheConnection) -> list[dict[str, Any]]:
    """Plain `{name, value}` entries for a platform that takes values directly (Cloud Run
    services and jobs): host, port, TLS and, with TLS, the CA's PEM."""
    from pulumi import Output

    env = [{"name": ENV_HOST, "value": cache.host},
           {"name": ENV_PORT, "value": Output.from_input(cache.port).apply(str)},
           {"name": ENV_TLS, "value": "true" if cache.tls else "false"}]
    if cache.tls:
        env.append({"name": ENV_CA_CERT, "value": cache.ca_cert})
    return env


def cache_outputs(cache: CacheConnection) -> dict[str, Any]:
    """What of the instance `cache_env` (and Triton's flags) put into a workload's definition:
    host, port, TLS and, with TLS, the CA; a Cloud Run revision's name is fingerprinted with it."""
    return {"cache_host": cache.host, "cache_port": cache.port, "cache_tls": cache.tls} | (
        {"cache_ca_cert": cache.ca_cert} if cache.tls else {})


def config_data(cache: CacheConnection) -> dict[str, Any]:
    """The ConfigMap's `data`."""
    from pulumi import Output

    data = {"host": cache.host, "port": Output.from_input(cache.port).apply(str)}
    if cache.tls:
        data["ca.crt"] = cache.ca_cert
    return data


def config_env(tls: bool, config_map: str = CONFIG_MAP_NAME) -> list[dict[str, Any]]:
    """Container env entries reading host and port from the ConfigMap (Kubernetes expands
    `$(CACHE_HOST)` in args from them), TLS and the CA file's path. None of it is secret: the
    instance is reached only on the VPC, and the CA is a public certificate."""
    env = [{"name": ENV_HOST, "valueFrom": {"configMapKeyRef": {"name": config_map, "key": "host"}}},
           {"name": ENV_PORT, "valueFrom": {"configMapKeyRef": {"name": config_map, "key": "port"}}},
           {"name": ENV_TLS, "value": "true" if tls else "false"}]
    if tls:
        env.append({"name": ENV_CA_FILE, "value": CA_FILE})
    return env


def config_volume(tls: bool, config_map: str = CONFIG_MAP_NAME) -> tuple[list[dict], list[dict]]:
    """`(volumes, mounts)`: the ConfigMap's CA as a read-only file at CA_FILE (none without TLS)."""
    if not tls:
        return [], []
    return ([{"name": "cache-ca", "configMap": {"name": config_map, "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                                "defaultMode": 0o444}}],
            [{"name": "cache-ca", "mountPath": CA_DIR, "readOnly": True}])
