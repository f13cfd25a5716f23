"""The stack file of the bootstrap stack (`mlinfra:pattern: bootstrap`): the GitHub repository,
one environment per CI stack with its protection, and the rules of the deploy branch.

The bootstrap stack creates what the generated workflows assume (infra/ci/bootstrap.py): the
workload identity pool and the deploy and preview accounts of every Google Cloud stack, the
OIDC provider and roles of every AWS stack, and the GitHub environments, the branch ruleset
and the repository variables. Which stacks there are is read from the project's other stack
files, as `mlinfra ci init` reads them; the file names only what the stack files cannot say.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Mapping, Optional

from pydantic import ValidationError

from components.core.issues import Issue, duplicate_names
from components.core.spec import Context, Spec, validate
from infra.errors import ConfigError, ProviderKey, issues_from_validation_error
from infra.sections import WaiverSpec, waiver_issues

PATTERN = "bootstrap"
# GitHub's rules: an owner is 1-39 letters, digits and single hyphens; a repository name up to 100
# letters, digits, '.', '_' and '-', and not `.` or `..`.
_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"
REPOSITORY = re.compile(rf"^{_OWNER}/(?!\.\.?$)[A-Za-z0-9._-]{{1,100}}$")
MAX_REVIEWERS = 6  # users and teams together
MAX_WAIT_MINUTES = 43_200  # 30 days
_PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_BUCKET = re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")


class ReviewersSpec(Spec):
    """Who may approve a deploy: numeric GitHub ids, not logins or slugs (the API takes ids)."""

    users: list[int] = []
    """Numeric user ids (`gh api users/<login> --jq .id`). Defaults to none."""
    teams: list[int] = []
    """Numeric team ids (`gh api orgs/<org>/teams/<slug> --jq .id`). Defaults to none."""

    @property
    def count(self) -> int:
        return len(self.users) + len(self.teams)

    def issues(self, ctx: Context) -> list[Issue]:
        if self.count > MAX_REVIEWERS:
            return [Issue((), f"GitHub allows at most {MAX_REVIEWERS} required reviewers (users and teams "
                          f"together); these are {self.count}", self.count,
                          fix="name a team instead of several of its members")]
        return [Issue((key,), "is not a GitHub id", value, allowed="a positive integer",
                      fix="write the numeric id (`gh api users/<login> --jq .id`)")
                for key, ids in (("users", self.users), ("teams", self.teams)) for value in ids if value <= 0]


class EnvironmentSpec(Spec):
    """The GitHub environment of one stack: the deploy job of the stack runs in it, and only a
    job in it may use the stack's deploy identity."""

    name: str
    """The stack it deploys (stacks/Pulumi.<name>.yaml); the environment has the stack's name."""
    reviewers: ReviewersSpec = ReviewersSpec()
    """Required reviewers: one of them approves each deploy before it starts. Required for a prod
    stack. Defaults to none."""
    wait_timer: int = 0
    """Minutes a deploy waits (after approval) before it starts, 0 to 43200. Defaults to 0."""
    prevent_self_review: bool = True
    """Whether whoever started the deploy (merged to main) may not approve it themselves. Defaults to true."""

    def issues(self, ctx: Context) -> list[Issue]:
        if not 0 <= self.wait_timer <= MAX_WAIT_MINUTES:
            return [Issue(("waitTimer",), "is out of range", self.wait_timer, allowed=f"0 to {MAX_WAIT_MINUTES} minutes",
                          fix="set minutes between 0 and 43200 (30 days)")]
        return []


class MainBranchSpec(Spec):
    """The ruleset on the branch deploys run from: pull requests only, with pr.yml's checks."""

    required_approvals: int = 1
    """Approving reviews a pull request needs before it merges, 0 to 10. Defaults to 1."""

    def issues(self, ctx: Context) -> list[Issue]:
        if not 0 <= self.required_approvals <= 10:
            return [Issue(("requiredApprovals",), "is out of range", self.required_approvals, allowed="0 to 10",
                          fix="set it between 0 and 10")]
        return []


