"""The feature_store.yaml files the stack exports (fixtures/, written from offline plans by
`python -m tests.feast_fixtures` in the main virtualenv) load in Feast's own config classes,
and every store config in them parses as Feast 0.67 reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from feast.infra.offline_stores.bigquery import BigQueryOfflineStoreConfig
from feast.infra.online_stores.bigtable import BigtableOnlineStoreConfig
from feast.infra.online_stores.redis import RedisOnlineStore, RedisOnlineStoreConfig
from feast.repo_config import RegistryConfig, RepoConfig, load_repo_config

from materialize.main import CA_FILE_ENV

FIXTURES = Path(__file__).parent / "fixtures"
REDIS = ["hybrid-dev.feature_store.yaml", "memorystore-redis.feature_store.yaml"]


def load(name: str) -> RepoConfig:
    path = FIXTURES / name
    return load_repo_config(path.parent, path)


def test_every_fixture_is_there():
    assert sorted(p.name for p in FIXTURES.glob("*.yaml")) == sorted(REDIS + ["bigtable.feature_store.yaml"])


@pytest.mark.parametrize("name", REDIS + ["bigtable.feature_store.yaml"])
def test_the_offline_store_and_registry_parse(name):
    config = load(name)
    assert config.project == "ranking"
    assert config.provider == "gcp"
    offline = config.offline_store
    assert isinstance(offline, BigQueryOfflineStoreConfig)
    assert (offline.project_id, offline.dataset, offline.location) == ("acme-ml-dev", "feast_hybrid_dev", "us-central1")
    registry = config.registry
    assert isinstance(registry, RegistryConfig)
    assert registry.registry_type == "file"
    assert registry.path == "gs://acme-ml-dev-hybrid-dev-feast-registry/registry.pb"
    assert registry.cache_ttl_seconds == 60
    assert config.entity_key_serialization_version == 3


@pytest.mark.parametrize("name", REDIS)
def test_the_memorystore_online_store_parses_and_its_connection_string_makes_a_tls_client(name, monkeypatch, tmp_path):
    ca = tmp_path / "ca.pem"
    monkeypatch.setenv(CA_FILE_ENV, str(ca))
    online = load(name).online_store
    assert isinstance(online, RedisOnlineStoreConfig)
    assert online.redis_type.value == "redis"
    nodes, params = RedisOnlineStore._parse_connection_string(online.connection_string)
    assert len(nodes) == 1 and nodes[0]["host"] == "10.204.230.56"
    assert params == {"ssl": True, "ssl_ca_certs": str(ca)}
    # redis-py takes the options as given (it connects lazily, so nothing is dialled here).
    client = redis.Redis(host=nodes[0]["host"], port=int(nodes[0]["port"]), **params)
    pool = client.connection_pool
    assert pool.connection_class is redis.SSLConnection
    assert pool.connection_kwargs["ssl_ca_certs"] == str(ca)


def test_the_key_ttl_reaches_feast():
    assert load("memorystore-redis.feature_store.yaml").online_store.key_ttl_seconds == 604800
    assert load("hybrid-dev.feature_store.yaml").online_store.key_ttl_seconds is None


def test_without_the_ca_variable_the_path_stays_unexpanded(monkeypatch):
    monkeypatch.delenv(CA_FILE_ENV, raising=False)
    online = load("hybrid-dev.feature_store.yaml").online_store
    assert online.connection_string.endswith("ssl_ca_certs=${FEAST_REDIS_CA_FILE}")


def test_the_bigtable_online_store_parses():
    online = load("bigtable.feature_store.yaml").online_store
    assert isinstance(online, BigtableOnlineStoreConfig)
    assert (online.project_id, online.instance) == ("acme-ml-dev", "mlinfra-hybrid-dev-feast")
