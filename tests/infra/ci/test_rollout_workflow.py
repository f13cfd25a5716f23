"""propose-rollout.yml: its shape and token, its run steps under bash against a real git origin
(a re-dispatch pushes nothing twice; after the merge it changes nothing), and its PR script
under node against an in-memory GitHub (one PR per version, a draft, refreshed not doubled)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from infra.ci import checks, scripts
from infra.ci.rollout_workflow import FILE
from infra.stackfile import load_yaml
from infra.ci.stacks import read_stacks
from tests.conftest import PROJECT, ROOT
from tests.infra.ci.test_ci import generated, problems_of
from tests.infra.ci.test_scripts import run_script

STACKS = [s.name for s in read_stacks(PROJECT)]  # the bootstrap stack is in no workflow

WORKFLOW = generated()[FILE]
JOB = WORKFLOW["jobs"]["propose"]


def step(name: str) -> dict:
    return next(s for s in JOB["steps"] if s.get("name") == name)


def test_is_dispatched_with_a_stack_of_the_repository_a_service_and_a_version_or_an_abort():
    assert list(WORKFLOW["on"]) == ["workflow_dispatch"]
    inputs = WORKFLOW["on"]["workflow_dispatch"]["inputs"]
    assert inputs["stack"]["type"] == "choice" and sorted(inputs["stack"]["options"]) == sorted(STACKS)
    # The chain's dispatch names no action (propose by default); the rollback function's names no version.
    assert {k: (v["type"], v["required"], v.get("default")) for k, v in inputs.items()} == \
        {"stack": ("choice", True, None), "service": ("string", True, None), "version": ("string", False, ""),
         "action": ("choice", False, "propose"), "reason": ("string", False, "")}
    assert inputs["action"]["options"] == ["propose", "abort"]
    assert JOB["if"] == "github.ref == 'refs/heads/main'"


def test_the_one_job_may_push_and_open_pull_requests_and_nothing_else():
    assert WORKFLOW["permissions"] == {}
    assert JOB["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert JOB["concurrency"] == {"group": "mlinfra-rollout-${{ inputs.stack }}-${{ inputs.service }}",
                                  "cancel-in-progress": False}
    assert JOB["steps"][0] == {"uses": "actions/checkout@v6", "with": {"persist-credentials": False}}
    assert JOB["steps"][2] == {"name": "install the pinned dependencies", "run": "make install"}
    assert "secrets." not in str(WORKFLOW) and "id-token" not in str(WORKFLOW)
    # Inputs reach the scripts only through the environment: never spliced into a script's text.
    for s in JOB["steps"]:
        assert "${{" not in s.get("run", "") and "${{" not in s.get("with", {}).get("script", "")
    assert step("push the proposal's branch")["env"]["GITHUB_TOKEN"] == "${{ github.token }}"


def test_pr_yml_runs_when_a_person_marks_the_draft_ready():
    assert generated()["pr.yml"]["on"]["pull_request"]["types"] == ["opened", "synchronize", "reopened",
                                                                      "ready_for_review"]


def test_the_checks_require_contents_write_to_push_and_pull_requests_write_to_open_the_pr():
    files = generated()
    del files[FILE]["jobs"]["propose"]["permissions"]["contents"]
    assert problems_of(files) == [f"{FILE}: jobs.propose: needs `contents: write` (push the proposal's branch pushes "
                                  "to the repository) but has `contents: none` [permissions]"]
    files = generated()
    files[FILE]["jobs"]["propose"]["permissions"]["pull-requests"] = "read"
    assert problems_of(files) == [f"{FILE}: jobs.propose: needs `pull-requests: write` (open or update the pull "
                                  "request calls pulls.update on a pull request) but has `pull-requests: read` "
                                  "[permissions]"]
    files = generated()
    files[FILE]["jobs"]["propose"]["permissions"]["actions"] = "write"
    assert any("grants `actions: write` that none of its steps needs" in p for p in problems_of(files))


def test_a_push_in_any_form_needs_contents_write():
    for run in ("git push origin HEAD", 'git -c credential.helper="$h" push --quiet origin x', "cd x && git push"):
        job = {"steps": [{"name": "p", "run": run}]}
        assert checks.needed_permissions({"on": {"workflow_dispatch": None}}, job)["contents"][0] == "write", run
    assert "contents" not in checks.needed_permissions({}, {"steps": [{"run": "git pushd; echo git push-me"}]})


# --- the run steps, under bash as GitHub runs them, against a bare repository as origin ---

def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def checkout(tmp_path: Path) -> Path:
    """A clone of `origin` (the repository: stacks copied, everything else linked) at main."""
    origin, seed = tmp_path / "origin.git", tmp_path / "seed"
    if not origin.exists():
        git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
        seed.mkdir()
        for entry in ROOT.iterdir():
            if entry.name not in ("stacks", ".git") and not entry.name.startswith(".venv"):
                (seed / entry.name).symlink_to(entry)
        subprocess.run(["cp", "-r", str(ROOT / "stacks"), str(seed / "stacks")], check=True)
        git(seed, "init", "--quiet", "--initial-branch=main")
        git(seed, "add", "--all")
        git(seed, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "--message=seed")
        git(seed, "push", "--quiet", str(origin), "main")
    work = tmp_path / f"work{len(list(tmp_path.glob('work*')))}"
    git(tmp_path, "clone", "--quiet", "--branch=main", str(origin), str(work))
    # The job's `.venv/bin/mlinfra`: this checkout's code, as `make install` installs it editable.
    (work / ".venv" / "bin").mkdir(parents=True)
    shim = work / ".venv" / "bin" / "mlinfra"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m infra.cli "$@"\n')
    shim.chmod(0o755)
    (work / ".git" / "info" / "exclude").write_text(".venv/\n")
    return work


def run_step(work: Path, name: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    temp = work.parent / f"{work.name}-temp"
    temp.mkdir(exist_ok=True)
    output = temp / "output"
    output.touch()
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step(name)["run"]], cwd=work,
                          capture_output=True, text=True, timeout=180,
                          env={**os.environ, **env, "GITHUB_OUTPUT": str(output), "RUNNER_TEMP": str(temp),
                               "GITHUB_TOKEN": "not-a-token", "RUN_URL": "https://github.com/acme/mlinfra/actions/runs/7"})
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return done, outputs


DISPATCH = {"STACK": "dev", "SERVICE": "summarizer", "VERSION": "9", "ACTION": "propose", "REASON": ""}
BRANCH = "rollout/dev/summarizer/9"


def dispatch(tmp_path: Path, **env: str) -> tuple[Path, subprocess.CompletedProcess, dict, subprocess.CompletedProcess | None]:
    work = checkout(tmp_path)
    proposed, outputs = run_step(work, "set the canary in the stack file", {**DISPATCH, **env})
    pushed = None
    if outputs.get("changed") == "true":
        pushed, _ = run_step(work, "push the proposal's branch", {**DISPATCH, **env, "BRANCH": outputs["branch"]})
    return work, proposed, outputs, pushed


def test_a_dispatch_pushes_one_commit_that_changes_only_the_stack_file(tmp_path):
    work, proposed, outputs, pushed = dispatch(tmp_path)
    assert proposed.returncode == 0, proposed.stderr
    assert outputs["changed"] == "true" and outputs["branch"] == BRANCH
    assert Path(outputs["diff"]).read_text().startswith("--- a/stacks/Pulumi.dev.yaml\n")
    assert pushed.returncode == 0, pushed.stderr
    origin = tmp_path / "origin.git"
    assert git(origin, "log", "--format=%s|%an", f"main..{BRANCH}") == \
        "Canary of summarizer version 9 in stack dev|github-actions[bot]"
    assert git(origin, "diff", "--name-only", "main", BRANCH) == "stacks/Pulumi.dev.yaml"
    changed = git(origin, "diff", "--unified=0", "main", BRANCH).splitlines()
    assert [line for line in changed if line[:1] in "+-" and line[:3] not in ("+++", "---")] == \
        ['-        canary: {version: "8", percent: 10}', '+        canary: {version: "9", percent: 10}']


def test_a_re_dispatch_before_the_merge_leaves_the_branch_and_after_it_changes_nothing(tmp_path):
    dispatch(tmp_path)
    origin = tmp_path / "origin.git"
    first = git(origin, "rev-parse", BRANCH)
    _, proposed, outputs, pushed = dispatch(tmp_path)
    assert outputs["changed"] == "true" and pushed.returncode == 0, pushed.stderr
    assert f"::notice::branch {BRANCH} exists" in pushed.stdout
    assert git(origin, "rev-parse", BRANCH) == first and len(git(origin, "branch", "--list").splitlines()) == 2
    git(origin, "update-ref", "refs/heads/main", first)  # the PR is merged
    _, proposed, outputs, pushed = dispatch(tmp_path)
    assert proposed.returncode == 0 and outputs == {"changed": "false"} and pushed is None
    assert proposed.stdout.startswith("::notice::stacks/Pulumi.dev.yaml: nothing to change: ")


def test_a_refused_proposal_fails_the_job_and_pushes_nothing(tmp_path):
    _, proposed, outputs, pushed = dispatch(tmp_path, VERSION="7")
    assert proposed.returncode == 1 and outputs == {} and pushed is None
    assert "model.version is already '7': the stable version" in proposed.stderr
    assert git(tmp_path / "origin.git", "branch", "--list") == "* main"


# --- the PR script, under node, against an in-memory GitHub ---

def pr_world(tmp_path: Path, pulls: dict | None = None, **extra) -> dict:
    (tmp_path / "rollout.diff").write_text('--- a/stacks/Pulumi.dev.yaml\n+++ b/stacks/Pulumi.dev.yaml\n-8\n+9\n')
    return {"env": {**DISPATCH, "BRANCH": BRANCH, "BASE": "main", "DIFF": "rollout.diff",
                    "RUN_URL": "https://github.com/acme/mlinfra/actions/runs/7"},
            "comments": [], "issues": [], "pulls": pulls or {}, **extra}


def test_opens_one_draft_pr_with_the_diff_and_refreshes_it_on_a_re_dispatch(tmp_path):
    world = run_script(tmp_path, scripts.rollout_pull_request(), pr_world(tmp_path))
    (pr,) = world["pulls"].values()
    assert (pr["title"], pr["draft"], pr["base"]["ref"], pr["head"]["ref"]) == \
        ("Canary of summarizer version 9 in stack dev", True, "main", BRANCH)
    assert pr["body"].startswith(scripts.ROLLOUT_MARKER)
    assert "```diff\n--- a/stacks/Pulumi.dev.yaml\n" in pr["body"] and "mark it **Ready for review**" in pr["body"]
    world["log"] = []
    again = run_script(tmp_path, scripts.rollout_pull_request(), world)
    assert list(again["pulls"]) == list(world["pulls"]), "no second PR"
    assert again["log"] == [{"level": "notice", "message": f"PR #{pr['number']} already proposes this version; "
                                                           "its description is refreshed"}]


def test_a_closed_proposal_is_not_reopened(tmp_path):
    world = run_script(tmp_path, scripts.rollout_pull_request(), pr_world(tmp_path))
    for pr in world["pulls"].values():
        pr["state"] = "closed"
    again = run_script(tmp_path, scripts.rollout_pull_request(), {**world, "log": []})
    assert len(again["pulls"]) == 1 and again["log"][0]["message"].startswith("PR #1000 of rollout/dev/summarizer/9 "
                                                                               "was closed: not reopened")


def test_without_drafts_the_pr_opens_ready_and_says_to_close_and_reopen_it(tmp_path):
    world = run_script(tmp_path, scripts.rollout_pull_request(), pr_world(tmp_path, noDrafts=True))
    (pr,) = world["pulls"].values()
    assert pr["draft"] is False and "close and reopen it" in pr["body"]


def test_the_proposal_of_a_new_version_closes_the_open_one_of_an_earlier_version(tmp_path):
    def pr(number: int, ref: str, full_name: str = "acme/mlinfra") -> dict:
        return {"number": number, "state": "open", "draft": True, "base": {"ref": "main"}, "body": "",
                "head": {"ref": ref, "label": f"acme:{ref}", "repo": {"full_name": full_name}}}
    pulls = {"5": pr(5, "rollout/dev/summarizer/8"), "6": pr(6, "rollout/dev/summarizer-2/8"),
             "7": pr(7, "rollout/prod/summarizer/8"), "8": pr(8, "rollout/dev/summarizer/7", "fork/mlinfra")}
    world = run_script(tmp_path, scripts.rollout_pull_request(), pr_world(tmp_path, pulls))
    assert {n: p["state"] for n, p in world["pulls"].items() if n in pulls} == \
        {"5": "closed", "6": "open", "7": "open", "8": "open"}
    assert {"level": "notice", "message": "closed PR #5 (rollout/dev/summarizer/8): superseded by #1000, version 9"} \
        in world["log"]
    # A late duplicate of an older version's dispatch, its PR still open, closes nothing.
    world["pulls"]["5"]["state"] = "open"
    world["pulls"]["1000"]["state"] = "open"
    older = run_script(tmp_path, scripts.rollout_pull_request(), {**world, "log": [], "env": {
        **world["env"], "VERSION": "8", "BRANCH": "rollout/dev/summarizer/8"}})
    assert {n: p["state"] for n, p in older["pulls"].items()} == {n: "open" for n in older["pulls"]}


def test_the_generated_script_is_the_workflows():
    assert step("open or update the pull request")["with"]["script"] == scripts.rollout_pull_request()
    assert load_yaml((ROOT / ".github" / "workflows" / FILE).read_text()) == WORKFLOW
