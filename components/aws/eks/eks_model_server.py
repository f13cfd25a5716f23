"""A model server on EKS: its own namespace and IAM role (EKS Pod Identity), autoscaled, with a
canary track, behind the stack's internal Application Load Balancer.

Model-loading: an init container (the AWS CLI image, as the pod's own role) syncs
`s3://<artifact bucket>/<path>/<version>/` into an emptyDir, which the server mounts read-only
at `/models/<name>/<version>`. The role may read that bucket prefix and decrypt through S3.

The per-track objects (Deployment, Service, HPA, PDB) come from components/kubernetes/serving.py;
this component adds what is EKS's: the role and its Pod Identity association, the S3 sync, and
an Ingress for the AWS Load Balancer Controller (an internal ALB shared by every server through
its group, targets by pod IP) whose weighted forward action carries the canary split. A gRPC
server (`protocol: grpc`) gets an HTTPS listener on 443 with its `certificateArn`, a GRPC target
group and gRPC health checks instead (`grpc_listener`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.aws.eks.eks_service_spec import EksServiceSpec
from components.aws.eks.node_labels import EKS_NODES
from components.aws.eks.pod_identity_role import PodIdentityRole, PodIdentityRoleArgs, kms_statements
from components.aws.storage.s3_bucket import S3Bucket
from components.core.component import Component
from components.core.issues import Issue, raise_if_any
from components.core.spec import Context, ensure_valid
from components.kubernetes.grpc_serving import health_checked, is_grpc, service_port
from components.kubernetes.pods import RUN_AS, NodeScheme, restricted_security
from components.kubernetes.serving import (SERVICE_PORT, hpa_metric, labels, pod_template, selector, track_replicas,
                                           track_weights)
from components.serving import runtimes

TYPE = "mlinfra:aws:EksModelServer"
AWS_CLI_IMAGE = "public.ecr.aws/aws-cli/aws-cli:2.27.50"
MODEL_CACHE = "50Gi"
ALB_GROUP = "mlinfra"
# TLS 1.2 and 1.3 only, the policy AWS recommends for new HTTPS listeners.
SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


@dataclass(frozen=True, kw_only=True)
class EksModelServerArgs:
    spec: EksServiceSpec
    """The server as the stack file says it (`platform: eks`)."""
    namespace: str
    """The namespace the component creates for it (one per model server)."""
    provider: pulumi.ProviderResource
    """The cluster's Kubernetes provider."""
    cluster_name: pulumi.Input[str]
    """The cluster (its Pod Identity association names it)."""
    region: str
    """The stack's region."""
    environment: str
    """dev, staging or prod (a pod label)."""
    model_bucket: Optional[S3Bucket] = None
    """The artifact bucket the model is synced from (model-loading). Defaults to none; required with a model."""
    kms_key_arn: Optional[pulumi.Input[str]] = None
    """The buckets' KMS key. Defaults to none; required with a model."""
    vpc_cidr: str = "10.0.0.0/16"
    """Where the load balancer connects from (NetworkPolicy). Defaults to 10.0.0.0/16."""
    path_prefix: Optional[str] = None
    """The path the server answers under on the shared load balancer. Defaults to none (no Ingress,
    unless the server speaks gRPC: it takes every call of the HTTPS listener)."""
    hostnames: Sequence[str] = ()
    """Hostnames the Ingress answers on. Defaults to any."""
    nodes: NodeScheme = EKS_NODES
    """How the cluster labels its spot and GPU nodes (Karpenter's differ). Defaults to the managed node groups'."""


def grpc_listener(spec: EksServiceSpec) -> dict:
    """The AWS Load Balancer Controller's annotations that put a gRPC server behind the ALB: an
    HTTPS listener on 443 with the server's certificate (gRPC needs HTTPS listeners), a target
    group of protocol version GRPC (HTTP/2 cleartext to the pods), and a gRPC health check: the
    grpc.health.v1 Check method answering OK (0) where the server has it (Triton), else the
    controller's default for gRPC, /AWS.ALB/healthcheck answering UNIMPLEMENTED (12), which any
    gRPC server does (annotations of kubernetes-sigs/aws-load-balancer-controller,
    docs/guide/ingress/annotations.md)."""
    health = health_checked(spec)
    return {
        "alb.ingress.kubernetes.io/listen-ports": json.dumps([{"HTTPS": 443}]),
        "alb.ingress.kubernetes.io/certificate-arn": spec.certificate_arn,
        "alb.ingress.kubernetes.io/ssl-policy": SSL_POLICY,
        "alb.ingress.kubernetes.io/backend-protocol": "HTTP",
        "alb.ingress.kubernetes.io/backend-protocol-version": "GRPC",
        "alb.ingress.kubernetes.io/healthcheck-path": "/grpc.health.v1.Health/Check" if health else "/AWS.ALB/healthcheck",
        "alb.ingress.kubernetes.io/success-codes": "0" if health else "12",
    }


