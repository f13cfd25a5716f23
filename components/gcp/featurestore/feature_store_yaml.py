"""The `feature_store.yaml` a stack's feature store exports: a pure function from the stack's
resolved outputs to the dict Feast's `RepoConfig` takes, and its YAML text. No provider import,
so the Feast virtualenv's tests load exactly what this builds (featurestore/tests/fixtures/).

The Memorystore online store speaks TLS with a server CA that is not publicly trusted: the
connection string names the CA file through `${FEAST_REDIS_CA_FILE}`, which Feast's
`load_repo_config` expands from the environment; the materialization entry point writes the CA
it is given (FEAST_REDIS_CA_PEM) to a file and sets the variable. Keys as Feast 0.67 reads them
(feast/repo_config.py, feast/infra/online_stores/redis.py, .../bigtable.py, offline_stores/bigquery.py).
"""

from __future__ import annotations

from typing import Any, Optional

import yaml

CA_FILE_ENV = "FEAST_REDIS_CA_FILE"
"""The environment variable the connection string reads the CA file's path from."""
CA_PEM_ENV = "FEAST_REDIS_CA_PEM"
"""The environment variable the materialization job is given the CA's PEM in."""
REGISTRY_OBJECT = "registry.pb"


def registry_path(bucket: str) -> str:
    return f"gs://{bucket}/{REGISTRY_OBJECT}"


def redis_online_store(host: str, port: int, tls: bool, key_ttl_seconds: Optional[int] = None) -> dict[str, Any]:
    """Feast's `redis` online store on one Memorystore primary (cluster mode disabled)."""
    connection = f"{host}:{port}" + (f",ssl=true,ssl_ca_certs=${{{CA_FILE_ENV}}}" if tls else "")
    store: dict[str, Any] = {"type": "redis", "redis_type": "redis", "connection_string": connection}
    if key_ttl_seconds is not None:
        store["key_ttl_seconds"] = key_ttl_seconds
    return store


def bigtable_online_store(project: str, instance: str) -> dict[str, Any]:
    return {"type": "bigtable", "project_id": project, "instance": instance}


def feature_store_config(*, feast_project: str, project: str, registry_bucket: str, cache_ttl_seconds: int,
                         dataset: str, location: str, online_store: dict[str, Any]) -> dict[str, Any]:
    """The feature_store.yaml of a stack, as a dict in Feast's own key order."""
    return {
        "project": feast_project,
        "provider": "gcp",
        "registry": {"registry_type": "file", "path": registry_path(registry_bucket),
                     "cache_ttl_seconds": cache_ttl_seconds},
        "offline_store": {"type": "bigquery", "project_id": project, "dataset": dataset, "location": location},
        "online_store": online_store,
        "entity_key_serialization_version": 3,
    }


def render(config: dict[str, Any]) -> str:
    """The YAML text, keys in the order given."""
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
