"""The bootstrap stack file `mlinfra ci init --bootstrap` writes: one environment per CI stack,
the repository, the pool project and the state bucket; the required reviewers of the prod
environments are left to fill in (GitHub ids are not known offline), so the file fails
validation, naming the key, until they are."""

from __future__ import annotations

from typing import Optional

from infra.ci.stacks import BOOTSTRAP, CIStack


def stack_file(stacks: list[CIStack], repository: str, pool_project: str, state_bucket: str,
               owner_id: Optional[int] = None, reviewers: Optional[dict[str, list[int]]] = None) -> str:
    """The file's text; `reviewers` (stack -> user ids) fills in environments' reviewers."""
    reviewers = reviewers or {}
    gcp, aws = [s for s in stacks if s.cloud == "gcp"], [s for s in stacks if s.cloud == "aws"]
    lines = [
        "# The bootstrap stack: the identities and GitHub settings the generated workflows assume",
        "# (`mlinfra ci init --bootstrap` wrote it from the stack files). No workflow applies it: an",
        "# administrator runs `pulumi up --stack bootstrap` with a GitHub token (GITHUB_TOKEN, repository",
        "# administration) and IAM administrator credentials, once and after each new stack.",
        "config:",
    ]
    if gcp:
        lines.append(f"  gcp:project: {pool_project}              # the workload identity pool's project")
    if aws:
        lines.append(f"  aws:region: {aws[0].region}")
    lines += [f"  mlinfra:pattern: {BOOTSTRAP}", f"  mlinfra:repository: {repository}"]
    if owner_id is not None:
        lines.append(f"  mlinfra:repositoryOwnerId: {owner_id}       # pinned in the pool's condition")
    if gcp:
        lines.append(f"  mlinfra:stateBucket: {state_bucket}")
    lines.append("  mlinfra:environments:                # one per stack, named after it; reviewers are numeric ids")
    for s in stacks:
        lines.append(f"    - name: {s.name}")
        if s.name in reviewers:
            lines.append(f"      reviewers: {{users: [{', '.join(str(i) for i in reviewers[s.name])}]}}")
        elif s.environment == "prod":
            lines.append("      reviewers: {users: []}          # required: gh api users/<login> --jq .id")
    lines += ["  mlinfra:mainBranch: {requiredApprovals: 1}"]
    return "\n".join(lines) + "\n"
