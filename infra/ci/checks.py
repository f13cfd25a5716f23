"""Checks on GitHub Actions workflows that actionlint does not make: least-privilege tokens,
fork PRs without secrets, every stack previewed, deployed and drift-checked, deploys in the
environment named after their stack and in tier order, per-stack concurrency that never
cancels a running job.

Each check reads the workflow as GitHub does (YAML 1.2: `on:` is a key) and resolves
`${{ matrix.* }}` against the job's matrix, so a matrix job is judged once per stack.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from infra.stackfile import load_yaml

LEVELS = {"none": 0, "read": 1, "write": 2}
FORK_TRIGGERS = {"pull_request", "pull_request_target"}
# A job that a fork PR cannot start: its condition requires the head branch to be in this repository.
SAME_REPO = re.compile(r"github\.event\.pull_request\.head\.repo\.full_name\s*==\s*github\.repository")
# Comments on a PR are issue comments in the API, but the token needs pull-requests: write for them.
PR_CONTEXT = {"pull_request", "pull_request_target", "workflow_run"}
_MATRIX = re.compile(r"\$\{\{\s*matrix\.([A-Za-z0-9_-]+)\s*\}\}")


@dataclass(frozen=True)
class Problem:
    file: str
    job: str
    check: str
    message: str

    def __str__(self) -> str:
        where = f"jobs.{self.job}: " if self.job else ""
        return f"{self.file}: {where}{self.message} [{self.check}]"


def load(path: Path) -> dict[str, Any]:
    data = load_yaml(path.read_text())
    return data if isinstance(data, dict) else {}


def triggers(workflow: dict[str, Any]) -> set[str]:
    on = workflow.get("on")
    if isinstance(on, str):
        return {on}
    return set(on or ())


def combos(job: dict[str, Any]) -> list[dict[str, Any]]:
    """Every matrix combination of a job ([{}] without a matrix)."""
    matrix = (job.get("strategy") or {}).get("matrix") or {}
    if not isinstance(matrix, dict):
        return [{}]
    axes = {k: v for k, v in matrix.items() if k not in ("include", "exclude") and isinstance(v, list)}
    out = [dict(zip(axes, values)) for values in itertools.product(*axes.values())] if axes else []
    out += [dict(extra) for extra in matrix.get("include") or [] if isinstance(extra, dict)]
    return out or [{}]


def resolve(value: Any, combo: dict[str, Any]) -> str:
    return _MATRIX.sub(lambda m: str(combo.get(m.group(1), m.group(0))), str(value))


@dataclass(frozen=True)
class PulumiStep:
    command: str
    stack: str
    refresh: bool
    expect_no_changes: bool


def pulumi_steps(job: dict[str, Any], combo: dict[str, Any]) -> Iterator[PulumiStep]:
    """The Pulumi commands of a job, by the pulumi/actions action or a `run:` line."""
    for step in job.get("steps") or []:
        uses, given = str(step.get("uses", "")), step.get("with") or {}
        if uses.startswith("pulumi/actions@"):
            yield PulumiStep(str(given.get("command", "")), resolve(given.get("stack-name", ""), combo),
                             _true(given.get("refresh")), _true(given.get("expect-no-changes")))
        for line in str(step.get("run", "")).splitlines():
            found = re.search(r"\bpulumi\s+(up|preview|destroy)\b(.*)", line)
            if found:
                stack = re.search(r"--stack[= ]+\"?([^\s\"]+)", found.group(2))
                yield PulumiStep(found.group(1), resolve(stack.group(1) if stack else "", combo),
                                 "--refresh" in found.group(2), "--expect-no-changes" in found.group(2))


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _is_drift(step: PulumiStep) -> bool:
    return step.command == "preview" and step.refresh and step.expect_no_changes


def _granted(workflow: dict[str, Any], job: dict[str, Any]) -> Any:
    return job["permissions"] if "permissions" in job else workflow.get("permissions")


def needed_permissions(workflow: dict[str, Any], job: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """scope -> (level, why) for what the job's steps do."""
    need: dict[str, tuple[str, str]] = {}
    pr_context = bool(triggers(workflow) & PR_CONTEXT)

    def add(scope: str, level: str, why: str) -> None:
        if LEVELS[level] > LEVELS[need.get(scope, ("none", ""))[0]]:
            need[scope] = (level, why)

    for step in job.get("steps") or []:
        uses, given = str(step.get("uses", "")), step.get("with") or {}
        name = step.get("name") or uses or "a run step"
        if uses.startswith("actions/checkout@"):
            add("contents", "read", f"{name} clones the repository")
        if uses.startswith(("google-github-actions/auth@", "aws-actions/configure-aws-credentials@")) \
                or "ACTIONS_ID_TOKEN_REQUEST" in str(step):
            add("id-token", "write", f"{name} asks for an OIDC token")
        if re.search(r"\bgit(\s+-c\s+\S+)*\s+push(?=[\s;&|)]|$)", str(step.get("run", ""))):
            add("contents", "write", f"{name} pushes to the repository")
        if uses.startswith("actions/download-artifact@") and "run-id" in given:
            add("actions", "read", f"{name} reads artifacts of another run")
        if uses.startswith("pulumi/actions@") and _true(given.get("comment-on-pr")):
            add("pull-requests", "write", f"{name} comments on the PR")
        if uses.startswith("actions/github-script@"):
            for area, method in re.findall(r"github\.rest\.(\w+)\.(\w+)", str(given.get("script", ""))):
                write = bool(re.match(r"(create|update|delete|add|remove|lock|set)", method))
                level = "write" if write else "read"
                if area == "pulls" or (area == "issues" and "Comment" in method and pr_context):
                    add("pull-requests", level, f"{name} calls {area}.{method} on a pull request")
                elif area == "issues":
                    add("issues", level, f"{name} calls issues.{method}")
                elif area in ("repos", "git"):
                    add("contents", level, f"{name} calls {area}.{method}")
    return need


