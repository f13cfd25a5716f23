"""A model server on EKS: its own namespace and IAM role (EKS Pod Identity), autoscaled, with a
canary track, behind the stack's internal Application Load Balancer.

Model-loading: an init container (the AWS CLI image, as the pod's own role) syncs
`s3://<artifact bucket>/<path>/<version>/` into an emptyDir, which the server mounts read-only
at `/models/<name>/<version>`. The role may read that bucket prefix and decrypt through S3.

The per-track objects (Deployment, Service, HPA, PDB) come from components/kubernetes/serving.py;
this component adds what is EKS's: the role and its Pod Identity association, the S3 sync, and
its place on the stack's internal ALB: a target group per track (targets by pod IP, kept current
by the AWS Load Balancer Controller through a TargetGroupBinding) and a listener rule whose
weighted forward action carries the canary split. A gRPC server (`protocol: grpc`) joins the
ALB's HTTPS listener instead: its target groups speak GRPC (HTTP/2 to the pods) and are checked
by gRPC health checks (`health_check`), and its rule takes every call (a gRPC call's path is its
method).

With `logging`, each track's container gets REQUEST_LOG_STREAM (the service's Firehose stream),
REQUEST_LOG_SAMPLE_RATE, REQUEST_LOG_SERVICE and K_REVISION, as on GKE, and the role may put
records to that stream and nothing more (the stream is the pattern's,
infra/patterns/eks_request_logging.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws.eks.eks_service_spec import EksServiceSpec
from components.aws.eks.node_labels import EKS_NODES
from components.aws.eks.pod_identity_role import PodIdentityRole, PodIdentityRoleArgs, kms_statements
from components.aws.eks.server_metrics import NAMESPACE as METRICS_NAMESPACE
from components.aws.eks.server_metrics import adapter_metric_name
from components.aws.monitoring.eks_request_logging_spec import server_env
from components.aws.monitoring.request_log_stream import RequestLogStream
from components.aws.storage.s3_bucket import S3Bucket
from components.core.component import Component
from components.core.issues import Issue, raise_if_any
from components.core.naming import dns_name
from components.core.spec import Context, ensure_valid
from components.kubernetes.grpc_serving import health_checked, is_grpc, service_port
from components.kubernetes.pods import RUN_AS, NodeScheme, restricted_security
from components.kubernetes.serving import (SERVICE_PORT, hpa_metric, labels, metrics_port_of, pod_template, selector,
                                           track_replicas, track_weights)
from components.serving import runtimes
from components.serving.request_logging_spec import REVISION_ENV, track_revision

TYPE = "mlinfra:aws:EksModelServer"
AWS_CLI_IMAGE = "public.ecr.aws/aws-cli/aws-cli:2.27.50"
MODEL_CACHE = "50Gi"


@dataclass(frozen=True, kw_only=True)
class LoadBalancerAttachment:
    """Where a server joins the stack's ALB (components/aws/eks/serving_load_balancer.py)."""

    listener_arn: pulumi.Input[str]
    """The ALB's listener the rule goes on: HTTP, or for a gRPC server the HTTPS one."""
    vpc_id: pulumi.Input[str]
    """The VPC its target groups are in."""
    priority: int
    """The listener rule's priority, unique on the listener (1 to 50000)."""
    name_prefix: str
    """Begins the target groups' names (the stack), which are unique per account and region."""


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
    """The path the server answers under on the shared load balancer. Defaults to `/<name>`
    (a gRPC server takes none: its rule takes every call of the HTTPS listener)."""
    load_balancer: Optional[LoadBalancerAttachment] = None
    """The stack's ALB listener to add the server's rule and target groups to. Defaults to none (no load balancer)."""
    hostnames: Sequence[str] = ()
    """Hostnames the listener rule answers on. Defaults to any."""
    nodes: NodeScheme = EKS_NODES
    """How the cluster labels its spot and GPU nodes (Karpenter's differ). Defaults to the managed node groups'."""
    request_log: Optional[RequestLogStream] = None
    """The Firehose stream of the server's request log, for a server with `logging`: its role may
    put records there, its pods get the stream's name. Defaults to none; required with `logging`."""


def log_env(spec: EksServiceSpec, variant: EksServiceSpec, track: str, args: "EksModelServerArgs") -> dict[str, str]:
    """A logging server's variables, as on GKE with REQUEST_LOG_STREAM for the topic, and its track's K_REVISION."""
    if spec.logging is None:
        return {}
    return {**server_env(spec.logging, args.request_log.stream_name, spec.name),
            REVISION_ENV: track_revision(spec.name, track, variant.version)}


