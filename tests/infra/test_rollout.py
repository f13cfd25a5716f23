"""`mlinfra rollout propose|promote|abort`: the stack file changes in exactly the lines of the
keys it sets (every comment and other line byte for byte), the result validates, and each
refusal names the file and key and writes nothing; a second identical proposal changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra import rollout
from infra.rollout import Refused, Unchanged
from infra.stackfile import load_yaml
from tests.conftest import PROJECT, ROOT, STACKS
from tests.mlinfra_cli import cli

FILE = "stacks/Pulumi.rollout.yaml"
# Every layout the shipped stacks use, with comments everywhere an edit could disturb them.
TEXT = """\
# A stack for the rollout tests.
config:
  gcp:project: acme-ml-dev     # the dev project
  gcp:region: us-central1
  mlinfra:pattern: serverless
  mlinfra:environment: dev

  mlinfra:services:
    # Model-in-image: the model is baked into the image.
    - name: churn
      image: us-central1-docker.pkg.dev/acme-ml-dev/mlinfra-dev/churn:3
      rollout: {canary: {image: us-central1-docker.pkg.dev/acme-ml-dev/mlinfra-dev/churn:4, percent: 5}}

    # A block-style canary, commented inside.
    - name: summarizer
      runtime: vllm
      model: {uri: gs://acme-ml-dev-rollout-artifacts/models/summarizer, version: "7"}   # stable
      resources: {cpu: 8, memory: 32Gi, gpu: {type: nvidia-l4, zonalRedundancy: false}}
      rollout:
        # the canary under test
        canary:
          version: "8"    # try 8
          percent: 10
        stableRevision: summarizer-7-abc123
      # a comment after the rollout, about what follows

    # No rollout yet; the model in block style.
    - name: ranker
      runtime: torchserve
      model:
        uri: gs://acme-ml-dev-rollout-artifacts/models/ranker
        version: "12"   # the stable version
      resources: {cpu: 4, memory: 8Gi}

# The end.
"""


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """(removed, added) lines; asserts that every other line is kept, in order, byte for byte."""
    import difflib

    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(keepends=True), after.splitlines(keepends=True)):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    kept = [line for line in before.splitlines(keepends=True) if line not in removed]
    assert [line for line in after.splitlines(keepends=True) if line not in added] == kept
    return removed, added


def test_the_fixture_validates_as_written():
    rollout.validate(TEXT, PROJECT, "rollout", FILE, TEXT)


def test_propose_replaces_the_version_of_a_block_canary_and_keeps_its_comment():
    change = rollout.propose(TEXT, FILE, "summarizer", "9")
    assert changed_lines(TEXT, change.text) == (['          version: "8"    # try 8\n'],
                                                ['          version: "9"    # try 8\n'])
    assert "canary 8 -> 9 at 10 % beside stable 7" in change.summary
    rollout.validate(change.text, PROJECT, "rollout", FILE, TEXT)


def test_propose_adds_a_canary_at_the_default_percent_after_the_last_key():
    change = rollout.propose(TEXT, FILE, "ranker", "13")
    assert changed_lines(TEXT, change.text) == ([], ['      rollout: {canary: {version: "13", percent: 10}}\n'])
    lines = change.text.splitlines()
    assert lines[lines.index('      rollout: {canary: {version: "13", percent: 10}}') - 1] == \
        "      resources: {cpu: 4, memory: 8Gi}"
    service = load_yaml(change.text)["config"]["mlinfra:services"][2]
    assert service["rollout"] == {"canary": {"version": "13", "percent": 10}}
    rollout.validate(change.text, PROJECT, "rollout", FILE, TEXT)


def test_propose_with_a_percent_sets_it_and_the_same_proposal_again_changes_nothing():
    first = rollout.propose(TEXT, FILE, "summarizer", "9", percent=25)
    assert changed_lines(TEXT, first.text)[1] == ['          version: "9"    # try 8\n', "          percent: 25\n"]
    with pytest.raises(Unchanged, match=r"mlinfra:services\[1\] \(summarizer\).rollout.canary is already version '9' at 25 %"):
        rollout.propose(first.text, FILE, "summarizer", "9")
    with pytest.raises(Unchanged):
        rollout.propose(first.text, FILE, "summarizer", "9", percent=25)
    assert rollout.propose(first.text, FILE, "summarizer", "9", percent=50).summary.endswith("canary 9 at 50 % beside stable 7")


def loaded_models(stack: str) -> list[dict]:
    services = load_yaml(PROJECT.stack_file(stack).read_text())["config"].get("mlinfra:services") or []
    return [s for s in services if isinstance(s.get("model"), dict)]


SERVING = [s for s in STACKS if loaded_models(s)]


def test_the_shipped_stacks_serve_loaded_models_on_every_platform():
    assert {"dev", "prod", "k8s-dev", "k8s-prod", "eks-dev", "eks-prod", "hybrid-dev"} <= set(SERVING)


@pytest.mark.parametrize("stack", SERVING)
def test_every_shipped_service_takes_a_proposal_that_validates_and_changes_one_line(stack):
    path = PROJECT.stack_file(stack)
    text = path.read_text()
    for service in loaded_models(stack):
        change = rollout.propose(text, f"stacks/{path.name}", service["name"], "99")
        removed, added = changed_lines(text, change.text)
        assert len(added) == 1 and len(removed) <= 1 and '"99"' in added[0]
        rollout.validate(change.text, PROJECT, stack, f"stacks/{path.name}", text)


def test_promote_makes_the_canary_stable_and_removes_the_rollout_with_its_pin():
    change = rollout.promote(TEXT, FILE, "summarizer")
    removed, added = changed_lines(TEXT, change.text)
    assert added == ['      model: {uri: gs://acme-ml-dev-rollout-artifacts/models/summarizer, version: "8"}   # stable\n']
    assert removed == ['      model: {uri: gs://acme-ml-dev-rollout-artifacts/models/summarizer, version: "7"}   # stable\n',
                       "      rollout:\n", "        # the canary under test\n", "        canary:\n",
                       '          version: "8"    # try 8\n', "          percent: 10\n",
                       "        stableRevision: summarizer-7-abc123\n"]
    assert "      # a comment after the rollout, about what follows\n" in change.text
    rollout.validate(change.text, PROJECT, "rollout", FILE, TEXT)


def test_promote_of_a_model_in_image_canary_makes_its_image_the_service_image():
    change = rollout.promote(TEXT, FILE, "churn")
    assert changed_lines(TEXT, change.text) == (
        ["      image: us-central1-docker.pkg.dev/acme-ml-dev/mlinfra-dev/churn:3\n",
         "      rollout: {canary: {image: us-central1-docker.pkg.dev/acme-ml-dev/mlinfra-dev/churn:4, percent: 5}}\n"],
        ["      image: us-central1-docker.pkg.dev/acme-ml-dev/mlinfra-dev/churn:4\n"])
    rollout.validate(change.text, PROJECT, "rollout", FILE, TEXT)


def test_abort_removes_the_canary_and_a_second_abort_changes_nothing():
    change = rollout.abort(TEXT, FILE, "summarizer")
    removed, added = changed_lines(TEXT, change.text)
    assert added == [] and removed[0] == "      rollout:\n" and len(removed) == 6
    rollout.validate(change.text, PROJECT, "rollout", FILE, TEXT)
    with pytest.raises(Unchanged, match="runs no canary"):
        rollout.abort(change.text, FILE, "summarizer")


def test_abort_of_a_flow_canary_beside_other_keys_removes_only_the_canary():
    text = TEXT.replace("rollout: {canary: {image: us-central1-docker.pkg.dev/acme-ml-dev/mlinfra-dev/churn:4, percent: 5}}",
                        "rollout: {canary: {image: us-central1-docker.pkg.dev/acme-ml-dev/mlinfra-dev/churn:4, percent: 5}, "
                        "stableRevision: churn-3-abc123}")
    change = rollout.abort(text, FILE, "churn")
    assert "      image: us-central1-docker.pkg.dev/acme-ml-dev/mlinfra-dev/churn:3\n\n" in change.text
    assert "rollout" not in change.text.split("- name: churn")[1].split("- name: summarizer")[0]


@pytest.mark.parametrize("service, version, message", [
    ("nope", "9", r"stacks/Pulumi.rollout.yaml: mlinfra:services has no service named 'nope' "
                  r"\(services: churn, summarizer, ranker\)"),
    ("summarizer", "7", r"mlinfra:services\[1\] \(summarizer\).model.version is already '7': the stable version"),
    ("churn", "4", r"mlinfra:services\[0\] \(churn\).model: the service ships its model in its image"),
    ("ranker", "../13", r"mlinfra:services\[2\] \(ranker\).rollout.canary.version: '../13' is not a model version"),
    ("ranker", "13.lock", "is not a model version"),
    ("ranker", "-13", "is not a model version"),
    ("ranker", "1" * 41, "is not a model version"),
])
def test_propose_refuses_naming_the_file_and_key(service, version, message):
    with pytest.raises(Refused, match=message):
        rollout.propose(TEXT, FILE, service, version)


def test_a_proposal_that_would_not_validate_is_refused_with_the_loaders_message():
    change = rollout.propose(TEXT, FILE, "ranker", "13", percent=150)
    with pytest.raises(Refused) as refused:
        rollout.validate(change.text, PROJECT, "rollout", FILE, TEXT)
    assert str(refused.value).startswith(f"{FILE}: the change would not validate:")
    assert "mlinfra:services[2].rollout.canary.percent: is out of range (got 150)" in str(refused.value)


def test_a_stack_file_that_is_already_invalid_is_refused_before_the_change():
    broken = TEXT.replace("      resources: {cpu: 4, memory: 8Gi}", "      resources: {cpu: 4, memory: 8Gi, gpus: 1}")
    change = rollout.propose(broken, FILE, "ranker", "13")
    with pytest.raises(Refused, match=f"{FILE} does not validate before the change; fix it first"):
        rollout.validate(change.text, PROJECT, "rollout", FILE, broken)


def test_a_file_that_is_not_readable_yaml_is_refused_without_a_traceback():
    twice = TEXT.replace("  gcp:region: us-central1\n", "  gcp:region: us-central1\n  gcp:region: us-east1\n")
    with pytest.raises(Refused, match=f"{FILE}: not a stack file this command can read .*`mlinfra validate` says"):
        rollout.propose(twice, FILE, "ranker", "13")
    with pytest.raises(Refused, match="not a stack file this command can read"):
        rollout.abort(TEXT + "---\nconfig: {}\n", FILE, "ranker")


def test_promote_without_a_canary_is_refused():
    with pytest.raises(Refused, match=r"mlinfra:services\[2\] \(ranker\).rollout.canary: the service runs no canary"):
        rollout.promote(TEXT, FILE, "ranker")


def test_a_layout_the_edit_cannot_change_safely_is_refused():
    text = TEXT.replace("    - name: ranker\n      runtime: torchserve\n", "    - runtime: torchserve\n      name: ranker\n")
    text = text.replace("      resources: {cpu: 4, memory: 8Gi}\n", "").replace("    - runtime: torchserve\n",
                                                                             "    - rollout: {canary: {version: \"13\", percent: 5}}\n      runtime: torchserve\n")
    with pytest.raises(Refused, match=r"\(ranker\): cannot be edited in place .*shares its line"):
        rollout.abort(text, FILE, "ranker")


def project_copy(tmp_path: Path) -> Path:
    """The repository with its own copy of stacks/ (the rest linked), for the CLI to edit."""
    for entry in ROOT.iterdir():
        if entry.name not in ("stacks", ".git") and not entry.name.startswith(".venv"):
            (tmp_path / entry.name).symlink_to(entry)
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks")
    (tmp_path / "stacks" / "Pulumi.rollout.yaml").write_text(TEXT)
    return tmp_path


def test_the_cli_writes_the_change_prints_the_diff_and_exits_by_outcome(tmp_path):
    project = project_copy(tmp_path)
    path = project / FILE
    done = cli("--project-dir", str(project), "rollout", "propose", "--stack", "rollout", "--service", "ranker",
               "--version", "13")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"--- a/{FILE}\n+++ b/{FILE}\n@@ ")
    assert '+      rollout: {canary: {version: "13", percent: 10}}\n' in done.stdout
    assert path.read_text() == rollout.propose(TEXT, FILE, "ranker", "13").text
    assert cli("--project-dir", str(project), "validate", "--stack", "rollout").returncode == 0

    again = cli("--project-dir", str(project), "rollout", "propose", "--stack", "rollout", "--service", "ranker",
                "--version", "13")
    assert again.returncode == rollout.EXIT_UNCHANGED == 3
    assert again.stdout == f"{FILE}: nothing to change: mlinfra:services[2] (ranker).rollout.canary is already " \
                           "version '13' at 10 %\n"

    written = path.read_bytes()
    refused = cli("--project-dir", str(project), "rollout", "propose", "--stack", "rollout", "--service", "ranker",
                  "--version", "14", "--percent", "150")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "mlinfra:services[2].rollout.canary.percent: is out of range (got 150)" in refused.stderr
    assert refused.stderr.rstrip().endswith("Nothing was written.") and path.read_bytes() == written

    promoted = cli("--project-dir", str(project), "rollout", "promote", "--stack", "rollout", "--service", "ranker")
    assert promoted.returncode == 0, promoted.stderr
    assert load_yaml(path.read_text())["config"]["mlinfra:services"][2]["model"]["version"] == "13"
    assert cli("--project-dir", str(project), "rollout", "abort", "--stack", "rollout",
               "--service", "ranker").returncode == 3
    missing = cli("--project-dir", str(project), "rollout", "abort", "--stack", "nope", "--service", "ranker")
    assert missing.returncode == 1 and "no stack file stacks/Pulumi.nope.yaml" in missing.stderr
