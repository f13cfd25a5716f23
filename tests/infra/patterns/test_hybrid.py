"""The hybrid pattern: services on the platform each names, a cluster only when a workload
runs on it, built by the same builders as the serverless and kubernetes patterns."""

from __future__ import annotations

import pytest

from infra.errors import ConfigError, key_path
from tests.conftest import BASE_CONFIG, run_config, run_stack
from tests.infra.test_config import load

CLUSTER = "gcp:container/cluster:Cluster"
EMBEDDER = {"name": "embedder", "platform": "cloudrun", "image": "us-docker.pkg.dev/acme/serve/embedder:4"}


def hybrid(**keys):
    return {**BASE_CONFIG, "mlinfra:pattern": "hybrid", **{f"mlinfra:{k}": v for k, v in keys.items()}}


def test_the_dev_stack_runs_each_service_on_its_platform_beside_a_job_and_its_event_chains():
    rec = run_stack("hybrid-dev")
    assert {r.name for r in rec.of_type("mlinfra:gcp:CloudRunModelServer")} == {"mlinfra-svc-embedder"}
    assert {r.name for r in rec.of_type("mlinfra:gcp:GkeModelServer")} == {"mlinfra-svc-ranker"}
    assert {r.name for r in rec.of_type("mlinfra:gcp:GkeJob")} == {"mlinfra-job-retrain-ranker"}
    assert {r.name for r in rec.of_type("mlinfra:gcp:EventWorkflow")} == {
        "mlinfra-chain-on-new-labels", "mlinfra-chain-on-new-ranker"}
    assert rec.of_type("gcp:cloudfunctionsv2/function:Function") == []  # no function: no source bucket, no builds
    assert rec.outputs["workflows"] == {"on-new-labels": "on-new-labels-hybrid-dev",
                                        "on-new-ranker": "on-new-ranker-hybrid-dev"}
    [cluster] = rec.of_type(CLUSTER)
    assert cluster.inputs["location"] == "us-central1-a"
    assert rec.outputs["service_urls"].keys() == {"embedder"}
    assert rec.outputs["services"].keys() == {"ranker"}


def test_a_hybrid_stack_without_a_cluster_workload_creates_no_cluster():
    rec = run_config(hybrid(services=[EMBEDDER]))
    assert rec.of_type(CLUSTER) == []
    assert not any(r.type.startswith("kubernetes:") for r in rec)
    assert {r.inputs["service"] for r in rec.of_type("gcp:projects/service:Service")}.isdisjoint(
        {"container.googleapis.com"})
    assert "cluster" not in rec.outputs


def test_a_service_defaults_to_gke_and_fails_without_a_cluster_naming_the_key():
    with pytest.raises(ConfigError) as caught:
        load(hybrid(services=[{k: v for k, v in EMBEDDER.items() if k != "platform"}]))
    assert [key_path(i.path) for i in caught.value.issues] == ["mlinfra:cluster"]
    assert "the hybrid pattern needs a cluster" in str(caught.value)