def check_permissions(file: str, workflow: dict[str, Any]) -> Iterator[Problem]:
    top = workflow.get("permissions")
    if isinstance(top, str) or (isinstance(top, dict) and any(v == "write" for v in top.values())):
        yield Problem(file, "", "permissions", f"the workflow grants {top!r} to every job; grant at most "
                      "`contents: read` here and each write scope on the job that needs it")
    for job_id, job in (workflow.get("jobs") or {}).items():
        granted = _granted(workflow, job)
        if granted is None:
            yield Problem(file, job_id, "permissions", "no `permissions:` on the job or the workflow, so the "
                          "token gets the repository's default (often write-all); declare what the job needs")
            continue
        if isinstance(granted, str):
            yield Problem(file, job_id, "permissions", f"grants {granted!r}; list the scopes the job needs")
            continue
        need = needed_permissions(workflow, job)
        for scope in sorted(set(granted) | set(need)):
            has, (wants, why) = str(granted.get(scope, "none")), need.get(scope, ("none", ""))
            if LEVELS.get(has, 0) < LEVELS[wants]:
                yield Problem(file, job_id, "permissions", f"needs `{scope}: {wants}` ({why}) but has `{scope}: {has}`")
            elif LEVELS.get(has, 0) > LEVELS[wants]:
                yield Problem(file, job_id, "permissions",
                              f"grants `{scope}: {has}` that none of its steps needs; remove it"
                              + (f" or lower it to {wants}" if wants != "none" else ""))


def check_fork_jobs(file: str, workflow: dict[str, Any]) -> Iterator[Problem]:
    if not triggers(workflow) & FORK_TRIGGERS:
        return
    for job_id, job in (workflow.get("jobs") or {}).items():
        if SAME_REPO.search(str(job.get("if", ""))):
            continue
        if re.search(r"\bsecrets\.", str(job)):
            yield Problem(file, job_id, "fork-secrets", "runs for fork PRs and uses a secret; run it only for "
                          "branches of this repository (`if: github.event.pull_request.head.repo.full_name == "
                          "github.repository`) or drop the secret")
        granted = _granted(workflow, job)
        if isinstance(granted, dict) and any(v == "write" for v in granted.values()):
            yield Problem(file, job_id, "fork-secrets", "runs fork code with a write scope "
                          f"({', '.join(k for k, v in granted.items() if v == 'write')}); give fork jobs "
                          "`contents: read` and move the writing to a workflow_run workflow")


def _stateful_jobs(workflow: dict[str, Any]) -> Iterator[tuple[str, dict, dict, PulumiStep]]:
    """Jobs that change a stack or must not overlap with a change: `up` and drift previews."""
    for job_id, job in (workflow.get("jobs") or {}).items():
        for combo in combos(job):
            for step in pulumi_steps(job, combo):
                if step.command in ("up", "destroy") or _is_drift(step):
                    yield job_id, job, combo, step


def check_concurrency(file: str, workflow: dict[str, Any]) -> Iterator[Problem]:
    groups: dict[str, str] = {}
    top = workflow.get("concurrency")
    for job_id, job, combo, step in _stateful_jobs(workflow):
        conc = job.get("concurrency")
        if conc is None:
            if top is not None:
                yield Problem(file, job_id, "concurrency", "shares the workflow's one concurrency group with every "
                              "other stack; give the job its own group per stack")
            else:
                yield Problem(file, job_id, "concurrency", f"stack {step.stack} has no concurrency group; two runs "
                              f"could change it at once; add `concurrency: {{group: mlinfra-stack-{step.stack}, "
                              "cancel-in-progress: false}`")
            continue
        group = resolve(conc.get("group", "") if isinstance(conc, dict) else conc, combo)
        cancel = conc.get("cancel-in-progress", False) if isinstance(conc, dict) else False
        if cancel is not False:
            yield Problem(file, job_id, "concurrency", f"cancel-in-progress is {cancel!r} for stack {step.stack}: "
                          "cancelling a running `pulumi up` leaves the stack locked or half-applied; set it to false")
        if not re.search(rf"(^|[^A-Za-z0-9]){re.escape(step.stack)}($|[^A-Za-z0-9])", group):
            yield Problem(file, job_id, "concurrency", f"group {group!r} does not name stack {step.stack}; "
                          "one group per stack lets stacks deploy in parallel and never together")
        if groups.setdefault(group, step.stack) != step.stack:
            yield Problem(file, job_id, "concurrency", f"group {group!r} is shared by stacks {groups[group]} and "
                          f"{step.stack}; use one group per stack")


