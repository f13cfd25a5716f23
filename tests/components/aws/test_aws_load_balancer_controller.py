"""The AWS Load Balancer Controller the EKS stacks' TargetGroupBindings need: its pinned chart, its Pod
Identity role with the policy its project publishes, and the servers waiting for it."""

from __future__ import annotations

import json

from components.aws.eks.aws_load_balancer_controller import CHART_VERSION, policy_statements
from tests.conftest import run_stack

RELEASE = "kubernetes:helm.sh/v3:Release"


def test_the_controller_chart_is_pinned_in_kube_system_with_the_clusters_vpc():
    rec = run_stack("eks-dev")
    release = rec.one(RELEASE, "mlinfra-lb-controller")
    inputs = release.inputs
    assert (inputs["chart"], inputs["version"], inputs["namespace"]) == (
        "aws-load-balancer-controller", CHART_VERSION, "kube-system")
    assert inputs["repositoryOpts"] == {"repo": "https://aws.github.io/eks-charts"}
    values = inputs["values"]
    assert values["serviceAccount"] == {"create": True, "name": "aws-load-balancer-controller"}
    assert values["enableServiceMutatorWebhook"] is False
    assert values["replicaCount"] == 2
    assert values["vpcId"] == rec.one("aws:ec2/vpc:Vpc").id and values["region"] == "us-east-1"
    assert values["clusterName"] == "mlinfra-eks-dev"


def test_its_role_holds_exactly_the_published_policy_through_pod_identity():
    rec = run_stack("eks-dev")
    [association] = [r for r in rec.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
                     if r.inputs["serviceAccount"] == "aws-load-balancer-controller"]
    assert association.inputs["namespace"] == "kube-system"
    [policy] = [r for r in rec.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "mlinfra-lb-controller-controller"]
    assert json.loads(policy.inputs["policy"])["Statement"] == policy_statements()
    deletes = [s for s in policy_statements() if {"elasticloadbalancing:DeleteLoadBalancer",
                                                  "elasticloadbalancing:DeleteTargetGroup"} & set(s["Action"])]
    # It deletes only the load balancers and target groups it tagged as its own.
    assert deletes and all("aws:ResourceTag/elbv2.k8s.aws/cluster" in json.dumps(s["Condition"]) for s in deletes)


def test_the_model_servers_wait_for_the_controller_that_admits_their_target_group_bindings():
    rec = run_stack("eks-dev")
    release = rec.one(RELEASE, "mlinfra-lb-controller")
    for server in rec.of_type("mlinfra:aws:EksModelServer"):
        assert release.urn in server.dependencies
