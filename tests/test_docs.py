"""The README's promises: its key reference is current and its example stack key names exist."""

from __future__ import annotations

from infra import reference
from tests.conftest import ROOT


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


def test_the_aws_stacks_validate_against_the_aws_json_schema():
    import jsonschema
    import yaml

    from tests.conftest import AWS_STACKS, PROJECT

    schema = reference.json_schema("aws")
    assert AWS_STACKS
    for stack in AWS_STACKS:
        jsonschema.validate(yaml.safe_load(PROJECT.stack_file(stack).read_text()), schema)
