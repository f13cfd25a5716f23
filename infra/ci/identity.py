"""The Google Cloud identity setup the workflows assume, as the gcloud commands that make it.

One workload identity pool and GitHub provider; per stack a deploy account, usable only by jobs
running in the GitHub environment named after the stack, and a read-only preview account for
pull-request previews and the nightly drift check. The commands need a cloud, so `mlinfra ci
init` prints them for an administrator instead of running them; `--bootstrap` writes the same
setup (infra/ci/bootstrap.py, the one source of both) as a stack instead.
"""

from __future__ import annotations

from components.gcp.workflows.run_spec import DEFAULT_TOKEN_SECRET
from infra.ci import bootstrap as b
from infra.ci.bootstrap import POOL, PROVIDER
from infra.ci.deploy_roles import PROJECT_IAM_ADMIN, grant_condition, policy_name
from infra.ci.stack_grants import StackGrants
from infra.ci.stacks import CIStack

# The Secret Manager secret (in each stack's project) holding the token the rollout chain's
# Workflow dispatches propose-rollout.yml with.
DISPATCH_SECRET = DEFAULT_TOKEN_SECRET


def commands(stacks: list[CIStack], grants: dict[str, StackGrants], repository: str, pool_project: str,
             state_bucket: str, owner_id: int | None = None) -> str:
    """`grants`: each stack's derived roles (infra/ci/stack_grants.py)."""
    pool = b.pool_name("$POOL_PROJECT_NUMBER")
    mapping = ",".join(f"{k}={v}" for k, v in b.ATTRIBUTE_MAPPING.items())
    lines = [
        "# Identity for the generated workflows (run once, as a project and IAM administrator).",
        f"# Repository: {repository}; pool project: {pool_project}; Pulumi state: {state_bucket}",
        f"POOL_PROJECT={pool_project}",
        'POOL_PROJECT_NUMBER=$(gcloud projects describe "$POOL_PROJECT" --format="value(projectNumber)")',
        "",
        "# 1. One pool and one provider that trusts GitHub's OIDC tokens for this repository only.",
        f'gcloud iam workload-identity-pools create {POOL} --project="$POOL_PROJECT" --location=global',
        f'gcloud iam workload-identity-pools providers create-oidc {PROVIDER} --project="$POOL_PROJECT" '
        f'--location=global --workload-identity-pool={POOL} --issuer-uri="{b.ISSUER_URI}" '
        f'--attribute-mapping="{mapping}" --attribute-condition="{b.attribute_condition(repository, owner_id)}"',
        "# The Pulumi state, in a bucket of the pool project (skip if you have one).",
        f'gcloud storage buckets create {state_bucket} --project="$POOL_PROJECT" --uniform-bucket-level-access '
        "--public-access-prevention",
        "# Then set the repository variables the workflows read:",
        f"#   {b.PROVIDER_VARIABLE} = {pool}/providers/{PROVIDER} (with the number filled in)",
        f"#   {b.BACKEND_VARIABLE}             = {state_bucket}",
    ]
    for s in stacks:
        deploy, preview = s.deploy_account, s.preview_account
        if s.cloud == "aws":
            lines += aws_identity(s, repository, grants[s.name])
            continue
        lines += [
            "",
            f"# 2. Stack {s.name} ({s.environment}, project {s.project}, {s.file})",
            f"gcloud iam service-accounts create {b.account_name(deploy)} --project={s.project} "
            f'--display-name="mlinfra deploy ({s.name})"',
            f"gcloud iam service-accounts create {b.account_name(preview)} --project={s.project} "
            f'--display-name="mlinfra preview, read-only ({s.name})"',
            "# The roles of what the stack creates (infra/ci/deploy_roles.py); run `mlinfra ci init` again and",
            "# grant the new ones when the stack starts using another service.",
            *(line for role in grants[s.name].deploy_roles for line in _deploy_binding(s, deploy, role, grants[s.name])),
            *(f"gcloud projects add-iam-policy-binding {s.project} --member=serviceAccount:{preview} --role={role}"
              for role in grants[s.name].preview_roles),
            f"gcloud storage buckets add-iam-policy-binding {state_bucket} --member=serviceAccount:{deploy} "
            f"--role={b.DEPLOY_STATE_ROLE}",
            # A preview reads the state; where the backend takes a lock file for it
            # (PULUMI_SELF_MANAGED_STATE_LOCKING), allow creating objects under .pulumi/locks/ too.
            f"gcloud storage buckets add-iam-policy-binding {state_bucket} --member=serviceAccount:{preview} "
            f"--role={b.PREVIEW_STATE_ROLE}",
            f"# Only a job in the GitHub environment `{s.name}` of {repository} may act as the deploy account;",
            f"# protect that environment (required reviewers on prod) under Settings > Environments.",
            f"gcloud iam service-accounts add-iam-policy-binding {deploy} --project={s.project} "
            "--role=roles/iam.workloadIdentityUser "
            f'--member="{b.deploy_member(pool, repository, s.name)}"',
            "# Any workflow of the repository (same-repo PRs, the nightly drift check) may read.",
            f"gcloud iam service-accounts add-iam-policy-binding {preview} --project={s.project} "
            "--role=roles/iam.workloadIdentityUser "
            f'--member="{b.preview_member(pool, repository)}"',
        ]
    lines += ["", "# 3. In GitHub: create the environments " + ", ".join(f"`{s.name}`" for s in stacks)
              + " (reviewers on prod, deployments from main only) and protect main; add PULUMI_CONFIG_PASSPHRASE as a "
              "secret of each if the stacks use the passphrase provider.",
              "#    `mlinfra ci init --bootstrap` writes sections 1 to 3 as a stack instead (all but the state bucket: "
              "`mlinfra backend init` creates that)."]
    lines += rollout_dispatch(stacks, repository)
    return "\n".join(lines) + "\n"


