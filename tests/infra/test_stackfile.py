"""Reading a stack file as Pulumi does: what the file itself gets wrong, before any key is checked."""

from __future__ import annotations

import pytest

from infra.stackfile import StackFileError, read_stack_config

GOOD = "config:\n  gcp:project: acme-test\n  gcp:region: us-central1\n  mlinfra:pattern: serverless\n"


def read(tmp_path, text: str):
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(text)
    return read_stack_config(path, "stacks/Pulumi.x.yaml")


@pytest.mark.parametrize("text,fragments", [
    (GOOD + "  mlinfra:environment: dev\n  gcp:region: europe-west4\n",
     ["the key gcp:region is written twice", "at line 3 and line 6", "keep one of them"]),
    ("config:\n  mlinfra:services:\n    - name: a\n      image: x/a:1\n      name: b\n",
     ["the key name is written twice", "line 3 and line 5"]),
    ("config:\n  mlinfra:labels: {team: ml, team: ops}\n", ["the key team is written twice on line 2"]),
    ("config:\n  mlinfra:labels: " + "{a: " * 40 + "1" + "}" * 40 + "\n",
     ["nested more than 32 levels deep at line 2", "check the indentation or brackets"]),
    ("config:\n  x: " + "[" * 5000 + "]" * 5000 + "\n", ["nested more than 32 levels deep"]),
    ("gcp:project: acme-test\ngcp:region: us-central1\nmlinfra:pattern: serverless\n",
     ["gcp:project, gcp:region, mlinfra:pattern are at the top of the file", "only under `config:`",
      "add a line `config:` at the top"]),
    (GOOD + "mlinfra:environment: dev\n", ["mlinfra:environment is beside `config:`", "indent it under `config:`"]),
], ids=["a provider key twice", "a service key twice", "a label twice in a flow mapping", "deep mapping",
        "thousands of brackets", "no config wrapper", "a key outside config"])
def test_rejects_what_the_file_gets_wrong_with_lines_and_the_fix(tmp_path, text, fragments):
    with pytest.raises(StackFileError) as caught:
        read(tmp_path, text)
    message = str(caught.value)
    assert message.startswith("stacks/Pulumi.x.yaml: ")
    for fragment in fragments:
        assert fragment in message, message


def test_a_merge_key_may_be_overridden_without_being_a_duplicate(tmp_path):
    config = read(tmp_path, GOOD + "  base: &base {cpu: 1, memory: 2Gi}\n  mlinfra:x:\n    <<: *base\n    cpu: 2\n")
    assert config["mlinfra:x"] == {"cpu": 2, "memory": "2Gi"}


def test_non_config_pulumi_keys_beside_config_stay_allowed(tmp_path):
    config = read(tmp_path, "encryptionsalt: v1:abc\n" + GOOD)
    assert config["gcp:project"] == "acme-test"


def test_a_duplicate_key_in_pulumi_yaml_is_named_too(tmp_path):
    from infra.stackfile import read_project

    (tmp_path / "Pulumi.yaml").write_text("name: mlinfra\nruntime: python\nname: other\n")
    with pytest.raises(StackFileError, match="Pulumi.yaml: the key name is written twice in one mapping, at line 1 and line 3"):
        read_project(tmp_path)


@pytest.mark.parametrize("given", ["dev", "stacks/Pulumi.dev.yaml", "Pulumi.dev.yaml", "./stacks/Pulumi.dev.yml"])
def test_a_stack_is_named_by_its_name_or_its_files_path(given):
    from infra.stackfile import stack_argument

    assert stack_argument(given) == "dev"
