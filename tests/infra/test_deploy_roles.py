"""The deploy and preview identities' grants, derived from what each CI stack plans: the exact
roles of shipped stacks, a role for every type a component can create (a new component without
one fails here), the AWS policy's size limit, and the guardrail holding without a waiver."""

from __future__ import annotations

import inspect
import json
import re

import pytest

from infra import guardrails
from infra.ci import deploy_roles as d
from infra.ci.stack_grants import _derive, all_grants
from infra.ci.stacks import CIError, read_stacks
from policy.rules import BASIC_ROLES
from tests.conftest import PROJECT, ROOT, run_stack, stack_config

CI = {s.name: s for s in read_stacks(PROJECT)}
GRANTS = all_grants(PROJECT, list(CI.values()))


def test_the_dev_stack_deploy_account_gets_exactly_the_roles_of_what_it_creates():
    assert GRANTS["dev"].deploy_roles == (
        "roles/artifactregistry.admin", "roles/certificatemanager.admin", "roles/cloudfunctions.admin",
        "roles/cloudscheduler.admin", "roles/compute.networkAdmin", "roles/compute.securityAdmin",
        "roles/iam.serviceAccountAdmin", "roles/iam.serviceAccountUser", "roles/pubsub.admin",
        "roles/resourcemanager.projectIamAdmin", "roles/run.admin", "roles/secretmanager.admin",
        "roles/serviceusage.serviceUsageAdmin", "roles/storage.admin")
    assert GRANTS["dev"].preview_roles == (
        "roles/artifactregistry.reader", "roles/certificatemanager.viewer", "roles/cloudfunctions.viewer",
        "roles/cloudscheduler.viewer", "roles/compute.networkViewer", "roles/iam.securityReviewer",
        "roles/iam.serviceAccountViewer", "roles/pubsub.viewer", "roles/run.viewer", "roles/secretmanager.viewer",
        "roles/serviceusage.serviceUsageViewer", "roles/storage.bucketViewer", "roles/storage.objectViewer")


def test_the_prod_stacks_get_the_roles_of_their_services_and_no_others():
    assert GRANTS["prod"].deploy_roles == (
        "roles/artifactregistry.admin", "roles/cloudfunctions.admin", "roles/compute.networkAdmin",
        "roles/compute.securityAdmin", "roles/iam.serviceAccountAdmin", "roles/iam.serviceAccountUser",
        "roles/monitoring.editor", "roles/pubsub.admin", "roles/resourcemanager.projectIamAdmin", "roles/run.admin",
        "roles/serviceusage.serviceUsageAdmin", "roles/storage.admin")
    # GKE, Memorystore, Workflows, Eventarc: hybrid-prod uses them, prod does not.
    hybrid = set(GRANTS["hybrid-prod"].deploy_roles)
    assert hybrid - set(GRANTS["prod"].deploy_roles) == {
        "roles/bigquery.admin", "roles/browser", "roles/cloudscheduler.admin", "roles/container.admin",
        "roles/eventarc.admin", "roles/memorystore.admin", "roles/secretmanager.admin", "roles/workflows.editor"}
    assert "roles/dataflow.admin" in GRANTS["dataflow-prod"].deploy_roles
    assert "roles/container.admin" not in GRANTS["dataflow-prod"].deploy_roles


def test_no_identity_gets_a_basic_role_and_preview_roles_only_read():
    for g in GRANTS.values():
        assert not set(g.deploy_roles + g.preview_roles) & set(BASIC_ROLES), g.stack
        assert all(re.search(r"(viewer|Viewer|reader|securityReviewer|browser)$", r) for r in g.preview_roles), g.stack


def test_the_eks_prod_deploy_role_acts_on_its_own_cluster_buckets_and_names_only():
    (document,) = GRANTS["eks-prod"].aws_policies
    statements = {s["Sid"]: s for s in json.loads(document)["Statement"]}
    assert sorted(statements) == ["Cloudwatch", "Ec2", "Ecr", "Eks", "ElasticLoadBalancing", "Events", "Firehose", "Iam",
                                  "Kms", "Logs", "NotTheDeployRoles", "Read", "S3", "ServiceLinkedRoles", "Sns", "Sqs"]
    # The ranker's request log: its Firehose stream by name.
    assert statements["Firehose"]["Resource"] == ["arn:aws:firehose:us-east-1:*:deliverystream/mlinfra-eks-prod-ranker-requests"]
    assert statements["Eks"]["Resource"] == ["arn:aws:eks:us-east-1:*:*/mlinfra-eks-prod/*",
                                             "arn:aws:eks:us-east-1:*:cluster/mlinfra-eks-prod"]
    assert statements["S3"]["Resource"] == [
        "arn:aws:s3:::mlinfra-eks-prod-us-east-1-artifacts", "arn:aws:s3:::mlinfra-eks-prod-us-east-1-artifacts/*",
        "arn:aws:s3:::mlinfra-eks-prod-us-east-1-data-lake", "arn:aws:s3:::mlinfra-eks-prod-us-east-1-data-lake/*"]
    assert statements["Sqs"]["Resource"] == ["arn:aws:sqs:us-east-1:*:mlinfra-eks-prod"]
    # The stack's dashboard by its name (dashboards are global), beside its alarms.
    assert "arn:aws:cloudwatch::*:dashboard/mlinfra-eks-prod" in statements["Cloudwatch"]["Resource"]
    assert statements["Ec2"]["Resource"] == "*"
    assert statements["Ec2"]["Condition"] == {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}
    # Auto-named roles are limited to their logical names; none of them is a deploy identity.
    assert "arn:aws:iam::*:role/mlinfra-vpc-flow-logs-*" in statements["Iam"]["Resource"]
    assert statements["NotTheDeployRoles"] == {"Sid": "NotTheDeployRoles", "Effect": "Deny", "Action": "iam:*",
                                               "Resource": list(d.DEPLOY_ROLE_PATTERNS)}
    assert not any(a.startswith("s3:") or a.startswith("logs:Get") for a in statements["Read"]["Action"])
    assert len(document) <= d.MAX_POLICY_CHARS
    assert "sns:*" not in json.loads(GRANTS["eks-dev"].aws_policies[0])  # eks-dev has no alert topic
    assert "Sns" not in {s["Sid"] for s in json.loads(GRANTS["eks-dev"].aws_policies[0])["Statement"]}