def check_environments(file: str, workflow: dict[str, Any]) -> Iterator[Problem]:
    for job_id, job, combo, step in _stateful_jobs(workflow):
        if step.command != "up":
            continue
        env = job.get("environment")
        name = resolve(env.get("name", "") if isinstance(env, dict) else env or "", combo)
        if name != step.stack:
            yield Problem(file, job_id, "environments", f"deploys stack {step.stack} in environment "
                          f"{name or '(none)'!r}; run it in the environment `{step.stack}`, whose protection rules "
                          "and federation binding are the stack's")


def coverage(workflows: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """preview / deploy / drift -> the stacks the workflows run it for."""
    found: dict[str, set[str]] = {"preview": set(), "deploy": set(), "drift": set()}
    for workflow in workflows.values():
        on = triggers(workflow)
        for job in (workflow.get("jobs") or {}).values():
            for combo in combos(job):
                for step in pulumi_steps(job, combo):
                    if step.command == "preview" and on & FORK_TRIGGERS:
                        found["preview"].add(step.stack)
                    elif step.command == "up" and "push" in on:
                        found["deploy"].add(step.stack)
                    elif _is_drift(step) and "schedule" in on:
                        found["drift"].add(step.stack)
    return found


def check_coverage(workflows: dict[str, dict[str, Any]], stacks: Iterable[str]) -> Iterator[Problem]:
    what = {"preview": "a `pulumi preview` on pull requests", "deploy": "a `pulumi up` on push",
            "drift": "a scheduled `pulumi preview --refresh --expect-no-changes`"}
    for kind, covered in coverage(workflows).items():
        for stack in sorted(set(stacks) - covered):
            yield Problem("(workflows)", "", "coverage", f"stack {stack} (stacks/Pulumi.{stack}.yaml) has no "
                          f"{what[kind]}; run `mlinfra ci init` again")


TIERS = ("dev", "staging", "prod")


def check_order(file: str, workflow: dict[str, Any], environments: dict[str, str]) -> Iterator[Problem]:
    """A deploy of a later tier must wait (through `needs`, directly or not) for every deploy
    of the earlier tiers: a change reaches prod only after it applied to dev and staging."""
    jobs = workflow.get("jobs") or {}
    deploys: dict[str, set[str]] = {}
    for job_id, job in jobs.items():
        for combo in combos(job):
            deploys.setdefault(job_id, set()).update(
                s.stack for s in pulumi_steps(job, combo) if s.command == "up")

    def upstream(job_id: str, seen: set[str]) -> set[str]:
        needs = jobs.get(job_id, {}).get("needs") or []
        for need in [needs] if isinstance(needs, str) else needs:
            if need not in seen:
                seen.add(need)
                upstream(need, seen)
        return seen

    for job_id, stacks in deploys.items():
        before = upstream(job_id, set())
        for stack in stacks:
            tier = environments.get(stack)
            if tier not in TIERS:
                continue
            for other_id, others in deploys.items():
                late = [o for o in others if environments.get(o) in TIERS and TIERS.index(environments[o]) < TIERS.index(tier)]
                if late and other_id not in before:
                    yield Problem(file, job_id, "order", f"deploys {stack} ({tier}) without waiting for {other_id} "
                                  f"(stack {', '.join(late)}, {environments[late[0]]}); add it to `needs:`")


def check_workflows(workflows: dict[str, dict[str, Any]], stacks: Iterable[str],
                    environments: dict[str, str] | None = None) -> list[Problem]:
    """Every check; `environments` (stack -> dev|staging|prod) enables the deploy-order check."""
    problems: list[Problem] = []
    for file, workflow in workflows.items():
        for check in (check_permissions, check_fork_jobs, check_concurrency, check_environments):
            problems += check(file, workflow)
        if environments:
            problems += check_order(file, workflow, environments)
    problems += check_coverage(workflows, stacks)
    return problems


def check_directory(directory: Path, stacks: Iterable[str], environments: dict[str, str] | None = None) -> list[Problem]:
    files = sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])
    return check_workflows({str(p): load(p) for p in files}, stacks, environments)
