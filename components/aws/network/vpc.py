"""The stack's VPC on AWS: private subnets across the zones for nodes, pods and internal load
balancers, public subnets holding only the NAT gateways, and the routes between them.

Subnets carry the tags EKS and the AWS Load Balancer Controller look for: private ones
`kubernetes.io/role/internal-elb=1`, public ones `kubernetes.io/role/elb=1`, both
`kubernetes.io/cluster/<cluster>=shared`. No public IP is given to anything launched in a subnet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from components.aws.network.vpc_spec import VpcSpec, subnet_plan
from components.core.component import Component

TYPE = "mlinfra:aws:Vpc"


@dataclass(frozen=True, kw_only=True)
class VpcArgs:
    spec: VpcSpec
    """The VPC as the stack file says it."""
    region: str
    """The stack's region (zone names derive from it)."""
    cluster_name: Optional[str] = None
    """The EKS cluster whose subnet tags to set. Defaults to none."""
    flow_log_retention_days: int = 90
    """Days CloudWatch keeps the flow logs. Defaults to 90."""
    karpenter_discovery: bool = False
    """Tag the private subnets `karpenter.sh/discovery: <cluster>`, where Karpenter places its nodes. Defaults to false."""


class Vpc(Component):
    """Outputs: vpc_id, private_subnet_ids, public_subnet_ids."""

    def __init__(self, name: str, args: VpcArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        spec = args.spec
        plan = subnet_plan(spec, args.region)
        cluster_tags = {f"kubernetes.io/cluster/{args.cluster_name}": "shared"} if args.cluster_name else {}
        discovery = {"karpenter.sh/discovery": args.cluster_name} if args.karpenter_discovery and args.cluster_name else {}
        self.vpc = aws.ec2.Vpc(name, cidr_block=spec.cidr, enable_dns_hostnames=True, enable_dns_support=True,
                               tags={"Name": name}, opts=self.child())
        # The default security group of a new VPC allows all traffic between its members: empty it.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=self.vpc.id, ingress=[], egress=[],
                                     tags={"Name": f"{name}-default"}, opts=self.child())
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, tags={"Name": f"{name}-igw"}, opts=self.child())
        public_rt = aws.ec2.RouteTable(f"{name}-public", vpc_id=self.vpc.id, routes=[
            aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={"Name": f"{name}-public"}, opts=self.child())
        self.public_subnets, self.private_subnets, self.nat_gateways = [], [], []
        for zone, private_cidr, public_cidr in plan:
            suffix = zone[-1]
            public = aws.ec2.Subnet(f"{name}-public-{suffix}", vpc_id=self.vpc.id, cidr_block=public_cidr,
                                    availability_zone=zone, map_public_ip_on_launch=False,
                                    tags={"Name": f"{name}-public-{suffix}", "kubernetes.io/role/elb": "1", **cluster_tags},
                                    opts=self.child())
            aws.ec2.RouteTableAssociation(f"{name}-public-{suffix}", subnet_id=public.id, route_table_id=public_rt.id,
                                          opts=self.child())
            self.public_subnets.append(public)
            if spec.nat_gateways == "perZone" or not self.nat_gateways:
                eip = aws.ec2.Eip(f"{name}-nat-{suffix}", domain="vpc", tags={"Name": f"{name}-nat-{suffix}"},
                                  opts=self.child(depends_on=[igw]))
                self.nat_gateways.append(aws.ec2.NatGateway(
                    f"{name}-nat-{suffix}", allocation_id=eip.id, subnet_id=public.id,
                    tags={"Name": f"{name}-nat-{suffix}"}, opts=self.child(depends_on=[igw])))
            nat = self.nat_gateways[-1]
            private = aws.ec2.Subnet(f"{name}-private-{suffix}", vpc_id=self.vpc.id, cidr_block=private_cidr,
                                     availability_zone=zone, map_public_ip_on_launch=False,
                                     tags={"Name": f"{name}-private-{suffix}", "kubernetes.io/role/internal-elb": "1",
                                           **cluster_tags, **discovery}, opts=self.child())
            private_rt = aws.ec2.RouteTable(f"{name}-private-{suffix}", vpc_id=self.vpc.id, routes=[
                aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                tags={"Name": f"{name}-private-{suffix}"}, opts=self.child())
            aws.ec2.RouteTableAssociation(f"{name}-private-{suffix}", subnet_id=private.id,
                                          route_table_id=private_rt.id, opts=self.child())
            self.private_subnets.append(private)

        if spec.flow_logs:
            group = aws.cloudwatch.LogGroup(f"{name}-flow-logs", retention_in_days=args.flow_log_retention_days,
                                            opts=self.child())
            role = aws.iam.Role(f"{name}-flow-logs", assume_role_policy=json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}}]}),
                opts=self.child())
            aws.iam.RolePolicy(f"{name}-flow-logs", role=role.id, policy=group.arn.apply(lambda arn: json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": [arn, f"{arn}:*"], "Action": [
                    "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]}]})), opts=self.child())
            aws.ec2.FlowLog(f"{name}-flow-logs", vpc_id=self.vpc.id, traffic_type="REJECT", log_destination=group.arn,
                            log_destination_type="cloud-watch-logs", iam_role_arn=role.arn, opts=self.child())

        self.vpc_id = self.vpc.id
        self.private_subnet_ids = [s.id for s in self.private_subnets]
        self.public_subnet_ids = [s.id for s in self.public_subnets]
        self.register_outputs({"vpc_id": self.vpc_id, "private_subnet_ids": self.private_subnet_ids,
                               "public_subnet_ids": self.public_subnet_ids})