def test_a_policy_over_iams_size_limit_is_split_into_several_under_it():
    many = [d.Planned("aws:s3/bucket:Bucket", f"b{i}", f"mlinfra-eks-prod-us-east-1-bucket-number-{i:03}")
            for i in range(80)] + [d.Planned("aws:sqs/queue:Queue", f"q{i}", f"mlinfra-eks-prod-queue-{i:03}")
                                   for i in range(80)]
    documents = d.aws_policies(many, "us-east-1")
    assert len(documents) >= 2 and all(len(doc) <= d.MAX_POLICY_CHARS for doc in documents)
    arns = {a for doc in documents for s in json.loads(doc)["Statement"] if isinstance(s["Resource"], list)
            for a in s["Resource"]}
    assert {f"arn:aws:sqs:us-east-1:*:mlinfra-eks-prod-queue-{i:03}" for i in range(80)} <= arns
    assert d.policy_name("mlinfra-deploy-eks-prod", 0) == "mlinfra-deploy-eks-prod"
    assert d.policy_name("mlinfra-deploy-eks-prod", 1) == "mlinfra-deploy-eks-prod-2"


def _component_types() -> set[str]:
    """Every resource type a component (or pattern) module can create: each `gcp.x.Y(` /
    `aws.x.Y(` call of a resource class, resolved to its type token from the SDK's source."""
    import pulumi
    import pulumi_aws
    import pulumi_gcp

    sdks = {"gcp": pulumi_gcp, "aws": pulumi_aws}
    tokens = set()
    for path in [*(ROOT / "components").rglob("*.py"), *(ROOT / "infra").rglob("*.py")]:
        for cloud, module, cls in re.findall(r"\b(gcp|aws)\.([a-z0-9_]+)\.([A-Z]\w+)\(", path.read_text()):
            found = getattr(getattr(sdks[cloud], module), cls, None)
            if isinstance(found, type) and issubclass(found, pulumi.CustomResource):
                token = re.search(rf"'({cloud}:[^']+)'", inspect.getsource(found))
                tokens.add(token.group(1))
    return tokens


def test_every_type_a_component_can_create_has_a_role_and_an_aws_service():
    types = _component_types()
    assert {"gcp:bigtable/instance:Instance", "gcp:redis/instance:Instance", "aws:eks/cluster:Cluster",
            "gcp:iam/workloadIdentityPool:WorkloadIdentityPool"} <= types  # the scan finds them
    unmapped = []
    for token in sorted(types):
        table = d.AWS_SERVICES if token.startswith("aws:") else d.GCP_ROLES
        if not any(d.fnmatchcase(token, entry.pattern) for entry in table):
            unmapped.append(token)
    assert unmapped == []


def test_every_shipped_stack_plans_only_mapped_types():
    # all_grants raises for an unmapped one; every planned type is in the tables.
    for g in GRANTS.values():
        assert g.types and (g.deploy_roles or g.aws_policies), g.stack


def test_a_stack_planning_an_unmapped_type_fails_naming_its_file_and_the_table():
    stack = CI["dev"]
    with pytest.raises(CIError) as caught:
        _derive(stack, {"resources": [["gcp:newservice/thing:Thing", "x", None]], "invokes": []})
    assert str(caught.value) == ("stacks/Pulumi.dev.yaml: it plans a gcp:newservice/thing:Thing and "
                                 "infra/ci/deploy_roles.py has no role for that type; add one there")


def test_the_roles_a_stack_grants_on_its_project_are_what_its_deploy_account_may_grant():
    assert GRANTS["dev"].grantable_roles == (
        "roles/artifactregistry.writer", "roles/logging.logWriter", "roles/storage.objectViewer")
    assert "roles/monitoring.metricWriter" in GRANTS["k8s-prod"].grantable_roles
    assert all(not g.grantable_roles for g in GRANTS.values() if g.aws_policies)
    assert d.grant_condition(["roles/b", "roles/a", "roles/b"]) == \
        "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(['roles/a', 'roles/b'])"


def test_a_project_grant_whose_role_is_not_text_fails_naming_its_file():
    with pytest.raises(CIError) as caught:
        _derive(CI["dev"], {"resources": [["gcp:projects/iAMMember:IAMMember", "grant", None, ""]], "invokes": []})
    assert str(caught.value).startswith("stacks/Pulumi.dev.yaml: its project grant grant takes its role from another "
                                        "resource, so the deploy account's roles/resourcemanager.projectIamAdmin cannot")


def test_the_bootstrap_stack_holds_the_basic_roles_guardrail_without_a_waiver():
    assert "mlinfra:waivers" not in stack_config("bootstrap")
    verdicts = {v.rule: v for v in guardrails.judge(guardrails.resources_of(run_stack("bootstrap")))}
    assert verdicts["MLI-IAM-001"].status == "holds"
