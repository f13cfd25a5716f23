"""The generated CI workflows: actionlint and our own checks pass on them, each check fails on
a workflow with its defect, and the committed .github/workflows/ is exactly what is generated."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.ci import checks, workflows
from infra.ci.changes import stacks_changed
from infra.ci.stacks import CIError, read_stacks
from infra.stackfile import load_yaml, read_project
from tests.conftest import PROJECT, ROOT, STACKS, stack_config
from tests.mlinfra_cli import cli

ACTIONLINT = Path(sys.executable).parent / "actionlint"
STACK_LIST = read_stacks(PROJECT)
VERSION = workflows.pulumi_version(ROOT)


def generated() -> dict[str, dict]:
    """The generated workflows as GitHub reads them (parsed from the generated text)."""
    return {name: load_yaml(text) for name, text in workflows.generate(STACK_LIST, VERSION).items()}


ENVIRONMENTS = {s.name: s.environment for s in STACK_LIST}
# Every stack but the bootstrap one, which no workflow applies (tested below).
CI_STACKS = [s.name for s in STACK_LIST]


def problems_of(files: dict[str, dict], stacks=CI_STACKS) -> list[str]:
    return [str(p) for p in checks.check_workflows(files, stacks, ENVIRONMENTS)]


def test_generated_workflows_pass_every_check():
    assert problems_of(generated()) == []


def test_committed_workflows_are_exactly_what_ci_init_generates():
    files = workflows.generate(STACK_LIST, VERSION)
    committed = ROOT / ".github" / "workflows"
    assert sorted(p.name for p in committed.glob("*.yml")) == sorted(files)
    for name, text in files.items():
        assert (committed / name).read_text() == text, f"run `mlinfra ci init` and commit .github/workflows/{name}"
    done = cli("ci", "init", "--check")
    assert done.returncode == 0, done.stderr


def test_ci_init_check_names_a_stale_workflow(tmp_path):
    shutil.copytree(ROOT / ".github" / "workflows", tmp_path / "wf")
    (tmp_path / "wf" / "deploy.yml").write_text("name: deploy\n")
    done = cli("ci", "init", "--check", "--out", str(tmp_path / "wf"))
    assert done.returncode == 1
    assert "deploy.yml: differs from what `mlinfra ci init` generates" in done.stderr


def test_ci_init_writes_the_workflows_and_prints_the_identity_per_environment(tmp_path):
    done = cli("ci", "init", "--repo-dir", str(tmp_path), "--repository", "acme/mlinfra")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / ".github" / "workflows").iterdir()) == \
        ["deploy.yml", "drift.yml", "pr-comment.yml", "pr.yml", "propose-rollout.yml"]
    out = done.stdout
    assert "workload-identity-pools providers create-oidc" in out
    assert "--attribute-condition=\"assertion.repository == 'acme/mlinfra'\"" in out
    for s in STACK_LIST:
        if s.cloud == "aws":  # a role GitHub's OIDC tokens of the stack's environment may assume
            role = s.deploy_account.rsplit("/", 1)[1]
            assert f"aws iam create-role --role-name {role} " in out
            assert f'"token.actions.githubusercontent.com:sub":"repo:acme/mlinfra:environment:{s.name}"' in out
            continue
        assert f"gcloud iam service-accounts add-iam-policy-binding {s.deploy_account}" in out
        assert f"workloadIdentityPools/github/subject/repo:acme/mlinfra:environment:{s.name}\"" in out



def test_ci_init_warns_when_the_origin_remote_names_no_github_repository(tmp_path):
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    for remote, why in ((None, "there is no such remote"),
                        ("https://ci:s3cret@gitlab.example/acme/ml.git", "https://gitlab.example/acme/ml.git is not on GitHub")):
        if remote:
            git("remote", "add", "origin", remote)
        done = cli("ci", "init", "--repo-dir", str(tmp_path))
        assert done.returncode == 0, done.stderr
        assert done.stderr == (f"warning: could not read owner/name from the git remote `origin` of {tmp_path} ({why}); "
                               "the trust conditions name the placeholder OWNER/REPO instead: pass --repository owner/name\n")
        assert "--attribute-condition=\"assertion.repository == 'OWNER/REPO'\"" in done.stdout
    git("remote", "set-url", "origin", "git@github.com:acme/ml.git")
    done = cli("ci", "init", "--repo-dir", str(tmp_path))
    assert done.stderr == "" and "--attribute-condition=\"assertion.repository == 'acme/ml'\"" in done.stdout


def test_ci_init_prints_the_dispatch_token_secret_that_only_the_rollout_workflow_reads(tmp_path):
    out = cli("ci", "init", "--repo-dir", str(tmp_path), "--repository", "acme/mlinfra").stdout
    chain = out[out.index("# 4. The model-version-to-rollout chain"):]
    assert "propose-rollout.yml of acme/mlinfra" in chain
    assert "with one repository permission, Actions: Read and write" in chain
    for project in sorted({s.project for s in STACK_LIST if s.cloud == "gcp"}):
        assert f"gcloud secrets create mlinfra-github-dispatch-token --project={project} " \
               "--replication-policy=automatic" in chain
    # The stack grants the chain's workflow account secretAccessor on the secret: no grant by hand.
    assert "The stack itself grants the chain's workflow account" in chain
    assert "add-iam-policy-binding" not in chain


@pytest.mark.skipif(not ACTIONLINT.exists(), reason="actionlint is not installed: run `make install`")
def test_actionlint_passes_on_the_generated_and_the_committed_workflows(tmp_path):
    for name, text in workflows.generate(STACK_LIST, VERSION).items():
        (tmp_path / name).write_text(text)
    files = [*sorted(tmp_path.glob("*.yml")), *sorted((ROOT / ".github" / "workflows").glob("*.yml"))]
    done = subprocess.run([str(ACTIONLINT), "-no-color", *map(str, files)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(not ACTIONLINT.exists(), reason="actionlint is not installed: run `make install`")
def test_actionlint_rejects_an_input_the_pulumi_action_does_not_have(tmp_path):
    deploy = generated()["deploy.yml"]
    deploy["jobs"]["deploy-dev"]["steps"][-1]["with"]["stack"] = "dev"
    (tmp_path / "deploy.yml").write_text(workflows.dump(deploy))
    done = subprocess.run([str(ACTIONLINT), "-no-color", str(tmp_path / "deploy.yml")], capture_output=True, text=True)
    assert done.returncode == 1 and 'input "stack" is not defined in action "pulumi/actions@v7"' in done.stdout


def test_rejects_a_deploy_job_without_the_oidc_permission():
    files = generated()
    del files["deploy.yml"]["jobs"]["deploy-prod"]["permissions"]["id-token"]
    assert any("jobs.deploy-prod: needs `id-token: write`" in p for p in problems_of(files))


def test_rejects_a_comment_job_without_pull_requests_write():
    files = generated()
    files["pr-comment.yml"]["jobs"]["comment"]["permissions"]["pull-requests"] = "read"
    found = problems_of(files)
    assert any("jobs.comment: needs `pull-requests: write`" in p and "Comment on a pull request" in p for p in found), found


def test_rejects_a_drift_job_that_cannot_open_issues():
    files = generated()
    del files["drift.yml"]["jobs"]["drift"]["permissions"]["issues"]
    assert any("jobs.drift: needs `issues: write`" in p for p in problems_of(files))


def test_rejects_write_all_and_scopes_no_step_needs():
    files = generated()
    files["pr.yml"]["jobs"]["test"]["permissions"] = "write-all"
    files["drift.yml"]["jobs"]["drift"]["permissions"]["pull-requests"] = "write"
    files["deploy.yml"]["permissions"] = {"contents": "write"}
    found = problems_of(files)
    assert any("jobs.test: grants 'write-all'" in p for p in found)
    assert any("jobs.drift: grants `pull-requests: write` that none of its steps needs" in p for p in found)
    assert any("deploy.yml: the workflow grants" in p for p in found)


def test_rejects_a_job_without_any_permissions_block():
    files = generated()
    del files["pr.yml"]["permissions"], files["pr.yml"]["jobs"]["plan"]["permissions"]
    assert any("jobs.plan: no `permissions:`" in p for p in problems_of(files))


def test_rejects_a_stack_that_nothing_previews_deploys_or_checks_for_drift():
    found = problems_of(generated(), [*CI_STACKS, "qa"])
    assert len([p for p in found if "stack qa (stacks/Pulumi.qa.yaml) has no" in p]) == 3


def test_rejects_a_stack_left_out_of_the_deploy_workflow():
    files = generated()
    del files["deploy.yml"]["jobs"]["deploy-k8s-dev"]
    files["deploy.yml"]["jobs"]["deploy-k8s-prod"]["needs"].remove("deploy-k8s-dev")
    files["deploy.yml"]["jobs"]["deploy-prod"]["needs"].remove("deploy-k8s-dev")
    assert problems_of(files) == ["(workflows): stack k8s-dev (stacks/Pulumi.k8s-dev.yaml) has no a `pulumi up` on push; "
                                  "run `mlinfra ci init` again [coverage]"]


def test_rejects_a_cancelling_or_shared_concurrency_group():
    files = generated()
    files["deploy.yml"]["jobs"]["deploy-prod"]["concurrency"]["cancel-in-progress"] = True
    files["deploy.yml"]["jobs"]["deploy-k8s-prod"]["concurrency"]["group"] = "mlinfra-stack-prod"
    files["drift.yml"]["jobs"]["drift"]["concurrency"] = {"group": "drift"}
    found = problems_of(files)
    assert any("jobs.deploy-prod: cancel-in-progress is True for stack prod" in p for p in found)
    assert any("group 'mlinfra-stack-prod' does not name stack k8s-prod" in p for p in found)
    assert any("jobs.drift: group 'drift' does not name stack dev" in p for p in found)


def test_rejects_a_deploy_outside_the_environment_named_after_its_stack():
    files = generated()
    files["deploy.yml"]["jobs"]["deploy-k8s-prod"]["environment"] = {"name": "prod"}
    assert any("jobs.deploy-k8s-prod: deploys stack k8s-prod in environment 'prod'" in p for p in problems_of(files))


def test_rejects_a_secret_in_a_job_that_fork_prs_run():
    files = generated()
    files["pr.yml"]["jobs"]["plan"]["env"] = {"TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}"}
    found = problems_of(files)
    assert any("jobs.plan: runs for fork PRs and uses a secret" in p for p in found), found


def test_rejects_the_cloud_preview_when_it_is_not_limited_to_branches_of_this_repository():
    files = generated()
    del files["pr.yml"]["jobs"]["preview"]["if"]
    found = [p for p in problems_of(files) if "jobs.preview" in p]
    assert any("uses a secret" in p for p in found) and any("write scope (id-token)" in p for p in found)


def dev_deploys() -> list[str]:
    return sorted(f"deploy-{s.name}" for s in STACK_LIST if s.environment == "dev")


def test_rejects_a_prod_deploy_that_does_not_wait_for_every_dev_deploy():
    files = generated()
    files["deploy.yml"]["jobs"]["deploy-k8s-prod"]["needs"] = [j for j in dev_deploys() if j != "deploy-dev"]
    assert problems_of(files) == ["deploy.yml: jobs.deploy-k8s-prod: deploys k8s-prod (prod) without waiting for "
                                  "deploy-dev (stack dev, dev); add it to `needs:` [order]"]


def test_deploys_run_dev_then_staging_then_prod_each_as_its_stack():
    deploy = generated()["deploy.yml"]["jobs"]
    assert all("needs" not in deploy[job] for job in dev_deploys())
    for prod in ("deploy-prod", "deploy-k8s-prod"):
        assert deploy[prod]["needs"] == dev_deploys()
    assert deploy["deploy-prod"]["steps"][-2]["with"]["service_account"] == \
        "mlinfra-deploy-prod@acme-ml-prod.iam.gserviceaccount.com"


def test_staging_sits_between_dev_and_prod(tmp_path):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    (tmp_path / "stacks").mkdir()
    for name, env in (("a", "dev"), ("b", "staging"), ("c", "prod")):
        (tmp_path / "stacks" / f"Pulumi.{name}.yaml").write_text(
            f"config:\n  gcp:project: acme-{name}\n  mlinfra:environment: {env}\n")
    stacks = read_stacks(read_project(tmp_path))
    deploy = workflows.deploy_workflow(stacks, VERSION)
    jobs = deploy["jobs"]
    assert [jobs[j].get("needs") for j in ("deploy-a", "deploy-b", "deploy-c")] == [None, ["deploy-a"], ["deploy-b"]]
    tiers = {s.name: s.environment for s in stacks}
    assert checks.check_workflows({"deploy.yml": deploy}, [], tiers) == []  # c waits for a through b
    del jobs["deploy-c"]["needs"]
    assert [p.job for p in checks.check_workflows({"deploy.yml": deploy}, [], tiers)] == ["deploy-c", "deploy-c"]


def test_refuses_a_stack_file_without_an_environment(tmp_path):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.qa.yaml").write_text("config:\n  gcp:project: acme-qa\n")
    with pytest.raises(CIError, match=r"stacks/Pulumi.qa.yaml: mlinfra:environment is None; .* dev, staging, prod"):
        read_stacks(read_project(tmp_path))
    done = cli("--project-dir", str(tmp_path), "ci", "init", "--check")
    assert done.returncode == 1 and "Traceback" not in done.stderr and "mlinfra:environment" in done.stderr


def test_a_stack_file_changes_its_stack_and_the_program_changes_every_stack():
    assert stacks_changed(["stacks/Pulumi.prod.yaml", "README.md"], STACKS) == {"prod"}
    assert stacks_changed(["tests/test_ci.py", ".github/workflows/pr.yml"], STACKS) == set()
    assert stacks_changed(["components/storage.py"], STACKS) == set(STACKS)
    assert stacks_changed(["requirements.txt"], STACKS) == set(STACKS)


def test_ci_changed_reads_the_branch_diff_and_sets_the_step_output(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "stacks", repo / "stacks")
    shutil.copy(ROOT / "Pulumi.yaml", repo)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=repo, check=True)
    base = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    with (repo / "stacks" / "Pulumi.prod.yaml").open("a") as f:
        f.write("# a comment\n")
    subprocess.run([*git, "commit", "-qam", "edit prod"], cwd=repo, check=True)
    for stack, expected in (("prod", "true"), ("dev", "false")):
        output = tmp_path / f"out-{stack}"
        done = cli("--project-dir", str(repo), "ci", "changed", "--stack", stack, "--base", base,
                   env={"GITHUB_OUTPUT": str(output)})
        assert done.returncode == 0, done.stderr
        assert output.read_text() == f"changed={expected}\n"


def test_ci_check_names_the_file_job_and_fix_of_each_problem(tmp_path):
    shutil.copytree(ROOT / ".github" / "workflows", tmp_path / "wf")
    deploy = tmp_path / "wf" / "deploy.yml"
    deploy.write_text(deploy.read_text().replace("cancel-in-progress: false", "cancel-in-progress: true", 1))
    done = cli("ci", "check", str(tmp_path / "wf"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    first = sorted(STACK_LIST, key=lambda s: (s.tier, s.name))[0].name  # the first deploy job in the file
    assert f"{deploy}: jobs.deploy-{first}: cancel-in-progress is True for stack {first}" in done.stderr
    assert "set it to false [concurrency]" in done.stderr
    assert cli("ci", "check").returncode == 0


def run_plan_step(project: Path, stack: str) -> subprocess.CompletedProcess:
    """The PR workflow's plan step, run by bash as GitHub runs it (`bash -eo pipefail`)."""
    step = next(s for s in generated()["pr.yml"]["jobs"]["plan"]["steps"] if s.get("name", "").startswith("plan "))
    if not (project / ".venv").exists():
        (project / ".venv").symlink_to(ROOT / ".venv")
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=project,
                          env={**os.environ, "STACK": stack}, capture_output=True, text=True, timeout=180)


