"""The AWS Load Balancer Controller, which turns the model servers' Ingresses into the stack's
internal Application Load Balancer (and target groups of pod IPs): its Helm chart from AWS's
eks-charts, pinned, in kube-system, and its IAM role through EKS Pod Identity with the policy the
controller's project publishes (vendored beside this file as
aws_load_balancer_controller_policy.json, from kubernetes-sigs/aws-load-balancer-controller
docs/install/iam_policy.json at commit 225f445, v3.5.0): tag conditions scope its writes to the
load balancers, target groups and security groups it created itself.

The Service mutator webhook is off, so a Service of type LoadBalancer elsewhere in the cluster
keeps the behaviour it asked for; the Ingress webhooks stay on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.aws.eks.pod_identity_role import PodIdentityRole, PodIdentityRoleArgs
from components.core.component import Component

TYPE = "mlinfra:aws:AwsLoadBalancerController"
CHART = "aws-load-balancer-controller"
CHART_REPO = "https://aws.github.io/eks-charts"
CHART_VERSION = "3.5.0"
"""The chart (and controller) version the policy file was taken for."""
NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "aws-load-balancer-controller"
POLICY_FILE = Path(__file__).with_name("aws_load_balancer_controller_policy.json")


def policy_statements() -> list:
    """The controller's IAM statements, as its project publishes them."""
    return json.loads(POLICY_FILE.read_text())["Statement"]


def controller_values(cluster_name: pulumi.Input[str], region: str, vpc_id: pulumi.Input[str]) -> dict:
    return {
        "clusterName": cluster_name,
        "region": region,
        "vpcId": vpc_id,
        "serviceAccount": {"create": True, "name": SERVICE_ACCOUNT},
        # Two replicas under a PDB: the webhooks that admit Ingresses stay up through a node drain.
        "replicaCount": 2,
        "podDisruptionBudget": {"maxUnavailable": 1},
        "enableServiceMutatorWebhook": False,
    }


@dataclass(frozen=True, kw_only=True)
class AwsLoadBalancerControllerArgs:
    cluster_name: pulumi.Input[str]
    """The EKS cluster."""
    region: str
    """Its region."""
    vpc_id: pulumi.Input[str]
    """The VPC its load balancers go in."""
    provider: pulumi.ProviderResource
    """The cluster's Kubernetes provider."""


class AwsLoadBalancerController(Component):
    """Outputs: role_arn."""

    def __init__(self, name: str, args: AwsLoadBalancerControllerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        self.identity = PodIdentityRole(f"{name}-controller", PodIdentityRoleArgs(
            cluster_name=args.cluster_name, namespace=NAMESPACE, service_account=SERVICE_ACCOUNT,
            statements=policy_statements()), opts=self.child())
        self.release = k8s.helm.v3.Release(
            name, name=CHART, chart=CHART, version=CHART_VERSION, namespace=NAMESPACE,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPO),
            values=controller_values(args.cluster_name, args.region, args.vpc_id),
            opts=self.child(provider=args.provider, depends_on=[self.identity]))
        self.role_arn = self.identity.role_arn
        self.register_outputs({"role_arn": self.role_arn})