def _deploy_binding(s: CIStack, deploy: str, role: str, grants: StackGrants) -> list[str]:
    """The gcloud line granting one deploy role; Project IAM Admin with its condition (the roles the
    stack grants), written to a file first: the expression's commas cannot go in --condition."""
    line = f"gcloud projects add-iam-policy-binding {s.project} --member=serviceAccount:{deploy} --role={role}"
    if role != PROJECT_IAM_ADMIN:
        return [line]
    file = f"mlinfra-grants-{s.name}.yaml"
    return ["# Project IAM Admin may grant and revoke only the roles this stack grants (none else, not roles/owner).",
            f"cat > {file} <<'EOF'",
            f"title: grants of {s.name} only",
            f"description: Grant and revoke only the roles stack {s.name} grants on the project.",
            f'expression: "{grant_condition(grants.grantable_roles)}"',
            "EOF",
            f"{line} --condition-from-file={file}"]


def rollout_dispatch(stacks: list[CIStack], repository: str) -> list[str]:
    """What the rollout chain's Cloud Workflow needs to start propose-rollout.yml: a GitHub token
    that may dispatch workflows of this repository and nothing else, in a secret only it reads."""
    projects = sorted({s.project for s in stacks if s.cloud == "gcp"})
    if not projects:
        return []
    lines = [
        "",
        "# 4. The model-version-to-rollout chain: when a job writes models/<name>/<version>/_READY, the stack's",
        f"#    rollout Workflow dispatches .github/workflows/propose-rollout.yml of {repository} with a GitHub token",
        "#    from Secret Manager. Create a fine-grained personal access token (or a GitHub App installation) for",
        f"#    {repository} only, with one repository permission, Actions: Read and write (dispatching a workflow",
        "#    needs it; no contents, no pull requests), and an expiry. Then, per project (GITHUB_DISPATCH_TOKEN",
        "#    holding the token). The stack itself grants the chain's workflow account (and, for services with",
        "#    rollout.autoRollback, the rollback function's account, which dispatches the same workflow with",
        "#    action abort), and no one else, secretAccessor on this one secret (a trigger with run:",
        "#    {proposeRollout} names it in tokenSecret):",
    ]
    for project in projects:
        lines += [
            f"gcloud secrets create {DISPATCH_SECRET} --project={project} --replication-policy=automatic",
            f"printf '%s' \"$GITHUB_DISPATCH_TOKEN\" | gcloud secrets versions add {DISPATCH_SECRET} "
            f"--project={project} --data-file=-",
            "# No secretAccessor on the project. The deploy account of a stack that grants on the secret holds",
            "# roles/secretmanager.admin (the one role with setIamPolicy on secrets), which can read it too.",
        ]
    return lines + [
        "# In GitHub, Settings > Actions > General > Workflow permissions: allow GitHub Actions to create pull",
        "# requests (propose-rollout.yml opens them with its own token, contents: write and pull-requests: write).",
    ]


def aws_identity(s, repository: str, grants: StackGrants) -> list[str]:
    """An AWS stack's two roles, trusted by GitHub's OIDC provider for this repository only: the
    deploy role for jobs in the stack's environment, the preview role for the repository."""
    deploy, preview = b.role_name(s.deploy_account), b.role_name(s.preview_account)
    provider = b.oidc_provider_arn("$AWS_ACCOUNT_ID")
    return [
        "",
        f"# 2. Stack {s.name} ({s.environment}, AWS {s.region}, {s.file}); once per account, the OIDC provider:",
        f"aws iam create-open-id-connect-provider --url {b.ISSUER_URI} --client-id-list {b.AWS_AUDIENCE}",
        f"# The deploy role may be assumed only by a job in the GitHub environment `{s.name}` of {repository}:",
        f"aws iam create-role --role-name {deploy} --assume-role-policy-document '"
        + b.aws_trust_policy(provider, b.aws_deploy_condition(repository, s.name)) + "'",
        "# Its policy: the services and, by name, the resources the stack creates (infra/ci/deploy_roles.py);",
        "# run `mlinfra ci init` again and update it when the stack starts using another service.",
        *(line for i, document in enumerate(grants.aws_policies) for line in (
            f"aws iam create-policy --policy-name {policy_name(deploy, i)} --policy-document '{document}'",
            f"aws iam attach-role-policy --role-name {deploy} --policy-arn "
            f"arn:aws:iam::$AWS_ACCOUNT_ID:policy/{policy_name(deploy, i)}")),
        f"aws iam create-role --role-name {preview} --assume-role-policy-document '"
        + b.aws_trust_policy(provider, b.aws_preview_condition(repository)) + "'",
        f"aws iam attach-role-policy --role-name {preview} --policy-arn {b.AWS_PREVIEW_POLICY}",
        f"# and set the repository variable {b.AWS_ACCOUNT_VARIABLE}.",
    ]
