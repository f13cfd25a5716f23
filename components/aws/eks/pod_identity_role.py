"""An IAM role for one workload's Kubernetes service account, through EKS Pod Identity: the role
trusts only the Pod Identity service, and the association binds it to one namespace and account."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from components.aws.eks.iam_policies import POD_IDENTITY_TRUST, document
from components.core.component import Component

TYPE = "mlinfra:aws:PodIdentityRole"


@dataclass(frozen=True, kw_only=True)
class PodIdentityRoleArgs:
    cluster_name: pulumi.Input[str]
    """The cluster whose pods assume it."""
    namespace: str
    """The service account's namespace."""
    service_account: str
    """The Kubernetes service account bound to the role."""
    statements: pulumi.Input[list]
    """The IAM statements the role is allowed (e.g. reading one bucket prefix)."""


class PodIdentityRole(Component):
    """Outputs: role_arn."""

    def __init__(self, name: str, args: PodIdentityRoleArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        self.role = aws.iam.Role(name, assume_role_policy=POD_IDENTITY_TRUST,
                                 description=f"mlinfra: {args.namespace}/{args.service_account}", opts=self.child())
        self.policy = aws.iam.RolePolicy(name, role=self.role.id,
                                         policy=pulumi.Output.from_input(args.statements).apply(document),
                                         opts=self.child())
        self.association = aws.eks.PodIdentityAssociation(
            name, cluster_name=args.cluster_name, namespace=args.namespace, service_account=args.service_account,
            role_arn=self.role.arn, opts=self.child(depends_on=[self.policy]))
        self.role_arn = self.role.arn
        self.register_outputs({"role_arn": self.role_arn})


def kms_statements(key_arn: pulumi.Input[str], region: str, write: bool = False) -> pulumi.Output:
    """Use of the buckets' KMS key, through S3 only."""
    actions = ["kms:Decrypt"] + (["kms:GenerateDataKey"] if write else [])
    return pulumi.Output.from_input(key_arn).apply(lambda arn: [{
        "Effect": "Allow", "Action": actions, "Resource": arn,
        "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}}])
