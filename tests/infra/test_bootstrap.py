"""The bootstrap stack: exactly the identities and GitHub settings the generated workflows assume,
the same ones `mlinfra ci init` prints (both read infra/ci/bootstrap.py, and the printed commands
are parsed here against the plan), its validation, its exclusion from the workflows, and its
imports: a project on one cloud never loads the other's provider."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from infra import config
from infra.ci import bootstrap as b
from infra.ci import checks, identity, workflows
from infra.ci.stack_grants import all_grants
from infra.ci.stacks import bootstrap_stacks, read_stacks
from infra.errors import ConfigError, key_path
from infra.mocks import AWS_ACCOUNT, project_number
from infra.stackfile import load_yaml, to_engine_config
from tests.conftest import PROJECT, ROOT, run_stack, stack_config
from tests.infra.test_imports import program_modules
from tests.mlinfra_cli import cli

CI = read_stacks(PROJECT)
GCP = [s for s in CI if s.cloud == "gcp"]
AWS = [s for s in CI if s.cloud == "aws"]
FILE = stack_config("bootstrap")
REPO, OWNER_ID, POOL_PROJECT = FILE["mlinfra:repository"], FILE["mlinfra:repositoryOwnerId"], FILE["gcp:project"]
STATE = FILE["mlinfra:stateBucket"]
POOL = b.pool_name(project_number(POOL_PROJECT))
GRANTS = all_grants(PROJECT, CI)


@pytest.fixture(scope="module")
def rec():
    return run_stack("bootstrap")


def inputs(rec, type_: str) -> list[dict]:
    return [r.inputs for r in rec.of_type(type_)]


def test_the_pool_trusts_github_tokens_of_this_repository_and_owner_only(rec):
    pool = rec.one("gcp:iam/workloadIdentityPool:WorkloadIdentityPool")
    assert pool.protect and pool.inputs["workloadIdentityPoolId"] == "github" and pool.inputs["project"] == POOL_PROJECT
    provider = rec.one("gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider").inputs
    assert provider["workloadIdentityPoolProviderId"] == "github-actions"
    assert provider["oidc"] == {"issuerUri": "https://token.actions.githubusercontent.com"}
    assert provider["attributeCondition"] == \
        f"assertion.repository == 'acme/mlinfra' && assertion.repository_owner_id == '{OWNER_ID}'"
    assert provider["attributeMapping"] == {"google.subject": "assertion.sub", "attribute.repository": "assertion.repository",
                                            "attribute.environment": "assertion.environment"}


def test_each_google_cloud_stack_gets_a_deploy_account_only_its_environment_may_use(rec):
    accounts = {(a["accountId"], a["project"]) for a in inputs(rec, "gcp:serviceaccount/account:Account")}
    assert accounts == {(f"mlinfra-{kind}-{s.name}", s.project) for s in GCP for kind in ("deploy", "preview")}
    assert all(r.protect for r in rec.of_type("gcp:serviceaccount/account:Account"))
    grants = {(i["project"], i["role"], i["member"]) for i in inputs(rec, "gcp:projects/iAMMember:IAMMember")}
    assert grants == {(s.project, role, f"serviceAccount:{s.deploy_account}") for s in GCP
                      for role in GRANTS[s.name].deploy_roles} | \
        {(s.project, role, f"serviceAccount:{s.preview_account}") for s in GCP for role in GRANTS[s.name].preview_roles}
    state = {(i["bucket"], i["role"], i["member"]) for i in inputs(rec, "gcp:storage/bucketIAMMember:BucketIAMMember")}
    bucket = STATE.removeprefix("gs://")
    assert state == {(bucket, "roles/storage.objectUser", f"serviceAccount:{s.deploy_account}") for s in GCP} | \
        {(bucket, "roles/storage.objectViewer", f"serviceAccount:{s.preview_account}") for s in GCP}
    federation = {(i["serviceAccountId"], i["role"], i["member"])
                  for i in inputs(rec, "gcp:serviceaccount/iAMMember:IAMMember")}
    assert federation == {(f"projects/{s.project}/serviceAccounts/{s.deploy_account}", "roles/iam.workloadIdentityUser",
                           f"principal://iam.googleapis.com/{POOL}/subject/repo:acme/mlinfra:environment:{s.name}")
                          for s in GCP} | \
        {(f"projects/{s.project}/serviceAccounts/{s.preview_account}", "roles/iam.workloadIdentityUser",
          f"principalSet://iam.googleapis.com/{POOL}/attribute.repository/acme/mlinfra") for s in GCP}


def test_a_deploy_account_may_grant_and_revoke_only_the_roles_its_stack_grants(rec):
    """Project IAM Admin unconditioned would let the deploy account grant itself roles/owner; its
    condition lists exactly the roles the stack's own project grants name, and nothing else has one."""
    conditioned = {i["member"]: i["condition"] for i in inputs(rec, "gcp:projects/iAMMember:IAMMember") if "condition" in i}
    assert all(i["role"] == "roles/resourcemanager.projectIamAdmin"
               for i in inputs(rec, "gcp:projects/iAMMember:IAMMember") if "condition" in i)
    for s in GCP:
        stack_roles = sorted({r.inputs["role"] for r in run_stack(s.name).of_type("gcp:projects/iAMMember:IAMMember")})
        condition = conditioned[f"serviceAccount:{s.deploy_account}"]
        listed = re.fullmatch(r"api\.getAttribute\('iam\.googleapis\.com/modifiedGrantsByRole', \[\]\)\.hasOnly\(\[(.*)\]\)",
                              condition["expression"]).group(1)
        assert [r.strip("' ") for r in listed.split(",")] == stack_roles == list(GRANTS[s.name].grantable_roles), s.name
        assert "roles/owner" not in stack_roles and condition["title"] == f"grants of {s.name} only"
    assert set(conditioned) == {f"serviceAccount:{s.deploy_account}" for s in GCP}


