"""Builds a service with `platform: eks` inside a pattern that has an EKS cluster: a model server
in its own namespace, routed at `/<service>/` on the stack's internal ALB (a gRPC server: every
call of the ALB's HTTPS listener); and its objectives as CloudWatch burn-rate alarms on its
target groups there (not a gRPC server's: see EksServiceSpec.issues); with `logging`, its Firehose
stream first (infra/patterns/eks_request_logging.py)."""

from __future__ import annotations

from components.aws.eks.eks_model_server import EksModelServer, EksModelServerArgs, LoadBalancerAttachment
from components.aws.eks.eks_service_spec import EksServiceSpec, rule_priority
from components.core.naming import dns_name


def namespace(spec: EksServiceSpec) -> str:
    """The namespace a server's component creates for it."""
    return dns_name("ml", spec.name)


def build(pattern, spec: EksServiceSpec) -> EksModelServer:
    args = pattern.args
    attach = None
    if pattern.load_balancer is not None:
        # A gRPC server's rule goes on the HTTPS listener its certificateArn gave the ALB.
        listener = (pattern.load_balancer.https_listener_arn if spec.protocol == "grpc"
                    else pattern.load_balancer.listener_arn)
        attach = LoadBalancerAttachment(listener_arn=listener, vpc_id=pattern.network.vpc_id,
                                        priority=rule_priority(spec.name), name_prefix=args.stack)
    request_log = None
    if spec.logging is not None:
        from infra.patterns.eks_request_logging import build_request_log  # only stacks that log requests

        request_log = build_request_log(pattern, spec)
    return EksModelServer(f"{pattern.name}-svc-{spec.name}", EksModelServerArgs(
        spec=spec, namespace=namespace(spec), provider=pattern.cluster.provider,
        cluster_name=pattern.cluster.cluster_name, nodes=pattern.cluster.nodes, region=args.region, environment=args.environment,
        model_bucket=pattern.storage.artifacts, kms_key_arn=pattern.storage.kms_key_arn, vpc_cidr=args.network.cidr,
        # A gRPC server takes the HTTPS listener's calls unprefixed (their paths are their methods).
        path_prefix=None if spec.protocol == "grpc" else f"/{spec.name}", load_balancer=attach,
        request_log=request_log), opts=pattern.on_cluster)


def monitor(pattern, spec: EksServiceSpec, server: EksModelServer, slo, channels):
    """Objectives from the stack's ALB: the server's target groups, every track together."""
    from components.aws.monitoring.service_alarms import ServiceAlarms, ServiceAlarmsArgs  # only stacks with objectives

    return ServiceAlarms(f"{pattern.name}-slo-{spec.name}", ServiceAlarmsArgs(
        service=spec.name, slo=slo, alarm_prefix=pattern.alarm_prefix, load_balancer=pattern.load_balancer.arn_suffix,
        target_groups=server.target_group_suffixes, topics=channels,
        runbook=(f"Check the pods in namespace {namespace(spec)} (`kubectl -n {namespace(spec)} get pods,hpa`: restarts, "
                 "replicas against maxReplicas), the target groups' healthy hosts in the EC2 console, and the canary "
                 "track's share.")), opts=pattern.child())
