"""propose-rollout.yml dispatched with `action: abort` (the stack's rollback function does it when
a canary's fast-burn alert opens an incident): its run steps under bash against a real git origin
(one commit removing the canary and saying why; the same rollback twice pushes nothing twice;
after the merge it changes nothing) and its PR script under node (the title and the reason)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from infra.ci import scripts
from tests.infra.ci.test_rollout_workflow import checkout, git, run_step
from tests.infra.ci.test_scripts import run_script

REASON = ('Cloud Monitoring incident 0.opqiw61fsv7p opened: policy "summarizer: availability error budget burning '
          'fast (14.4x)" (burn rate above 14.4x over 3600s). The `availability` objective is burning. '
          'https://console.cloud.google.com/monitoring/alerting/incidents/0.opqiw61fsv7p?project=acme-ml-dev')
ABORT = {"STACK": "dev", "SERVICE": "summarizer", "VERSION": "", "ACTION": "abort", "REASON": REASON}


def abort(tmp_path: Path, **env: str):
    work = checkout(tmp_path)
    aborted, outputs = run_step(work, "set the canary in the stack file", {**ABORT, **env})
    pushed = None
    if outputs.get("changed") == "true":
        pushed, _ = run_step(work, "push the proposal's branch", {**ABORT, **env, "BRANCH": outputs["branch"]})
    return work, aborted, outputs, pushed


def blob_of_the_edited_file(work: Path) -> str:
    return git(work, "hash-object", "stacks/Pulumi.dev.yaml")[:12]


def test_an_abort_pushes_one_commit_that_removes_the_canary_and_says_why(tmp_path):
    work, aborted, outputs, pushed = abort(tmp_path)
    assert aborted.returncode == 0, aborted.stderr
    assert outputs["changed"] == "true"
    assert outputs["branch"] == f"rollout/dev/summarizer/abort-{blob_of_the_edited_file(work)}"
    assert pushed.returncode == 0, pushed.stderr
    origin, branch = tmp_path / "origin.git", outputs["branch"]
    assert git(origin, "log", "--format=%an", f"main..{branch}") == "github-actions[bot]"
    message = git(origin, "log", "--format=%B", "-1", branch)
    assert message.split("\n\n") == [
        "Roll back the canary of summarizer in stack dev", REASON,
        "Dispatched with action abort (run https://github.com/acme/mlinfra/actions/runs/7): the stable version "
        "takes all traffic again."]
    assert git(origin, "diff", "--name-only", "main", branch) == "stacks/Pulumi.dev.yaml"
    changed = git(origin, "diff", "--unified=0", "main", branch).splitlines()
    assert [line for line in changed if line[:1] in "+-" and line[:3] not in ("+++", "---")] == \
        ["-      rollout:", '-        canary: {version: "8", percent: 10}']


def test_the_same_rollback_twice_pushes_once_and_after_the_merge_changes_nothing(tmp_path):
    _, _, first, _ = abort(tmp_path)
    origin = tmp_path / "origin.git"
    tip = git(origin, "rev-parse", first["branch"])
    # The incident's message delivered again, or a second incident of the same canary.
    _, aborted, again, pushed = abort(tmp_path, REASON="Cloud Monitoring incident 0.other opened")
    assert again["branch"] == first["branch"] and pushed.returncode == 0, pushed.stderr
    assert f"::notice::branch {first['branch']} exists" in pushed.stdout
    assert git(origin, "rev-parse", first["branch"]) == tip
    git(origin, "update-ref", "refs/heads/main", tip)  # the rollback's PR is merged
    _, aborted, outputs, pushed = abort(tmp_path)
    assert aborted.returncode == 0 and outputs == {"changed": "false"} and pushed is None
    assert aborted.stdout.startswith("::notice::stacks/Pulumi.dev.yaml: nothing to change: ")
    assert "runs no canary" in aborted.stdout


def test_an_unknown_action_fails_and_pushes_nothing(tmp_path):
    _, aborted, outputs, pushed = abort(tmp_path, ACTION="rollback")
    assert aborted.returncode == 1 and outputs == {} and pushed is None
    assert "::error::action must be propose or abort, not 'rollback'" in aborted.stdout
    assert git(tmp_path / "origin.git", "branch", "--list") == "* main"


def test_the_rollbacks_pull_request_names_the_incident_as_plain_text(tmp_path):
    (tmp_path / "rollout.diff").write_text('--- a/stacks/Pulumi.dev.yaml\n+++ b/stacks/Pulumi.dev.yaml\n-canary\n')
    branch = "rollout/dev/summarizer/abort-0123456789ab"
    world = {"env": {**ABORT, "BRANCH": branch, "BASE": "main", "DIFF": "rollout.diff",
                     "RUN_URL": "https://github.com/acme/mlinfra/actions/runs/7"},
             "comments": [], "issues": [], "pulls": {"5": {
                 "number": 5, "state": "open", "draft": True, "base": {"ref": "main"}, "body": "",
                 "head": {"ref": "rollout/dev/summarizer/9", "label": "acme:rollout/dev/summarizer/9",
                          "repo": {"full_name": "acme/mlinfra"}}}}}
    done = run_script(tmp_path, scripts.rollout_pull_request(), world)
    pr = next(p for n, p in done["pulls"].items() if n != "5")
    assert (pr["title"], pr["draft"], pr["head"]["ref"]) == ("Roll back the canary of summarizer in stack dev", True,
                                                             branch)
    assert pr["body"].startswith(scripts.ROLLOUT_MARKER + "\nThe canary of service `summarizer` in stack `dev` is "
                                 "rolled back")
    # The reason is quoted as text, its backticks defused: an incident's summary cannot format the PR.
    assert "```text\n" + REASON.replace("`", "'") + "\n```" in pr["body"]
    assert "```diff\n--- a/stacks/Pulumi.dev.yaml\n" in pr["body"]
    # The open proposal of a new version is superseded: one change of the service's canary at a time.
    assert done["pulls"]["5"]["state"] == "closed"
    assert {"level": "notice", "message": f"closed PR #5 (rollout/dev/summarizer/9): superseded by #{pr['number']}, "
                                          "the rollback of the canary"} in done["log"]


def test_the_workflow_passes_the_reason_only_through_the_environment():
    from tests.infra.ci.test_rollout_workflow import JOB, step

    assert step("set the canary in the stack file")["env"]["REASON"] == "${{ inputs.reason }}"
    assert step("open or update the pull request")["env"]["ACTION"] == "${{ inputs.action }}"
    assert all("inputs.reason" not in s.get("run", "") for s in JOB["steps"])
    assert subprocess.run(["bash", "-n", "-c", step("push the proposal's branch")["run"]]).returncode == 0