class BootstrapConfig(Spec):
    """Every `mlinfra:` key of the bootstrap stack file."""

    pattern: Literal["bootstrap"]
    """bootstrap: this stack creates the identities and GitHub settings of the CI stacks."""
    repository: str
    """The GitHub repository the workflows run in, as owner/name."""
    repository_owner_id: Optional[int] = None
    """The owner's numeric id (`gh api users/<owner> --jq .id`): the pool's condition then also
    pins it, so a re-registered owner name is not trusted. Defaults to none (the name only)."""
    state_bucket: Optional[str] = None
    """The Pulumi state bucket, gs://NAME (`mlinfra backend init` creates it): the deploy accounts
    write it, the preview accounts read it. Required when a stack is on Google Cloud. Defaults to none."""
    environments: list[EnvironmentSpec] = []
    """One per CI stack, named after it. Defaults to none."""
    main_branch: MainBranchSpec = MainBranchSpec()
    """The rules of the deploy branch (main). Defaults to one approval."""
    waivers: list[WaiverSpec] = []
    """Guardrail exceptions, each with a written reason."""

    # What every pattern's code reads of a stack: the bootstrap stack is always treated as prod.
    cloud = property(lambda self: "github")
    environment = property(lambda self: "prod")
    labels = property(lambda self: {})
    services = property(lambda self: [])

    def issues(self, ctx: Context) -> list[Issue]:
        issues: list[Issue] = []
        if not REPOSITORY.match(self.repository):
            issues.append(Issue(("repository",), "is not a GitHub repository", self.repository,
                                allowed="owner/name, as in https://github.com/owner/name",
                                fix="write the owner and the name with one /, e.g. acme/mlinfra"))
        if self.repository_owner_id is not None and self.repository_owner_id <= 0:
            issues.append(Issue(("repositoryOwnerId",), "is not a GitHub id", self.repository_owner_id,
                                fix="write the numeric id (`gh api users/<owner> --jq .id`), or remove it"))
        issues += duplicate_names("environments", [e.name for e in self.environments])
        issues += waiver_issues(self.waivers)
        stacks = ctx.extra.get("ci_stacks")
        if stacks is None:
            return issues
        by_name = {s.name: s for s in stacks}
        for i, env in enumerate(self.environments):
            stack = by_name.get(env.name)
            if stack is None:
                issues.append(Issue(("environments", i, "name"), "names no stack", env.name,
                                    allowed=", ".join(by_name), fix=f"remove it, or add stacks/Pulumi.{env.name}.yaml"))
            elif stack.environment == "prod" and env.reviewers.count == 0:
                issues.append(Issue(("environments", i, "reviewers"), f"stack {env.name} is prod, and its environment "
                                    "has no required reviewer: a merge would deploy it unreviewed",
                                    fix="add reviewers: {users: [<numeric id>]} (gh api users/<login> --jq .id)"))
        named = {e.name for e in self.environments}
        for s in stacks:
            if s.name not in named:
                issues.append(Issue(("environments",), f"stack {s.name} ({s.file}) has no environment: its deploy "
                                    "job would run in one GitHub creates unprotected, which no identity trusts",
                                    fix=f"add `- name: {s.name}`"))
        if any(s.cloud == "gcp" for s in stacks) and self.state_bucket is None:
            issues.append(Issue(("stateBucket",), "is required: the Google Cloud deploy accounts write the state",
                                fix="add `mlinfra:stateBucket: gs://<bucket>` (the bucket of `pulumi login`)"))
        elif self.state_bucket is not None and not _BUCKET.match(self.state_bucket):
            issues.append(Issue(("stateBucket",), "is not a Cloud Storage bucket URL", self.state_bucket,
                                allowed="gs://NAME", fix="write it as `pulumi login` takes it, e.g. gs://acme-pulumi-state"))
        return issues


def provider_issues(values: Mapping[str, Any], stacks: list) -> list[Issue]:
    """`gcp:project` (the pool's project) with Google Cloud stacks, `aws:region` with AWS ones."""
    issues = []
    if any(s.cloud == "gcp" for s in stacks):
        project = values.get("gcp:project")
        if not isinstance(project, str) or not _PROJECT_ID.match(project):
            issues.append(Issue((ProviderKey("gcp:project"),), "is required: the workload identity pool's project",
                                project if project else None, allowed="a project ID, e.g. acme-ml-prod",
                                fix="add `gcp:project: <project>` under config: (a prod project)"))
    if any(s.cloud == "aws" for s in stacks) and not values.get("aws:region"):
        issues.append(Issue((ProviderKey("aws:region"),), "is required: the AWS stacks' roles are created with it",
                            fix="add `aws:region: us-east-1` under config:"))
    return issues


def load(values: Mapping[str, Any], *, stack: str, file: str, root: Path) -> Any:
    from infra.ci.stacks import CIError, read_stacks
    from infra.config import NAMESPACE, StackConfig, parse_value
    from infra.stackfile import StackFileError, read_project

    raw = {key.split(":", 1)[1]: parse_value(value) for key, value in values.items() if key.startswith(f"{NAMESPACE}:")}
    try:
        stacks = read_stacks(read_project(root))
    except (CIError, StackFileError, OSError) as error:
        raise ConfigError(file, [Issue(("environments",), f"the CI stacks cannot be read: {error}",
                                       fix="fix that stack file first")]) from None
    issues = provider_issues(values, stacks)
    try:
        config = BootstrapConfig.model_validate(raw, by_alias=True, by_name=False)
    except ValidationError as error:
        raise ConfigError(file, issues + issues_from_validation_error(error, BootstrapConfig)) from None
    project, region = str(values.get("gcp:project") or ""), str(values.get("aws:region") or "")
    ctx = Context(project=project or Context.project, region=region or Context.region, stack=stack,
                  environment="prod", root=root, extra={"ci_stacks": stacks})
    issues += validate(config, ctx)
    if issues:
        raise ConfigError(file, issues)
    return StackConfig(stack=stack, file=file, project=project, region=region, root=root, mlinfra=config)
