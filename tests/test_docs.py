"""The README's promises: its key reference is current and its example stack key names exist."""

from __future__ import annotations

import pytest

from infra import reference
from infra.stackfile import load_yaml
from tests.conftest import PROJECT, ROOT, STACKS, cloud_of


def test_readme_key_reference_and_rules_table_are_generated_from_the_code():
    text = (ROOT / "README.md").read_text()
    assert reference.replace_in(text) == text, "run `make docs` to regenerate the reference"


def test_every_schema_key_has_a_description():
    from infra.config import MlinfraConfig

    missing = [key for key, _, _, description in reference.rows(MlinfraConfig, "mlinfra:") if not description]
    assert missing == []


def test_every_aws_schema_key_has_a_description_and_the_aws_schema_has_the_aws_keys():
    from infra.aws_config import AwsMlinfraConfig

    missing = [key for key, _, _, description in reference.rows(AwsMlinfraConfig, "mlinfra:") if not description]
    assert missing == []
    config = reference.json_schema("aws")["properties"]["config"]
    assert "aws:region" in config["required"] and "gcp:project" not in config["properties"]
    assert "mlinfra:triggers" not in config["properties"] and "mlinfra:cluster" in config["properties"]


def test_readme_names_the_two_quickstart_commands_and_ci_runs_one_of_them():
    text = (ROOT / "README.md").read_text()
    assert "make plan" in text and "make test" in text
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _schema_errors(stack_file: dict, cloud: str) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(reference.json_schema(cloud))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(stack_file)]


@pytest.mark.parametrize("stack", STACKS)
def test_every_shipped_stack_file_validates_against_the_json_schema_of_its_cloud(stack):
    # Read as Pulumi reads it (YAML 1.2: a trigger's `on:` stays a key), as `mlinfra` does.
    cloud = {"github": "bootstrap"}.get(cloud_of(stack), cloud_of(stack))
    assert _schema_errors(load_yaml(PROJECT.stack_file(stack).read_text()), cloud) == []


def _stack(pattern: str, *services: dict, cloud: str = "gcp") -> dict:
    keys = {"aws:region": "us-east-1", "mlinfra:cloud": "aws"} if cloud == "aws" else \
        {"gcp:project": "acme-test", "gcp:region": "us-central1"}
    return {"config": {**keys, "mlinfra:pattern": pattern, "mlinfra:environment": "dev",
                       "mlinfra:services": list(services)}}


def test_a_service_without_platform_is_checked_as_its_patterns_default_platform():
    grpc = {"name": "embed", "runtime": "triton", "metricsPort": 8002}  # a GKE key: Cloud Run has no `metricsPort`
    assert _schema_errors(_stack("kubernetes", grpc), "gcp") == []
    assert _schema_errors(_stack("hybrid", grpc), "gcp") == []
    [error] = _schema_errors(_stack("serverless", grpc), "gcp")
    assert error.startswith("config/mlinfra:services/0: Additional properties are not allowed ('metricsPort'")
    assert _schema_errors(_stack("serverless", {**grpc, "platform": "gke"}), "gcp") != []  # not a serverless platform
    assert _schema_errors(_stack("hybrid", {**grpc, "platform": "gke"}), "gcp") == []
    assert _schema_errors(_stack("hybrid", {**grpc, "platform": "cloudrun"}), "gcp") != []
    assert _schema_errors(_stack("kubernetes", {"name": "a", "platform": "lambda"}), "gcp") != []
    assert _schema_errors(_stack("kubernetes", {"name": "a"}, cloud="aws"), "aws") == []
    assert _schema_errors(_stack("kubernetes", {"name": "a", "platform": "gke"}, cloud="aws"), "aws") != []


def test_a_job_without_platform_is_checked_as_its_patterns_default_platform():
    job = {"config": {**_stack("hybrid")["config"], "mlinfra:jobs": [{"name": "train", "image": "train:1"}]}}
    assert _schema_errors(job, "gcp") == []
    job["config"]["mlinfra:jobs"][0]["platform"] = "cloudrun"
    assert _schema_errors(job, "gcp") == []
    job["config"]["mlinfra:pattern"] = "kubernetes"  # its jobs run on gke only
    assert _schema_errors(job, "gcp") != []
