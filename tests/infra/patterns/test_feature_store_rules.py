"""Mistakes in `mlinfra:featureStore` fail validation naming the key and the fix, never a
traceback: identifiers, online store options, the schedule, and a Memorystore online store in
a stack without a network."""

from __future__ import annotations

import pytest

from tests.conftest import run_config
from tests.infra.test_config import assert_one_error, errors

IMAGE = "us-central1-docker.pkg.dev/acme-test/mlinfra-test/feast-materialize:1"


def stack(pattern: str = "hybrid", **store):
    return {"gcp:project": "acme-test", "gcp:region": "us-central1", "mlinfra:pattern": pattern,
            "mlinfra:environment": "dev", "mlinfra:featureStore": store}


def test_a_minimal_feature_store_validates_and_plans():
    rec = run_config(stack())
    assert rec.outputs["feature_store"]["dataset_id"] == "feast_test"


@pytest.mark.parametrize("store, key, fragment", [
    ({"offline": {"dataset": "feast-features"}}, "mlinfra:featureStore.offline.dataset", "is not a BigQuery dataset ID"),
    ({"project": "_ranking"}, "mlinfra:featureStore.project", "is not a Feast project name"),
    ({"registry": {"bucket": "Feast_Registry"}}, "mlinfra:featureStore.registry.bucket", ""),
    ({"online": {"type": "redis", "minNodes": 2}}, "mlinfra:featureStore.online.minNodes",
     "applies to online type bigtable, not redis"),
    ({"online": {"type": "bigtable", "engine": "redis"}}, "mlinfra:featureStore.online.engine",
     "applies to online type redis, not bigtable"),
    ({"online": {"type": "bigtable", "cpuTarget": 95}}, "mlinfra:featureStore.online.cpuTarget",
     "outside what Bigtable autoscaling accepts"),
    ({"online": {"type": "bigtable", "minNodes": 4, "maxNodes": 2}}, "mlinfra:featureStore.online.maxNodes",
     "is below minNodes"),
    ({"online": {"type": "bigtable", "zone": "europe-west4-a"}}, "mlinfra:featureStore.online.zone",
     "not of region us-central1"),
    ({"online": {"memoryGb": 4}}, "mlinfra:featureStore.online.memoryGb", "Valkey is sized by node type"),
    ({"online": {"nodeType": "HUGE"}}, "mlinfra:featureStore.online.nodeType", "is not a Memorystore for Valkey node type"),
    ({"online": {"replicas": 3}}, "mlinfra:featureStore.online.replicas", "Valkey has 0 to 2 replicas"),
    ({"online": {"type": "dynamo"}}, "mlinfra:featureStore.online.type", ""),
    ({"materialize": {"image": IMAGE, "schedule": "0 * * *"}}, "mlinfra:featureStore.materialize.schedule",
     "has 4 fields"),
    ({"materialize": {"image": IMAGE, "timeZone": "Berlin"}}, "mlinfra:featureStore.materialize.timeZone",
     "is not an IANA time zone"),
    ({"materialize": {"image": IMAGE.rsplit(":", 1)[0]}}, "mlinfra:featureStore.materialize.image", "pins no tag"),
    ({"materialize": {"image": IMAGE, "timeoutSeconds": 700000}}, "mlinfra:featureStore.materialize.timeoutSeconds",
     "above Cloud Run's task timeout"),
    ({"materialize": {"image": IMAGE, "maxRetries": 11}}, "mlinfra:featureStore.materialize.maxRetries", ""),
    ({"materialize": {"image": IMAGE, "resources": {"cpu": 3}}}, "mlinfra:featureStore.materialize.resources.cpu",
     "is not a CPU count Cloud Run offers"),
    ({"materialize": {"image": IMAGE, "resources": {"memory": "256Mi"}}},
     "mlinfra:featureStore.materialize.resources.memory", "is outside what Cloud Run offers"),
    ({"materialize": {"schedule": "0 * * * *"}}, "mlinfra:featureStore.materialize.image", ""),
])
def test_a_mistake_names_its_key(store, key, fragment):
    assert_one_error(stack(**store), key, fragment)


def test_every_valid_stack_name_derives_a_valid_dataset_and_feast_project():
    from components.core.spec import Context
    from components.gcp.featurestore.feature_store_spec import DATASET_ID, FEAST_PROJECT, FeatureStoreSpec

    for name in ("dev", "hybrid-dev", "team.ml-prod", "a_b", "9lives"):
        spec = FeatureStoreSpec()
        assert DATASET_ID.match(spec.dataset_id(name)) and FEAST_PROJECT.match(spec.feast_project(name)), name
        assert [i for i in spec.issues(Context(stack=name, project="acme-test")) if i.path[0] != "registry"] == []


def test_memorystore_needs_the_network_that_egress_none_removes():
    values = {**stack(), "mlinfra:network": {"egress": "none"}}
    assert_one_error(values, "mlinfra:featureStore.online.type", "reachable only on the stack's VPC")
    bigtable = {**values, "mlinfra:featureStore": {"online": {"type": "bigtable"}}}
    rec = run_config(bigtable)
    assert rec.of_type("gcp:compute/network:Network") == [] and len(rec.of_type("gcp:bigtable/instance:Instance")) == 1


@pytest.mark.parametrize("pattern", ["serverless", "dataflow"])
def test_the_other_gcp_patterns_build_the_same_feature_store(pattern):
    rec = run_config(stack(pattern, online={"type": "bigtable"}))
    [top] = rec.of_type("mlinfra:gcp:FeastFeatureStore")
    assert len(rec.of_type("gcp:bigtable/instance:Instance")) == 1
    assert rec.outputs["feature_store"]["dataset_id"] == "feast_test" and "feature_store_yaml" in rec.outputs


def test_the_kubernetes_pattern_takes_the_section_and_asks_only_for_its_cluster():
    assert [k for k, _ in errors(stack("kubernetes"))] == ["mlinfra:cluster"]


def test_an_aws_stack_has_no_feature_store():
    values = {"aws:region": "us-east-1", "mlinfra:cloud": "aws", "mlinfra:pattern": "kubernetes",
              "mlinfra:environment": "dev", "mlinfra:featureStore": {}}
    found = errors(values)
    assert ("mlinfra:featureStore", ) == tuple(k for k, _ in found if "featureStore" in k)
    assert "is a Google Cloud key" in found[[k for k, _ in found].index("mlinfra:featureStore")][1]