def test_the_pr_plan_step_writes_the_markdown_and_json_of_a_stack(tmp_path):
    project = tmp_path / "p"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".venv*", ".git", "node_modules", "plan"), symlinks=True)
    done = run_plan_step(project, "dev")
    assert done.returncode == 0, done.stderr
    assert (project / "plan" / "dev.md").read_text().startswith("## Offline plan of stack `dev`")
    assert json.loads((project / "plan" / "dev.json").read_text())["steps"]


def test_the_pr_plan_step_fails_but_leaves_a_comment_saying_why_when_the_stack_file_is_wrong(tmp_path):
    project = tmp_path / "p"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".venv*", ".git", "node_modules", "plan"), symlinks=True)
    (project / "stacks" / "Pulumi.dev.yaml").write_text(
        "config:\n  gcp:project: acme-ml-dev\n  gcp:region: us-central1\n  mlinfra:pattern: serverles\n"
        "  mlinfra:environment: dev\n")
    done = run_plan_step(project, "dev")
    assert done.returncode == 1
    text = (project / "plan" / "dev.md").read_text()
    assert text.startswith("## Offline plan of stack `dev`\n\nThe plan did not run:\n\n```text\n")
    assert "stacks/Pulumi.dev.yaml" in text and "mlinfra:pattern" in text and text.endswith("```\n")


@pytest.mark.skipif(not ACTIONLINT.exists() or not shutil.which("shellcheck"),
                    reason="actionlint or shellcheck is missing: `make install shellcheck-install`")
def test_actionlint_runs_shellcheck_on_the_run_scripts(tmp_path):
    pr = generated()["pr.yml"]
    pr["jobs"]["plan"]["steps"][3]["run"] = "cd $HOME/plan\n" + pr["jobs"]["plan"]["steps"][3]["run"]
    (tmp_path / "pr.yml").write_text(workflows.dump(pr))
    done = subprocess.run([str(ACTIONLINT), "-no-color", str(tmp_path / "pr.yml")], capture_output=True, text=True)
    assert done.returncode == 1 and "SC2086" in done.stdout, done.stdout