def test_each_aws_stack_gets_roles_trusting_github_oidc_for_its_environment(rec):
    oidc = rec.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert oidc.protect and oidc.inputs["url"] == "https://token.actions.githubusercontent.com"
    assert oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    federated = f"arn:aws:iam::{AWS_ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    roles = {r.inputs["name"]: json.loads(r.inputs["assumeRolePolicy"]) for r in rec.of_type("aws:iam/role:Role")}
    assert sorted(roles) == sorted(f"mlinfra-{k}-{s.name}" for s in AWS for k in ("deploy", "preview"))
    for s in AWS:
        (deploy,) = roles[f"mlinfra-deploy-{s.name}"]["Statement"]
        assert deploy == {"Effect": "Allow", "Principal": {"Federated": federated}, "Action": "sts:AssumeRoleWithWebIdentity",
                          "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                                                         "token.actions.githubusercontent.com:sub":
                                                             f"repo:acme/mlinfra:environment:{s.name}"}}}
        (preview,) = roles[f"mlinfra-preview-{s.name}"]["Statement"]
        assert preview["Condition"] == {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                                        "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/mlinfra:*"}}
    attached = {(i["role"], i["policyArn"]) for i in inputs(rec, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attached == {(f"mlinfra-deploy-{s.name}", f"arn:aws:iam::{AWS_ACCOUNT}:policy/mlinfra-deploy-{s.name}")
                        for s in AWS} | {(f"mlinfra-preview-{s.name}", "arn:aws:iam::aws:policy/ReadOnlyAccess") for s in AWS}
    policies = {i["name"]: i["policy"] for i in inputs(rec, "aws:iam/policy:Policy")}
    assert policies == {f"mlinfra-deploy-{s.name}": GRANTS[s.name].aws_policies[0] for s in AWS}


def test_each_stack_has_its_environment_deployable_from_main_only_with_reviewers_on_prod(rec):
    envs = {i["environment"]: i for i in inputs(rec, "github:index/repositoryEnvironment:RepositoryEnvironment")}
    assert sorted(envs) == sorted(s.name for s in CI)
    for s in CI:
        env = envs[s.name]
        assert env["repository"] == "mlinfra" and env["canAdminsBypass"] is False
        assert env["deploymentBranchPolicy"] == {"protectedBranches": False, "customBranchPolicies": True}
        if s.environment == "prod":
            assert env["reviewers"] == [{"users": [583231], "teams": []}] and env["preventSelfReview"] is True
        else:
            assert "reviewers" not in env
    policies = {(i["environment"], i["branchPattern"]) for i in
                inputs(rec, "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy")}
    assert policies == {(s.name, "main") for s in CI}
    assert all(r.protect for r in rec.of_type("github:index/repositoryEnvironment:RepositoryEnvironment"))
    (provider,) = [r for r in rec.of_type("pulumi:providers:github")]
    assert provider.inputs["owner"] == "acme"
    assert {r.provider.split("::")[-2] for r in rec.custom() if r.type.startswith("github:")} == {provider.name}


def test_main_takes_pull_requests_only_with_every_check_pr_yml_reports_from_github_actions(rec):
    ruleset = rec.one("github:index/repositoryRuleset:RepositoryRuleset").inputs
    assert (ruleset["target"], ruleset["enforcement"], ruleset["name"]) == ("branch", "active", "mlinfra")
    assert ruleset["conditions"] == {"refName": {"includes": ["refs/heads/main"], "excludes": []}}
    assert "bypassActors" not in ruleset
    rules = ruleset["rules"]
    assert rules["deletion"] is True and rules["nonFastForward"] is True
    assert rules["pullRequest"] == {"requiredApprovingReviewCount": 1, "dismissStaleReviewsOnPush": True,
                                    "requireLastPushApproval": True}
    # The check runs of the committed pr.yml, as GitHub names them (job name, matrix filled in).
    committed = load_yaml((ROOT / ".github" / "workflows" / "pr.yml").read_text())
    names = [checks.resolve(job["name"], combo) for job in committed["jobs"].values() for combo in checks.combos(job)]
    assert rules["requiredStatusChecks"] == {
        "requiredChecks": [{"context": n, "integrationId": 15368} for n in names],
        "strictRequiredStatusChecksPolicy": True}
    assert {"tests", "offline plan (prod)", "pulumi preview (eks-prod)"} <= set(names)


def test_the_repository_variables_are_the_ones_the_workflows_read(rec):
    variables = {i["variableName"]: i["value"] for i in inputs(rec, "github:index/actionsVariable:ActionsVariable")}
    assert variables == {"GCP_WORKLOAD_IDENTITY_PROVIDER": f"{POOL}/providers/github-actions",
                         "PULUMI_BACKEND_URL": STATE, "AWS_ACCOUNT_ID": AWS_ACCOUNT}
    text = "".join((ROOT / ".github" / "workflows" / f).read_text() for f in ("pr.yml", "deploy.yml", "drift.yml"))
    assert set(re.findall(r"vars\.(\w+)", text)) == set(variables)


def test_what_ci_init_prints_is_what_the_bootstrap_stack_creates(rec):
    """Parse the printed commands and compare them, fact by fact, with the plan's inputs."""
    out = identity.commands(CI, GRANTS, REPO, POOL_PROJECT, STATE, OWNER_ID).replace("$POOL_PROJECT_NUMBER",
                                                                              project_number(POOL_PROJECT))
    provider = rec.one("gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider").inputs
    assert re.search(r'--attribute-condition="([^"]+)"', out).group(1) == provider["attributeCondition"]
    mapping = re.search(r'--attribute-mapping="([^"]+)"', out).group(1)
    assert dict(kv.split("=") for kv in mapping.split(",")) == provider["attributeMapping"]
    assert re.search(r'--issuer-uri="([^"]+)"', out).group(1) == provider["oidc"]["issuerUri"]
    printed_accounts = set(re.findall(r"service-accounts create (\S+) --project=(\S+)", out))
    assert printed_accounts == {(a["accountId"], a["project"]) for a in inputs(rec, "gcp:serviceaccount/account:Account")}
    printed_roles = set(re.findall(r"gcloud projects add-iam-policy-binding (\S+) --member=(\S+) --role=(\S+)", out))
    assert printed_roles == {(i["project"], i["member"], i["role"]) for i in inputs(rec, "gcp:projects/iAMMember:IAMMember")}
    printed_conditions = dict(re.findall(r"--member=(\S+) --role=roles/resourcemanager.projectIamAdmin "
                                         r"--condition-from-file=(\S+)", out))
    condition_files = dict(re.findall(r"cat > (\S+) <<'EOF'\n(.*?)\nEOF\n", out, re.S))
    assert {m: load_yaml(condition_files[f])["expression"] for m, f in printed_conditions.items()} == \
        {i["member"]: i["condition"]["expression"] for i in inputs(rec, "gcp:projects/iAMMember:IAMMember") if "condition" in i}
    printed_state = set(re.findall(r"gcloud storage buckets add-iam-policy-binding gs://(\S+) --member=(\S+) --role=(\S+)", out))
    assert printed_state == {(i["bucket"], i["member"], i["role"])
                             for i in inputs(rec, "gcp:storage/bucketIAMMember:BucketIAMMember")}
    printed_federation = set(re.findall(r'service-accounts add-iam-policy-binding (\S+) --project=(\S+) '
                                        r'--role=(\S+) --member="([^"]+)"', out))
    assert printed_federation == {(i["serviceAccountId"].rsplit("/", 1)[1], i["serviceAccountId"].split("/")[1], i["role"],
                                   i["member"]) for i in inputs(rec, "gcp:serviceaccount/iAMMember:IAMMember")}
    printed_trust = dict(re.findall(r"create-role --role-name (\S+) --assume-role-policy-document '([^']+)'",
                                    out.replace("$AWS_ACCOUNT_ID", AWS_ACCOUNT)))
    assert printed_trust == {r.inputs["name"]: r.inputs["assumeRolePolicy"] for r in rec.of_type("aws:iam/role:Role")}
    printed_documents = dict(re.findall(r"create-policy --policy-name (\S+) --policy-document '([^']+)'", out))
    assert printed_documents == {i["name"]: i["policy"] for i in inputs(rec, "aws:iam/policy:Policy")}
    printed_policies = set(re.findall(r"attach-role-policy --role-name (\S+) --policy-arn (\S+)",
                                      out.replace("$AWS_ACCOUNT_ID", AWS_ACCOUNT)))
    assert printed_policies == {(i["role"], i["policyArn"])
                                for i in inputs(rec, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")}


def issues_of(**changes) -> dict[str, str]:
    values = {**FILE, **changes}
    values = {k: v for k, v in values.items() if v is not None}
    with pytest.raises(ConfigError) as caught:
        config.load(to_engine_config(values)[0], stack="bootstrap", file="stacks/Pulumi.bootstrap.yaml", root=ROOT)
    return {key_path(i.path): f"{i.message} | fix: {i.fix}" for i in caught.value.issues}


def envs(*names_and_reviewers) -> list[dict]:
    return [{"name": n, **({"reviewers": {"users": r}} if r else {})} for n, r in names_and_reviewers]


def test_refuses_a_prod_environment_without_reviewers_naming_the_key_and_the_fix():
    environments = [dict(e) for e in FILE["mlinfra:environments"]]
    i = next(i for i, e in enumerate(environments) if e["name"] == "prod")
    del environments[i]["reviewers"]
    found = issues_of(**{"mlinfra:environments": environments})
    assert found == {f"mlinfra:environments[{i}].reviewers": "stack prod is prod, and its environment has no required "
                     "reviewer: a merge would deploy it unreviewed | fix: add reviewers: {users: [<numeric id>]} "
                     "(gh api users/<login> --jq .id)"}


def test_refuses_an_environment_without_a_stack_and_a_stack_without_an_environment():
    environments = [e for e in FILE["mlinfra:environments"] if e["name"] != "k8s-dev"] + [{"name": "qa"}]
    found = issues_of(**{"mlinfra:environments": environments})
    qa = len(environments) - 1
    assert found == {
        f"mlinfra:environments[{qa}].name": "names no stack | fix: remove it, or add stacks/Pulumi.qa.yaml",
        "mlinfra:environments": "stack k8s-dev (stacks/Pulumi.k8s-dev.yaml) has no environment: its deploy job would "
                                "run in one GitHub creates unprotected, which no identity trusts | fix: add `- name: k8s-dev`"}


@pytest.mark.parametrize("slug", ["acme", "acme/ml/infra", "-acme/mlinfra", "acme/..", "ac me/mlinfra", "acme--x/mlinfra"])
def test_refuses_a_repository_that_is_not_owner_slash_name(slug):
    assert issues_of(**{"mlinfra:repository": slug}) == {
        "mlinfra:repository": "is not a GitHub repository | fix: write the owner and the name with one /, e.g. acme/mlinfra"}


def test_refuses_more_reviewers_than_github_allows_a_bad_id_and_no_state_bucket():
    environments = [dict(e) for e in FILE["mlinfra:environments"]]
    environments[0] = {"name": environments[0]["name"], "reviewers": {"users": [1, 2, 3, 4], "teams": [5, 6, 7]}}
    environments[1] = {"name": environments[1]["name"], "reviewers": {"users": [0]}, "waitTimer": 50000}
    found = issues_of(**{"mlinfra:environments": environments, "mlinfra:stateBucket": None, "gcp:project": None})
    assert sorted(found) == ["gcp:project", "mlinfra:environments[0].reviewers", "mlinfra:environments[1].reviewers.users",
                             "mlinfra:environments[1].waitTimer", "mlinfra:stateBucket"]
    assert "at most 6 required reviewers" in found["mlinfra:environments[0].reviewers"]


def test_no_workflow_applies_the_bootstrap_stack_and_that_is_an_explicit_exclusion():
    assert bootstrap_stacks(PROJECT) == ["bootstrap"] and "bootstrap" not in {s.name for s in CI}
    files = {p.name: load_yaml(p.read_text()) for p in (ROOT / ".github" / "workflows").glob("*.yml")}
    assert checks.check_workflows(files, [s.name for s in CI]) == []
    # Were it a CI stack, the coverage check would fail three ways: the exclusion is what keeps it out.
    assert [p.message.split(";")[0] for p in checks.check_workflows(files, ["bootstrap"])] == [
        f"stack bootstrap (stacks/Pulumi.bootstrap.yaml) has no {what}" for what in
        ("a `pulumi preview` on pull requests", "a `pulumi up` on push",
         "a scheduled `pulumi preview --refresh --expect-no-changes`")]
    done = cli("ci", "check")
    assert done.returncode == 0, done.stderr
    assert "stack bootstrap: left out of the workflows on purpose" in done.stdout
    # Each stack's derived grants, for review (what is applied cannot be seen offline).
    assert "stack eks-prod: its deploy identity needs 1 policy document(s)" in done.stdout
    assert "stack prod: its deploy identity needs " + ", ".join(r.removeprefix("roles/") for r in GRANTS["prod"].deploy_roles) \
        in done.stdout


def one_cloud_project(tmp_path, keep: str):
    """A project of the stacks of one cloud and a bootstrap stack written by `ci init --bootstrap`."""
    (tmp_path / "Pulumi.yaml").write_text(f"name: mlinfra\nmain: {ROOT / 'infra'}\nstackConfigDir: stacks\n")
    shutil.copy(ROOT / "requirements.txt", tmp_path)
    (tmp_path / "stacks").mkdir()
    # The sources the stacks deploy: the bootstrap plan plans them to derive their identities' roles.
    for source in ("functions", "jobs", "pipelines", "featurestore"):
        shutil.copytree(ROOT / source, tmp_path / source, ignore=shutil.ignore_patterns("__pycache__"))
    kept = [s for s in CI if s.cloud == keep]
    for s in kept:
        shutil.copy(ROOT / s.file, tmp_path / s.file)
    done = cli("--project-dir", str(tmp_path), "ci", "init", "--repo-dir", str(tmp_path), "--repository", "acme/ml",
               "--bootstrap")
    assert done.returncode == 0, done.stderr
    return tmp_path, kept


@pytest.mark.parametrize("cloud", ["gcp", "aws"])
def test_ci_init_writes_a_bootstrap_stack_that_plans_once_prod_has_reviewers_and_loads_one_cloud(tmp_path, cloud):
    root, kept = one_cloud_project(tmp_path, cloud)
    path = root / "stacks" / "Pulumi.bootstrap.yaml"
    done = cli("--project-dir", str(root), "plan", "--stack", "bootstrap", "--strict")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    prods = [s for s in kept if s.environment == "prod"]
    assert done.stderr.count("has no required reviewer") == len(prods) > 0
    path.write_text(path.read_text().replace("reviewers: {users: []}", "reviewers: {teams: [42]}"))
    done = cli("--project-dir", str(root), "plan", "--stack", "bootstrap", "--strict", "--quiet")
    assert done.returncode == 0, done.stderr
    found = program_modules("bootstrap", cwd=root)
    other = "pulumi_aws" if cloud == "gcp" else "pulumi_gcp"
    assert not any(m.split(".")[0] == other for m in found["loaded"]), f"a {cloud}-only bootstrap loads {other}"
    assert "pulumi_github" in found["providers"] and f"pulumi_{cloud}" in found["providers"]
    again = cli("--project-dir", str(root), "ci", "init", "--repo-dir", str(root), "--repository", "acme/ml", "--bootstrap")
    assert again.returncode == 1 and "exists; it is left as it is" in again.stderr


def test_required_checks_name_a_matrix_job_without_the_matrix_in_its_name_as_github_does():
    pr = workflows.pr_workflow(CI, "0")
    assert b.check_names(pr)[1:3] == [f"offline plan ({CI[0].name})", f"offline plan ({CI[1].name})"]
    pr["jobs"]["plan"]["name"] = "offline plan"
    del pr["jobs"]["test"]["name"]
    assert b.check_names(pr)[:3] == ["test", f"offline plan ({CI[0].name})", f"offline plan ({CI[1].name})"]


def test_a_bootstrap_stack_of_a_project_without_stack_files_says_so(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text(f"name: mlinfra\nmain: {ROOT / 'infra'}\nstackConfigDir: stacks\n")
    (tmp_path / "stacks").mkdir()
    values = to_engine_config({k: v for k, v in FILE.items()})[0]
    with pytest.raises(ConfigError) as caught:
        config.load(values, stack="bootstrap", file="stacks/Pulumi.bootstrap.yaml", root=tmp_path)
    assert [key_path(i.path) for i in caught.value.issues] == ["mlinfra:environments"]
    assert "no stack files" in caught.value.issues[0].message


def test_every_bootstrap_key_has_a_description_and_the_stack_file_matches_its_json_schema():
    import jsonschema

    from infra import reference
    from infra.bootstrap_config import BootstrapConfig

    assert [key for key, _, _, description in reference.rows(BootstrapConfig, "mlinfra:") if not description] == []
    jsonschema.validate(load_yaml((ROOT / "stacks" / "Pulumi.bootstrap.yaml").read_text()), reference.json_schema("bootstrap"))
