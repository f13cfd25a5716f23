"""The stack's internal Application Load Balancer in front of its model servers, owned by Pulumi.

The ALB, its security group and its HTTP listener are Pulumi resources; each server adds its
target groups (one per track), a listener rule forwarding `/<service>` to them by weight, and
a TargetGroupBinding per track through which the AWS Load Balancer Controller keeps the
target group's pod IPs current. Owning the ALB makes its and the target groups' ARN suffixes
Pulumi outputs, which the servers' CloudWatch alarms need as dimensions (an Ingress would
leave both to the controller, known only after it reconciles). The listener answers 404 to
any path no server claims.

With a gRPC server's certificate the ALB also gets an HTTPS listener on 443 (an ALB serves gRPC
on HTTPS listeners only, negotiating HTTP/2 by ALPN), TLS 1.2 and 1.3 only, whose one rule (the
gRPC server's) takes every call; its default answers 404 too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws

from components.core.component import Component

TYPE = "mlinfra:aws:ServingLoadBalancer"
LISTENER_PORT = 80
HTTPS_PORT = 443
# TLS 1.2 and 1.3 only, the policy AWS recommends for new HTTPS listeners.
SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


@dataclass(frozen=True, kw_only=True)
class ServingLoadBalancerArgs:
    load_balancer_name: str
    """The ALB's name (at most 32 characters, unique in the account and region)."""
    vpc_id: pulumi.Input[str]
    """The stack's VPC."""
    vpc_cidr: str
    """Who may connect: the VPC's range."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """The private subnets, one per zone."""
    cluster_security_group_id: pulumi.Input[str]
    """The EKS cluster security group, which the nodes' and so the pods' network interfaces carry."""
    target_ports: Sequence[int]
    """The ports of the pods it forwards to."""
    certificate_arn: Optional[str] = None
    """The ACM certificate of the HTTPS listener on 443 (the gRPC server's `certificateArn`).
    Defaults to none (no HTTPS listener)."""
    prod: bool = False
    """Deletion protection and Pulumi `protect`: its DNS name is what callers use. Defaults to false."""


class ServingLoadBalancer(Component):
    """Outputs: arn_suffix, dns_name, listener_arn and, with a certificate, https_listener_arn."""

    def __init__(self, name: str, args: ServingLoadBalancerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg", vpc_id=args.vpc_id, description=f"{args.load_balancer_name}: the model servers' internal ALB",
            opts=self.child())
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-from-vpc", security_group_id=self.security_group.id, ip_protocol="tcp", from_port=LISTENER_PORT,
            to_port=LISTENER_PORT, cidr_ipv4=args.vpc_cidr, description="callers in the VPC", opts=self.child())
        if args.certificate_arn is not None:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-https-from-vpc", security_group_id=self.security_group.id, ip_protocol="tcp",
                from_port=HTTPS_PORT, to_port=HTTPS_PORT, cidr_ipv4=args.vpc_cidr, description="gRPC callers in the VPC",
                opts=self.child())
        for port in sorted(set(args.target_ports)):
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-to-pods-{port}", security_group_id=self.security_group.id, ip_protocol="tcp", from_port=port,
                to_port=port, referenced_security_group_id=args.cluster_security_group_id,
                description="the model servers' pods", opts=self.child())
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-pods-from-alb-{port}", security_group_id=args.cluster_security_group_id, ip_protocol="tcp",
                from_port=port, to_port=port, referenced_security_group_id=self.security_group.id,
                description=f"{args.load_balancer_name} to the model servers", opts=self.child())
        self.load_balancer = aws.lb.LoadBalancer(
            name, name=args.load_balancer_name, internal=True, load_balancer_type="application",
            security_groups=[self.security_group.id], subnets=list(args.subnet_ids), drop_invalid_header_fields=True,
            enable_deletion_protection=args.prod, opts=self.child(protect=args.prod, delete_before_replace=True))
        self.listener = aws.lb.Listener(
            f"{name}-http", load_balancer_arn=self.load_balancer.arn, port=LISTENER_PORT, protocol="HTTP",
            default_actions=[aws.lb.ListenerDefaultActionArgs(
                type="fixed-response", fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(
                    content_type="text/plain", message_body="no model server at this path", status_code="404"))],
            opts=self.child())
        self.https_listener = None
        if args.certificate_arn is not None:
            self.https_listener = aws.lb.Listener(
                f"{name}-https", load_balancer_arn=self.load_balancer.arn, port=HTTPS_PORT, protocol="HTTPS",
                certificate_arn=args.certificate_arn, ssl_policy=SSL_POLICY,
                default_actions=[aws.lb.ListenerDefaultActionArgs(
                    type="fixed-response", fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(
                        content_type="text/plain", message_body="no gRPC server on this listener", status_code="404"))],
                opts=self.child())
        self.arn_suffix = self.load_balancer.arn_suffix
        self.dns_name = self.load_balancer.dns_name
        self.listener_arn = self.listener.arn
        self.https_listener_arn = self.https_listener.arn if self.https_listener else None
        self.register_outputs({"arn_suffix": self.arn_suffix, "dns_name": self.dns_name})
