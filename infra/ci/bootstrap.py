"""The identity and GitHub setup the generated workflows assume, as data: one source for what
`mlinfra ci init` prints (infra/ci/identity.py) and what the bootstrap stack creates
(infra/patterns/bootstrap.py), so the two cannot drift apart.

Per CI stack: a deploy identity that only jobs in the GitHub environment named after the stack
may use (its OIDC token's `sub` is `repo:<owner>/<name>:environment:<stack>`), a read-only
preview identity for the repository, and the environment itself, deployable from the deploy
workflow's branch only. The required checks of the deploy branch are the job names of the
generated pr.yml, resolved per matrix entry as GitHub names their check runs.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

from infra.ci import checks, workflows
from infra.ci.stacks import AWS_ACCOUNT_VAR, CIStack

ISSUER = "token.actions.githubusercontent.com"
ISSUER_URI = f"https://{ISSUER}"
POOL = "github"
PROVIDER = "github-actions"
# google.subject is the token's `sub`, so a deploy binding can name one environment exactly.
ATTRIBUTE_MAPPING = {"google.subject": "assertion.sub", "attribute.repository": "assertion.repository",
                     "attribute.environment": "assertion.environment"}
# The deploy and preview accounts' project roles, and the AWS deploy roles' policies, are derived
# per stack from what it plans (infra/ci/deploy_roles.py, infra/ci/stack_grants.py).
# On the Pulumi state bucket: the deploy account writes the state, the preview account reads it.
DEPLOY_STATE_ROLE, PREVIEW_STATE_ROLE = "roles/storage.objectUser", "roles/storage.objectViewer"
AWS_AUDIENCE = "sts.amazonaws.com"
AWS_PREVIEW_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
# The GitHub Actions app: a required check must come from it, not from any app that can post statuses.
GITHUB_ACTIONS_APP_ID = 15368


def _var(expression: str) -> str:
    return re.search(r"vars\.(\w+)", expression).group(1)


# The repository variables the workflows read, by the names the workflows use.
PROVIDER_VARIABLE = _var(workflows.PROVIDER_VAR)
BACKEND_VARIABLE = _var(workflows.BACKEND_VAR)
AWS_ACCOUNT_VARIABLE = _var(AWS_ACCOUNT_VAR)


def attribute_condition(repository: str, owner_id: Optional[int] = None) -> str:
    """Only this repository's tokens (and, with its numeric id, only while its owner is the same
    account: a deleted and re-registered owner name gets a new id)."""
    condition = f"assertion.repository == '{repository}'"
    if owner_id is not None:
        condition += f" && assertion.repository_owner_id == '{owner_id}'"
    return condition


def deploy_subject(repository: str, stack: str) -> str:
    """The `sub` of a job's token in the GitHub environment `stack`."""
    return f"repo:{repository}:environment:{stack}"


def pool_name(project_number: str) -> str:
    return f"projects/{project_number}/locations/global/workloadIdentityPools/{POOL}"


def deploy_member(pool: str, repository: str, stack: str) -> str:
    """The one principal that may act as a stack's deploy account."""
    return f"principal://iam.googleapis.com/{pool}/subject/{deploy_subject(repository, stack)}"


def preview_member(pool: str, repository: str) -> str:
    """Every workflow of the repository (same-repo PRs, the nightly drift check)."""
    return f"principalSet://iam.googleapis.com/{pool}/attribute.repository/{repository}"


def account_name(email: str) -> str:
    return email.split("@")[0]


def role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[1]


def oidc_provider_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:oidc-provider/{ISSUER}"


def aws_trust_policy(provider_arn: str, condition: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition}]}, separators=(",", ":"))


def aws_deploy_condition(repository: str, stack: str) -> dict[str, Any]:
    return {"StringEquals": {f"{ISSUER}:aud": AWS_AUDIENCE, f"{ISSUER}:sub": deploy_subject(repository, stack)}}


def aws_preview_condition(repository: str) -> dict[str, Any]:
    return {"StringEquals": {f"{ISSUER}:aud": AWS_AUDIENCE}, "StringLike": {f"{ISSUER}:sub": f"repo:{repository}:*"}}


def deploy_branch() -> str:
    """The one branch deploys run from: the deploy workflow's push trigger."""
    (branch,) = workflows.deploy_workflow([], "0")["on"]["push"]["branches"]
    return branch


def required_checks(stacks: list[CIStack]) -> list[str]:
    """The check runs the generated pr.yml reports on every pull request."""
    return check_names(workflows.pr_workflow(stacks, "0"))


def check_names(workflow: dict[str, Any]) -> list[str]:
    """A workflow's check runs by the names GitHub gives them: each job's `name` (its id without
    one) with its matrix values filled in, or, when the name has no matrix expression, followed
    by them in parentheses. A job skipped by its `if` reports success, so requiring it is safe."""
    names = []
    for job_id, job in workflow["jobs"].items():
        name = job.get("name", job_id)
        for combo in checks.combos(job):
            plain = combo and "${{ matrix." not in name
            names.append(f"{name} ({', '.join(map(str, combo.values()))})" if plain else checks.resolve(name, combo))
    return list(dict.fromkeys(names))
