"""The bootstrap pattern: everything the generated workflows run with, as a stack an
administrator applies (`pulumi up --stack bootstrap`), built from the same data
(infra/ci/bootstrap.py) `mlinfra ci init` prints as commands.

- on Google Cloud (with Google Cloud stacks): the workload identity pool and GitHub provider in
  the pool project (`gcp:project`), and per stack its deploy and preview accounts;
- on AWS (with AWS stacks): GitHub's OIDC provider and per stack its deploy and preview roles;
- on GitHub: per stack the environment named after it (reviewers, deployable from the deploy
  branch only), the ruleset of the deploy branch with pr.yml's checks required, and the
  repository variables the workflows read.

Each cloud's provider is imported only when a stack is on that cloud.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_github as github

from components.core.component import Component
from components.core.labels import labels_transformation
from components.github.branch_ruleset import BranchRuleset, BranchRulesetArgs
from components.github.deployment_environment import DeploymentEnvironment, DeploymentEnvironmentArgs
from components.github.repository_variables import RepositoryVariables, RepositoryVariablesArgs
from infra.bootstrap_config import EnvironmentSpec, MainBranchSpec
from infra.ci import bootstrap as b
from infra.ci.deploy_roles import grant_condition, policy_name
from infra.ci.stack_grants import all_grants
from infra.ci.stacks import CIStack, account_id, read_stacks
from infra.stackfile import read_project

TYPE = "mlinfra:pattern:Bootstrap"


@dataclass(frozen=True, kw_only=True)
class BootstrapArgs:
    project: str
    """The pool's project (`gcp:project`); empty without Google Cloud stacks."""
    stack: str
    labels: Mapping[str, str]
    """Applied to every resource that takes labels or tags (the AWS roles, their policies and the OIDC provider)."""
    source_root: Path
    """The project root: the CI stacks are read from its stack files."""
    repository: str
    """owner/name."""
    repository_owner_id: Optional[int] = None
    state_bucket: Optional[str] = None
    """gs://NAME."""
    environments: Sequence[EnvironmentSpec] = ()
    main_branch: MainBranchSpec = field(default_factory=MainBranchSpec)


class Bootstrap(Component):
    """Outputs: repository, environments, required_checks, and per cloud its identities."""

    Args = BootstrapArgs

    def __init__(self, name: str, args: BootstrapArgs, opts: Optional[pulumi.ResourceOptions] = None):
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            transformations=[labels_transformation(args.labels)]))
        super().__init__(TYPE, name, opts)
        project = read_project(args.source_root)
        stacks = read_stacks(project)
        grants = all_grants(project, stacks)
        owner, repo = args.repository.split("/")
        self.outputs: dict = {"repository": args.repository}
        variables: dict = {}
        if any(s.cloud == "gcp" for s in stacks):
            variables.update(self._google_cloud(name, args, [s for s in stacks if s.cloud == "gcp"], grants))
        if any(s.cloud == "aws" for s in stacks):
            variables.update(self._aws(name, args, [s for s in stacks if s.cloud == "aws"], grants))

        gh = github.Provider(f"{name}-github", owner=owner, opts=self.child())
        on_github = self.child(providers=[gh])
        branch = b.deploy_branch()
        for env in args.environments:
            DeploymentEnvironment(f"{name}-env-{env.name}", DeploymentEnvironmentArgs(
                repository=repo, environment=env.name, branches=[branch], reviewer_users=env.reviewers.users,
                reviewer_teams=env.reviewers.teams, wait_timer=env.wait_timer,
                prevent_self_review=env.prevent_self_review), opts=on_github)
        checks = b.required_checks(stacks)
        BranchRuleset(f"{name}-{branch}", BranchRulesetArgs(
            repository=repo, branch=branch, required_checks=checks, checks_app_id=b.GITHUB_ACTIONS_APP_ID,
            required_approvals=args.main_branch.required_approvals), opts=on_github)
        RepositoryVariables(f"{name}-variables", RepositoryVariablesArgs(repository=repo, variables=variables),
                            opts=on_github)
        self.outputs.update(environments=[e.name for e in args.environments], required_checks=checks)
        self.register_outputs(self.outputs)

    def _google_cloud(self, name: str, args: BootstrapArgs, stacks: list[CIStack], grants: dict) -> dict:
        from components.gcp.iam.deploy_accounts import DeployAccounts, DeployAccountsArgs
        from components.gcp.iam.github_workload_identity import GithubWorkloadIdentity, GithubWorkloadIdentityArgs

        wif = GithubWorkloadIdentity(f"{name}-wif", GithubWorkloadIdentityArgs(
            project=args.project, pool_id=b.POOL, provider_id=b.PROVIDER, issuer_uri=b.ISSUER_URI,
            attribute_mapping=b.ATTRIBUTE_MAPPING,
            attribute_condition=b.attribute_condition(args.repository, args.repository_owner_id)), opts=self.child())
        accounts = {}
        for s in stacks:
            accounts[s.name] = DeployAccounts(f"{name}-{s.name}", DeployAccountsArgs(
                project=s.project, stack=s.name, deploy_account_id=account_id("deploy", s.name),
                preview_account_id=account_id("preview", s.name),
                deploy_member=wif.pool_name.apply(lambda pool, s=s: b.deploy_member(pool, args.repository, s.name)),
                preview_member=wif.pool_name.apply(lambda pool: b.preview_member(pool, args.repository)),
                deploy_roles=grants[s.name].deploy_roles, preview_roles=grants[s.name].preview_roles,
                grant_condition=grant_condition(grants[s.name].grantable_roles) if grants[s.name].grantable_roles else None,
                state_bucket=args.state_bucket.removeprefix("gs://") if args.state_bucket else None,
                deploy_state_role=b.DEPLOY_STATE_ROLE, preview_state_role=b.PREVIEW_STATE_ROLE), opts=self.child())
        self.outputs["gcp"] = {"workload_identity_provider": wif.provider_name,
                               "accounts": {n: {"deploy": a.deploy_email, "preview": a.preview_email}
                                            for n, a in accounts.items()}}
        return {b.PROVIDER_VARIABLE: wif.provider_name, b.BACKEND_VARIABLE: args.state_bucket}

    def _aws(self, name: str, args: BootstrapArgs, stacks: list[CIStack], grants: dict) -> dict:
        from components.aws.iam.github_deploy_roles import DeployRole, GithubDeployRoles, GithubDeployRolesArgs

        roles = []
        for s in stacks:
            deploy = b.aws_deploy_condition(args.repository, s.name)
            role = b.role_name(s.deploy_account)
            policies = {policy_name(role, i): doc for i, doc in enumerate(grants[s.name].aws_policies)}
            roles += [DeployRole(name=role, policies=policies,
                                 trust_policy=lambda arn, c=deploy: b.aws_trust_policy(arn, c)),
                      DeployRole(name=b.role_name(s.preview_account), policy_arns=(b.AWS_PREVIEW_POLICY,),
                                 trust_policy=lambda arn: b.aws_trust_policy(arn, b.aws_preview_condition(args.repository)))]
        made = GithubDeployRoles(f"{name}-aws", GithubDeployRolesArgs(
            issuer_uri=b.ISSUER_URI, audience=b.AWS_AUDIENCE, roles=roles), opts=self.child())
        self.outputs["aws"] = {"account": made.account_id, "oidc_provider": made.provider_arn}
        return {b.AWS_ACCOUNT_VARIABLE: made.account_id}
