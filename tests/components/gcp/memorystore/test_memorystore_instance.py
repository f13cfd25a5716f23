"""The shared Memorystore component on its own: exact instance inputs per engine, dev and prod."""

from __future__ import annotations

import pulumi
import pytest

from components.core.issues import InputError
from components.gcp.memorystore.memorystore_instance import MemorystoreInstance, MemorystoreInstanceArgs
from tests.conftest import run_component

NET = "projects/acme-test/global/networks/vpc"
VALKEY = "gcp:memorystore/instance:Instance"
REDIS = "gcp:redis/instance:Instance"


def make(**overrides):
    args = dict(instance_name="acme-cache", region="us-central1", network_id=NET, labels={"team": "ml"})
    args.update(overrides)

    def program():
        cache = MemorystoreInstance("cache", MemorystoreInstanceArgs(**args))
        pulumi.export("host", cache.host)
        pulumi.export("port", cache.port)
        pulumi.export("ca", cache.ca_cert)
        pulumi.export("name", cache.instance_name)
    return program


def test_valkey_dev_is_one_unprotected_shard_with_tls_psc_and_the_eviction_policy():
    rec = run_component(make())
    inst = rec.one(VALKEY)
    assert inst.inputs == {
        "instanceId": "acme-cache", "location": "us-central1", "mode": "CLUSTER_DISABLED", "shardCount": 1,
        "nodeType": "SHARED_CORE_NANO", "replicaCount": 0, "engineVersion": "VALKEY_8_0",
        "engineConfigs": {"maxmemory-policy": "allkeys-lru"}, "authorizationMode": "AUTH_DISABLED",
        "transitEncryptionMode": "SERVER_AUTHENTICATION",
        "desiredAutoCreatedEndpoints": [{"network": NET, "projectId": "acme-test"}],
        "deletionProtectionEnabled": False, "labels": {"team": "ml"}}
    assert inst.protect is False and inst.delete_before_replace is True
    out = rec.outputs
    assert out["host"].startswith("10.2") and out["port"] == 6379 and out["name"] == "acme-cache"
    assert out["ca"].startswith("-----BEGIN CERTIFICATE-----")


def test_valkey_prod_has_replicas_deletion_protection_and_protect():
    rec = run_component(make(node_type="HIGHMEM_MEDIUM", replicas=2, protect=True, eviction_policy="noeviction",
                             engine_configs={"maxmemory-clients": "10%"}))
    inst = rec.one(VALKEY)
    assert inst.inputs["nodeType"] == "HIGHMEM_MEDIUM" and inst.inputs["replicaCount"] == 2
    assert inst.inputs["deletionProtectionEnabled"] is True and inst.protect is True
    assert inst.inputs["engineConfigs"] == {"maxmemory-clients": "10%", "maxmemory-policy": "noeviction"}


def test_valkey_without_tls_has_no_ca():
    rec = run_component(make(tls=False))
    assert rec.one(VALKEY).inputs["transitEncryptionMode"] == "TRANSIT_ENCRYPTION_DISABLED"
    assert rec.outputs["ca"] == ""


def test_redis_dev_is_basic_on_private_services_access_with_tls_port_and_ca():
    rec = run_component(make(engine="redis", memory_size_gb=2))
    inst = rec.one(REDIS)
    assert inst.inputs == {
        "name": "acme-cache", "region": "us-central1", "tier": "BASIC", "memorySizeGb": 2, "replicaCount": 0,
        "redisVersion": "REDIS_7_2", "redisConfigs": {"maxmemory-policy": "allkeys-lru"},
        "connectMode": "PRIVATE_SERVICE_ACCESS", "authorizedNetwork": NET, "authEnabled": False,
        "transitEncryptionMode": "SERVER_AUTHENTICATION", "deletionProtection": False, "labels": {"team": "ml"}}
    assert inst.delete_before_replace is True and inst.protect is False
    assert rec.outputs["port"] == 6378 and rec.outputs["ca"].startswith("-----BEGIN CERTIFICATE-----")


def test_redis_prod_with_replicas_is_standard_ha_with_read_replicas_and_protected():
    rec = run_component(make(engine="redis", replicas=2, protect=True))
    inst = rec.one(REDIS)
    assert (inst.inputs["tier"], inst.inputs["replicaCount"], inst.inputs["readReplicasMode"],
            inst.inputs["memorySizeGb"]) == ("STANDARD_HA", 2, "READ_REPLICAS_ENABLED", 5)
    assert inst.inputs["deletionProtection"] is True and inst.protect is True


def test_redis_one_replica_is_standard_ha_without_read_replicas():
    inst = run_component(make(engine="redis", replicas=1)).one(REDIS)
    assert (inst.inputs["tier"], inst.inputs["replicaCount"], inst.inputs["memorySizeGb"]) == ("STANDARD_HA", 1, 1)
    assert "readReplicasMode" not in inst.inputs


@pytest.mark.parametrize("overrides, key", [
    ({"node_type": "STANDARD_HUGE"}, "nodeType"),
    ({"memory_size_gb": 4}, "memoryGb"),
    ({"replicas": 3}, "replicas"),
    ({"engine": "redis", "memory_size_gb": 301}, "memoryGb"),
    ({"engine": "redis", "replicas": 2, "memory_size_gb": 4}, "memoryGb"),
    ({"engine": "redis", "node_type": "STANDARD_SMALL"}, "nodeType"),
    ({"eviction_policy": "lru"}, "eviction_policy"),
    ({"engine_configs": {"maxmemory-policy": "noeviction"}}, "engine_configs"),
])
def test_bad_arguments_fail_naming_the_argument(overrides, key):
    with pytest.raises(InputError) as error:
        run_component(make(**overrides))
    assert [i.path for i in error.value.issues] == [(key,)]