def health_check(spec: EksServiceSpec, ready_path: Optional[str]) -> aws.lb.TargetGroupHealthCheckArgs:
    """How the ALB checks each pod of a track. HTTP: the runtime's readiness path answering 200.
    gRPC (a target group of protocol version GRPC): the grpc.health.v1 Check method answering OK
    (gRPC code 0) where the server has it (Triton), else /AWS.ALB/healthcheck answering
    UNIMPLEMENTED (12), which any gRPC server does (the ELB API's defaults for a GRPC target
    group; the provider's `matcher` carries the gRPC codes there, 0 to 99)."""
    if is_grpc(spec):
        health = health_checked(spec)
        path, matcher = ("/grpc.health.v1.Health/Check", "0") if health else ("/AWS.ALB/healthcheck", "12")
    else:
        path, matcher = ready_path or "/", "200"
    return aws.lb.TargetGroupHealthCheckArgs(
        enabled=True, path=path, port="traffic-port", protocol="HTTP", matcher=matcher, interval=15, timeout=5,
        healthy_threshold=2, unhealthy_threshold=2)


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
    """Outputs: namespace, service_names (per track), role_arn, target_groups (ARN suffixes per track)."""

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
        if spec.logging is not None and args.request_log is None:
            issues.append(Issue(("logging",), "needs the stream its records go to", fix="pass request_log"))
        raise_if_any(f"EksModelServer {name}", issues)
        ksa_name = spec.name

        parts: list = []
        if spec.model is not None:
            prefix = f"{spec.model.prefix}/" if spec.model.prefix else ""
            parts += [args.model_bucket.read_statements(prefix), kms_statements(args.kms_key_arn, args.region)]
        if spec.logging is not None:
            parts.append(args.request_log.put_statements())
        statements: pulumi.Input[list] = (pulumi.Output.all(*parts).apply(lambda s: [x for group in s for x in group])
                                          if parts else [{"Effect": "Deny", "Action": "*", "Resource": "*"}])
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
                                    nodes=args.nodes, model_volume=model_volume,
                                    extra_env=log_env(spec, variant, track, args))
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
                    "minReplicas": low, "maxReplicas": high, "metrics": [hpa_metric(variant, adapter_metric_name)],
                }, opts=self.child(provider=args.provider, depends_on=[self.deployments[track]]))
            budget = {"maxUnavailable": 1} if low >= 2 else {"minAvailable": 1}
            self.budgets[track] = k8s.policy.v1.PodDisruptionBudget(f"{name}-{track}-pdb", metadata=meta(object_name, track), spec={
                **budget, "selector": {"matchLabels": selector(spec, track)}, "unhealthyPodEvictionPolicy": "AlwaysAllow",
            }, opts=k8s_opts)

        # The ALB reaches pods by IP from the VPC's subnets; the stack's Prometheus scrapes a server
        # that scales on its own metric (components/aws/eks/server_metrics.py); nothing else may connect.
        ingress = [{"ports": [{"protocol": "TCP", "port": run.port}],
                    "from": [{"podSelector": {}}, {"ipBlock": {"cidr": args.vpc_cidr}}]}]
        if spec.scaling.metric != "cpu":
            ingress.append({"ports": [{"protocol": "TCP", "port": metrics_port_of(spec)}], "from": [{"namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": METRICS_NAMESPACE}}}]})
        self.network_policy = k8s.networking.v1.NetworkPolicy(f"{name}-netpol", metadata=meta(spec.name), spec={
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": spec.name}}, "policyTypes": ["Ingress"],
            "ingress": ingress}, opts=k8s_opts)

        # Each track's target group on the stack's ALB, kept current by the controller through a
        # TargetGroupBinding; one listener rule splits `/<service>` (a gRPC server: every call of
        # the HTTPS listener) between them by weight.
        self.target_groups, self.listener_rule = {}, None
        attach = args.load_balancer
        if attach is not None:
            for track in weights:
                object_name = f"{spec.name}-{track}"
                # A target group's name is unique in the account and region; its port is in it, so a
                # replacement (a new port) gets a new name while the rule still points at the old one.
                self.target_groups[track] = aws.lb.TargetGroup(
                    f"{name}-{track}-tg", name=dns_name(attach.name_prefix, spec.name, track, str(run.port), max_len=32),
                    port=run.port, protocol="HTTP", protocol_version="GRPC" if is_grpc(spec) else None,
                    target_type="ip", vpc_id=attach.vpc_id, deregistration_delay=spec.termination_grace_period_seconds,
                    health_check=health_check(spec, run.ready_path), opts=self.child())
                k8s.apiextensions.CustomResource(
                    f"{name}-{track}-tgb", api_version="elbv2.k8s.aws/v1beta1", kind="TargetGroupBinding",
                    metadata=meta(object_name, track), spec={
                        "serviceRef": {"name": object_name, "port": SERVICE_PORT},
                        "targetGroupARN": self.target_groups[track].arn, "targetType": "ip"},
                    opts=self.child(provider=args.provider, depends_on=[self.services[track]]))
            route = args.path_prefix or f"/{spec.name}"
            paths = ["/*"] if is_grpc(spec) else [route, f"{route}/*"]
            conditions = [aws.lb.ListenerRuleConditionArgs(path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=paths))]
            if args.hostnames:
                conditions.append(aws.lb.ListenerRuleConditionArgs(
                    host_header=aws.lb.ListenerRuleConditionHostHeaderArgs(values=list(args.hostnames))))
            self.listener_rule = aws.lb.ListenerRule(
                f"{name}-rule", listener_arn=attach.listener_arn, priority=attach.priority, conditions=conditions,
                actions=[aws.lb.ListenerRuleActionArgs(type="forward", forward=aws.lb.ListenerRuleActionForwardArgs(
                    target_groups=[aws.lb.ListenerRuleActionForwardTargetGroupArgs(arn=self.target_groups[t].arn, weight=pct)
                                   for t, pct in weights.items()]))],
                opts=self.child())

        self.namespace = ns
        self.ksa_name = ksa_name
        self.service_names = {track: f"{spec.name}-{track}" for track in weights}
        self.role_arn = self.identity.role_arn
        self.target_group_suffixes = {t: tg.arn_suffix for t, tg in self.target_groups.items()}
        self.register_outputs({"namespace": ns, "service_names": self.service_names, "role_arn": self.role_arn,
                               "target_groups": self.target_group_suffixes})
