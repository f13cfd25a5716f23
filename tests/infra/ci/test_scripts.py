"""The scripts the workflows run in actions/github-script, run under node against an
in-memory GitHub (tests/js/github_script.mjs): one plan comment per stack, edited in place;
one drift issue per stack, commented on while it stays open."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from infra.ci import scripts
from infra.ci.stacks import read_stacks
from tests.conftest import PROJECT, ROOT

STACKS = [s.name for s in read_stacks(PROJECT)]  # the bootstrap stack is in no workflow


HARNESS = ROOT / "tests" / "js" / "github_script.mjs"
HEAD = "0123abcd" * 5


def run_script(tmp_path: Path, script: str, world: dict) -> dict:
    if not shutil.which("node"):
        if os.environ.get("MLINFRA_REQUIRE_MERMAID") == "1":
            pytest.fail("node is missing; CI needs it for the mermaid and workflow-script checks")
        pytest.skip("node is not installed")
    (tmp_path / "script.js").write_text(script)
    (tmp_path / "world.json").write_text(json.dumps(world))
    done = subprocess.run(["node", str(HARNESS), "script.js", "world.json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def artifacts(tmp_path: Path, pr: str, text: str = "plan") -> None:
    for stack in STACKS:
        folder = tmp_path / "plans" / f"mlinfra-plan-{stack}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{stack}.md").write_text(f"## {text} of {stack}\n")
        (folder / "pr-number").write_text(pr + "\n")


def comment_world(comments=()) -> dict:
    return {"context": {"payload": {"workflow_run": {"id": 42, "head_sha": HEAD, "html_url": "https://x/runs/42"}}},
            "comments": list(comments), "issues": [], "pulls": {"12": {"head": {"sha": HEAD}}}}


def test_posts_one_comment_per_stack_and_edits_it_in_place_on_the_next_run(tmp_path):
    artifacts(tmp_path, "12", "first")
    script = scripts.comment_plans(STACKS)
    world = run_script(tmp_path, script, comment_world())
    assert sorted(c["body"].splitlines()[0] for c in world["comments"]) == \
        sorted(f"<!-- mlinfra-plan:{s} -->" for s in STACKS)
    ids = {c["id"] for c in world["comments"]}
    artifacts(tmp_path, "12", "second")
    world = run_script(tmp_path, script, world)
    assert {c["id"] for c in world["comments"]} == ids, "the same comments, updated"
    assert all("## second of" in c["body"] and "https://x/runs/42" in c["body"] for c in world["comments"])


def test_leaves_a_persons_comment_that_quotes_the_marker_alone(tmp_path):
    artifacts(tmp_path, "12")
    human = {"id": 1, "issue_number": 12, "body": "<!-- mlinfra-plan:dev --> quoted", "user": {"type": "User"}}
    world = run_script(tmp_path, scripts.comment_plans(STACKS), comment_world([human]))
    assert world["comments"][0] == human and len(world["comments"]) == 1 + len(STACKS)


def test_refuses_an_artifact_that_names_a_pr_the_run_was_not_for(tmp_path):
    artifacts(tmp_path, "99")
    world = comment_world()
    world["pulls"]["99"] = {"head": {"sha": "f" * 40}}
    world = run_script(tmp_path, scripts.comment_plans(STACKS), world)
    assert world["comments"] == []
    assert {e["level"] for e in world["log"]} == {"notice"}


def test_fails_on_an_artifact_without_a_pr_number_and_reads_only_known_stacks(tmp_path):
    artifacts(tmp_path, "twelve")
    (tmp_path / "plans" / "mlinfra-plan-evil").mkdir()
    (tmp_path / "plans" / "mlinfra-plan-evil" / "evil.md").write_text("x")
    world = run_script(tmp_path, scripts.comment_plans(STACKS), comment_world())
    assert world["comments"] == []
    assert [e["level"] for e in world["log"]] == ["setFailed"] * len(STACKS)


def drift_world(issues=()) -> dict:
    return {"env": {"STACK": "prod"}, "comments": [], "pulls": {}, "issues": list(issues)}


def test_opens_one_drift_issue_then_comments_on_it_while_it_is_open(tmp_path):
    script = scripts.drift_issue()
    world = run_script(tmp_path, script, drift_world())
    assert [(i["title"], i["labels"]) for i in world["issues"]] == [("Drift in stack prod", [scripts.DRIFT_LABEL])]
    assert "https://github.com/acme/mlinfra/actions/runs/7" in world["issues"][0]["body"]
    world = run_script(tmp_path, script, world)
    assert len(world["issues"]) == 1 and len(world["issues"][0]["comments"]) == 1
    world["issues"][0]["state"] = "closed"
    world = run_script(tmp_path, script, world)
    assert [i["state"] for i in world["issues"]] == ["closed", "open"], "a closed issue is not reopened by comment"


def test_another_stacks_drift_issue_is_not_this_ones(tmp_path):
    other = {"number": 5, "title": "Drift in stack dev", "labels": [scripts.DRIFT_LABEL], "state": "open",
             "body": "", "comments": []}
    world = run_script(tmp_path, scripts.drift_issue(), drift_world([other]))
    assert [i["title"] for i in world["issues"]] == ["Drift in stack dev", "Drift in stack prod"]
    assert world["issues"][0]["comments"] == []
