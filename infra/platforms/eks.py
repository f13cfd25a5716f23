"""Builds a service with `platform: eks` inside a pattern that has an EKS cluster: a model server
in its own namespace, routed at `/<service>/` on the stack's internal ALB (a gRPC server: every
call of an HTTPS listener of its own on that ALB)."""

from __future__ import annotations

from components.aws.eks.eks_model_server import EksModelServer, EksModelServerArgs
from components.aws.eks.eks_service_spec import EksServiceSpec
from components.core.naming import dns_name


def build(pattern, spec: EksServiceSpec) -> EksModelServer:
    args = pattern.args
    return EksModelServer(f"{pattern.name}-svc-{spec.name}", EksModelServerArgs(
        spec=spec, namespace=dns_name("ml", spec.name), provider=pattern.cluster.provider,
        cluster_name=pattern.cluster.cluster_name, nodes=pattern.cluster.nodes, region=args.region, environment=args.environment,
        model_bucket=pattern.storage.artifacts, kms_key_arn=pattern.storage.kms_key_arn, vpc_cidr=args.network.cidr,
        # A gRPC server takes the HTTPS listener's calls unprefixed (their paths are their methods).
        path_prefix=None if spec.protocol == "grpc" else f"/{spec.name}"), opts=pattern.on_cluster)