def model_sync(spec: EksServiceSpec, bucket: pulumi.Input[str], mount: str, region: str) -> pulumi.Output:
    """The init container copying the model version from S3 into the model volume."""
    _, security = restricted_security(True)
    path = "/".join(p for p in (spec.model.prefix, spec.model.version) if p)
    return pulumi.Output.from_input(bucket).apply(lambda name: {
        "name": "model-sync", "image": AWS_CLI_IMAGE,
        "args": ["s3", "sync", "--only-show-errors", f"s3://{name}/{path}/", mount],
        "env": [{"name": "HOME", "value": "/tmp"}, {"name": "AWS_REGION", "value": region}],
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "securityContext": {**security, "runAsNonRoot": True, "runAsUser": RUN_AS},
        "volumeMounts": [{"name": "model", "mountPath": mount}, {"name": "tmp", "mountPath": "/tmp"}]})


class EksModelServer(Component):
    """Outputs: namespace, service_names (per track), role_arn."""

    def __init__(self, name: str, args: EksModelServerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        spec = args.spec
        ensure_valid(f"EksModelServer {name}", spec, Context(region=args.region, environment=args.environment))
        issues = []
        if spec.model is not None and (args.model_bucket is None or args.kms_key_arn is None):
            issues.append(Issue(("model",), "needs the artifact bucket and its key", fix="pass model_bucket and kms_key_arn"))
        if is_grpc(spec) and args.path_prefix is not None:
            issues.append(Issue(("pathPrefix",), "a gRPC call's path is its method (/<package>.<Service>/<Method>): "
                                "clients cannot add a prefix", args.path_prefix,
                                fix="pass no path_prefix for a gRPC server (its rule takes the HTTPS listener's calls)"))
        raise_if_any(f"EksModelServer {name}", issues)
        ksa_name = spec.name

        statements: pulumi.Input[list] = []
        if spec.model is not None:
            prefix = f"{spec.model.prefix}/" if spec.model.prefix else ""
            statements = pulumi.Output.all(args.model_bucket.read_statements(prefix),
                                           kms_statements(args.kms_key_arn, args.region)).apply(lambda s: s[0] + s[1])
        else:
            statements = [{"Effect": "Deny", "Action": "*", "Resource": "*"}]
        self.identity = PodIdentityRole(f"{name}-role", PodIdentityRoleArgs(
            cluster_name=args.cluster_name, namespace=args.namespace, service_account=ksa_name,
            statements=statements), opts=self.child())

        k8s_opts = self.child(provider=args.provider)
        self.namespace_object = k8s.core.v1.Namespace(f"{name}-ns", metadata={
            "name": args.namespace,
            "labels": {"app.kubernetes.io/part-of": "mlinfra", "pod-security.kubernetes.io/enforce": "restricted",
                       "pod-security.kubernetes.io/enforce-version": "latest",
                       "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/audit": "restricted"}},
            opts=k8s_opts)
        ns = self.namespace_object.metadata.name

        def meta(object_name: str, track: Optional[str] = None) -> dict:
            return {"name": object_name, "namespace": ns, "labels": labels(spec, track)}

        self.ksa = k8s.core.v1.ServiceAccount(f"{name}-ksa", metadata=meta(ksa_name), automount_service_account_token=False,
                                              opts=k8s_opts)
        replicas, weights = track_replicas(spec), track_weights(spec)
        run = spec.launch(gpu=spec.resources.gpu is not None)
        self.deployments, self.services, self.autoscalers, self.budgets = {}, {}, {}, {}
        for track in weights:
            object_name = f"{spec.name}-{track}"
            variant = spec.variant(canary=track == "canary")
            model_volume = ({"name": "model", "emptyDir": {"sizeLimit": MODEL_CACHE}}, {}) if variant.model else None
            template = pod_template(variant, track, service_account=ksa_name, environment=args.environment,
                                    nodes=args.nodes, model_volume=model_volume)
            if variant.model is not None:
                mount = runtimes.model_dir(variant.model_name, variant.model.version)
                sync = model_sync(variant, args.model_bucket.bucket_name, mount, args.region)
                template = sync.apply(lambda init, t=template: {**t, "spec": {**t["spec"], "initContainers": [init]}})
            self.deployments[track] = k8s.apps.v1.Deployment(f"{name}-{track}", metadata=meta(object_name, track), spec={
                "selector": {"matchLabels": selector(spec, track)},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": template,
            }, opts=self.child(provider=args.provider, depends_on=[self.identity, self.ksa],
                               custom_timeouts=pulumi.CustomTimeouts(create="30m", update="30m")))
            self.services[track] = k8s.core.v1.Service(f"{name}-{track}-svc", metadata=meta(object_name, track), spec={
                "type": "ClusterIP", "selector": selector(spec, track),
                "ports": [service_port(spec, SERVICE_PORT)],
            }, opts=k8s_opts)
            low, high = replicas[track]
            self.autoscalers[track] = k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-{track}-hpa", metadata=meta(object_name, track), spec={
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": object_name},
                    "minReplicas": low, "maxReplicas": high, "metrics": [hpa_metric(variant, lambda m: m)],
                }, opts=self.child(provider=args.provider, depends_on=[self.deployments[track]]))
            budget = {"maxUnavailable": 1} if low >= 2 else {"minAvailable": 1}
            self.budgets[track] = k8s.policy.v1.PodDisruptionBudget(f"{name}-{track}-pdb", metadata=meta(object_name, track), spec={
                **budget, "selector": {"matchLabels": selector(spec, track)}, "unhealthyPodEvictionPolicy": "AlwaysAllow",
            }, opts=k8s_opts)

        # The ALB reaches pods by IP from the VPC's subnets; nothing else may connect.
        self.network_policy = k8s.networking.v1.NetworkPolicy(f"{name}-netpol", metadata=meta(spec.name), spec={
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": spec.name}}, "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"protocol": "TCP", "port": run.port}],
                         "from": [{"podSelector": {}}, {"ipBlock": {"cidr": args.vpc_cidr}}]}],
        }, opts=k8s_opts)

        self.ingress = None
        if args.path_prefix is not None or is_grpc(spec):
            action = "weighted"
            forward = {"type": "forward", "forwardConfig": {"targetGroups": [
                {"serviceName": f"{spec.name}-{t}", "servicePort": str(SERVICE_PORT), "weight": pct}
                for t, pct in weights.items()]}}
            check = run.ready_path or "/"
            annotations = {
                "alb.ingress.kubernetes.io/scheme": "internal",
                "alb.ingress.kubernetes.io/target-type": "ip",
                "alb.ingress.kubernetes.io/group.name": ALB_GROUP,
                "alb.ingress.kubernetes.io/healthcheck-path": check,
                "alb.ingress.kubernetes.io/actions." + action: json.dumps(forward, sort_keys=True),
            }
            if is_grpc(spec):
                annotations.update(grpc_listener(spec))
            rule: dict = {"http": {"paths": [{"path": args.path_prefix or "/", "pathType": "Prefix", "backend": {
                "service": {"name": action, "port": {"name": "use-annotation"}}}}]}}
            rules = [{**rule, "host": h} for h in args.hostnames] or [rule]
            self.ingress = k8s.networking.v1.Ingress(f"{name}-ingress", metadata={**meta(spec.name), "annotations": annotations},
                                                     spec={"ingressClassName": "alb", "rules": rules},
                                                     opts=self.child(provider=args.provider,
                                                                     depends_on=list(self.services.values())))

        self.namespace = ns
        self.ksa_name = ksa_name
        self.service_names = {track: f"{spec.name}-{track}" for track in weights}
        self.role_arn = self.identity.role_arn
        self.register_outputs({"namespace": ns, "service_names": self.service_names, "role_arn": self.role_arn})
