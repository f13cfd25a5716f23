"""Adopting what exists: exact names where a user must keep them, and existing service accounts
a workload runs as instead of one the stack creates."""

from __future__ import annotations

import copy

import pytest

from infra import config
from infra.errors import ConfigError, key_path
from infra.stackfile import to_engine_config
from tests.conftest import PROJECT, run_config, stack_config

EXISTING = "summarizer-runtime@acme-ml-dev.iam.gserviceaccount.com"


def test_a_cloud_run_service_keeps_an_exact_name_and_runs_as_an_existing_account():
    values = copy.deepcopy(stack_config("dev"))
    service = values["mlinfra:services"][1]
    service.update(serviceName="summarizer", serviceAccount=EXISTING)
    rec = run_config(values, stack="dev")
    run = rec.one("gcp:cloudrunv2/service:Service", "mlinfra-svc-summarizer")
    assert run.inputs["name"] == "summarizer"
    assert run.inputs["template"]["serviceAccount"] == EXISTING
    assert not [r for r in rec.of_type("gcp:serviceaccount/account:Account") if r.name == "mlinfra-svc-summarizer-sa"]
    reads = [r for r in rec.of_type("gcp:storage/bucketIAMMember:BucketIAMMember") if r.inputs["member"] == f"serviceAccount:{EXISTING}"]
    assert [r.inputs["role"] for r in reads] == ["roles/storage.objectViewer"]
    secret = [r for r in rec.of_type("gcp:secretmanager/secretIamMember:SecretIamMember")
              if r.inputs["member"] == f"serviceAccount:{EXISTING}"]
    assert [r.inputs["secretId"] for r in secret] == ["hf-token"]
    assert run.inputs["template"]["revision"].startswith("summarizer-v")


def test_defaults_keep_every_name_the_stacks_had():
    rec = run_config(stack_config("dev"), stack="dev")
    assert rec.one("gcp:cloudrunv2/service:Service", "mlinfra-svc-summarizer").inputs["name"] == "summarizer-dev"


def test_a_gke_server_binds_its_kubernetes_account_to_an_existing_google_account():
    values = copy.deepcopy(stack_config("k8s-dev"))
    values["mlinfra:services"][0]["serviceAccount"] = EXISTING
    rec = run_config(values, stack="k8s-dev")
    wi = rec.one("gcp:serviceaccount/iAMMember:IAMMember", "mlinfra-svc-summarizer-wi")
    assert wi.inputs["serviceAccountId"] == f"projects/acme-ml-dev/serviceAccounts/{EXISTING}"
    assert wi.inputs["role"] == "roles/iam.workloadIdentityUser"
    ksa = rec.one("kubernetes:core/v1:ServiceAccount", "mlinfra-svc-summarizer-ksa")
    assert ksa.inputs["metadata"]["annotations"]["iam.gke.io/gcp-service-account"] == EXISTING


@pytest.mark.parametrize("stack, index, keys, key", [
    ("dev", 1, {"serviceAccount": "summarizer@gmail.com"}, "serviceAccount"),
    ("dev", 1, {"serviceName": "Summarizer"}, "serviceName"),
    ("k8s-dev", 0, {"serviceAccount": "not-an-email"}, "serviceAccount"),
])
def test_a_bad_exact_name_or_account_fails_naming_its_key(stack, index, keys, key):
    values = copy.deepcopy(stack_config(stack))
    values["mlinfra:services"][index].update(keys)
    engine_values, _ = to_engine_config(values)
    with pytest.raises(ConfigError) as caught:
        config.load(engine_values, stack=stack, file=f"stacks/Pulumi.{stack}.yaml", root=PROJECT.root)
    assert [key_path(i.path) for i in caught.value.issues] == [f"mlinfra:services[{index}].{key}"]


def test_two_services_with_one_exact_name_collide_at_plan_time():
    values = copy.deepcopy(stack_config("dev"))
    for s in values["mlinfra:services"]:
        s["serviceName"] = "serve"
    engine_values, _ = to_engine_config(values)
    with pytest.raises(ConfigError) as caught:
        config.load(engine_values, stack="dev", file="stacks/Pulumi.dev.yaml", root=PROJECT.root)
    assert "mlinfra:services[1].serviceName" in [key_path(i.path) for i in caught.value.issues]


def test_the_import_file_names_each_resource_under_its_planned_parent_with_its_derived_id(tmp_path):
    from tests.mlinfra_cli import cli

    out = tmp_path / "import.json"
    result = cli("import-file", "--stack", "dev", "mlinfra-svc-summarizer", "mlinfra-storage-artifacts",
                 "mlinfra-network=projects/acme-ml-dev/global/networks/legacy", "--out", str(out))
    assert result.returncode == 0, result.stderr
    import json

    document = json.loads(out.read_text())
    by_name = {r["name"]: r for r in document["resources"]}
    assert by_name["mlinfra-svc-summarizer"]["id"] == "projects/acme-ml-dev/locations/us-central1/services/summarizer-dev"
    assert by_name["mlinfra-storage-artifacts"]["id"] == "acme-ml-dev-dev-artifacts"
    assert by_name["mlinfra-network"]["id"] == "projects/acme-ml-dev/global/networks/legacy"
    rec = run_config(stack_config("dev"), stack="dev")
    for item in document["resources"]:
        planned = rec.one(item["type"], item["name"])
        assert document["nameTable"].get(item.get("parent")) == planned.parent  # the URN the program gives it


def test_the_import_file_refuses_a_name_the_plan_does_not_have():
    from tests.mlinfra_cli import cli

    result = cli("import-file", "--stack", "dev", "mlinfra-bucket-typo")
    assert result.returncode == 1
    assert "mlinfra-bucket-typo: no cloud resource of the plan has this name" in result.stderr
