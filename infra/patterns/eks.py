"""The kubernetes pattern on AWS: a private EKS cluster with CPU, GPU and spot managed node
groups, model servers behind an internal ALB (canary by weighted target groups), training and
batch jobs, beside an S3 data lake, a versioned S3 model-artifact bucket and an ECR repository.

It builds what `PatternComponent` builds on Google Cloud (labels as tags on every child, the
network, the storage, the image repository) without importing any Google Cloud component."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.aws.ecr.ecr_repository import EcrRepository, EcrRepositoryArgs
from components.aws.eks.eks_cluster import EksCluster, EksClusterArgs
from components.aws.eks.eks_cluster_spec import EksClusterSpec
from components.aws.eks.eks_job import EksJob, EksJobArgs
from components.aws.eks.eks_job_spec import EksJobSpec
from components.aws.monitoring.alert_topic_spec import AwsAlertsSpec
from components.aws.network.vpc import Vpc, VpcArgs
from components.aws.network.vpc_spec import VpcSpec
from components.aws.storage.s3_storage import S3Storage, S3StorageArgs
from components.aws.storage.s3_storage_spec import S3StorageSpec, bucket_names
from components.core.component import Component
from components.core.labels import labels_transformation
from components.core.naming import dns_name
from components.serving.gpu_alerts_spec import GpuAlertsSpec
from components.serving.slo_spec import SloSpec
from infra.patterns import eks_request_logging as request_logging
from infra.platforms.registry import PLATFORMS

TYPE = "mlinfra:pattern:EksKubernetes"
JOBS_NAMESPACE = "mlinfra-jobs"


@dataclass(frozen=True, kw_only=True)
class EksKubernetesArgs:
    region: str
    stack: str
    environment: str
    labels: Mapping[str, str]
    """Applied as tags to every tagged resource below the pattern."""
    cluster: EksClusterSpec
    """The EKS cluster and its node groups."""
    network: VpcSpec = field(default_factory=VpcSpec)
    """The VPC. Defaults to 10.0.0.0/16 over the region's zones a, b and c."""
    storage: S3StorageSpec = field(default_factory=S3StorageSpec)
    """The data lake and artifact buckets. Defaults to derived names."""
    services: Sequence[Any] = ()
    """Model servers (`platform: eks`). Defaults to none."""
    jobs: Sequence[EksJobSpec] = ()
    """Batch jobs on the cluster. Defaults to none."""
    alerts: AwsAlertsSpec = field(default_factory=AwsAlertsSpec)
    """Who the services' alarms notify. Defaults to nobody (the stack-file pass requires someone in prod)."""

    @property
    def prod(self) -> bool:
        return self.environment == "prod"


class EksKubernetes(Component):
    """Outputs: cluster, kubernetes_version, services (each's path, or a gRPC server's port 443), jobs,
    buckets, image_repository, network, and with services load_balancer (the ALB's DNS name),
    with objectives alerts_topic and with a dashboard dashboard (its console URL)."""

    Args = EksKubernetesArgs

    def __init__(self, name: str, args: EksKubernetesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            transformations=[labels_transformation(args.labels)]))
        super().__init__(TYPE, name, opts)
        self.args = args
        cluster_name = dns_name("mlinfra", args.stack, max_len=100)
        self.gpu_metrics = args.alerts.gpu_metrics_on(
            prod=args.prod, gpu_pools=any(p.gpu is not None for p in args.cluster.node_pools),
            alerted=any(getattr(s, "gpu_alerts", None) is not None for s in args.services))
        self.network = Vpc(f"{name}-vpc", VpcArgs(spec=args.network, region=args.region, cluster_name=cluster_name,
                                                  karpenter_discovery=args.cluster.autoscaler == "karpenter"),
                           opts=self.child())
        self.bucket_names = bucket_names(args.storage, args.stack, args.region)
        self.storage = S3Storage(f"{name}-storage", S3StorageArgs(
            spec=args.storage, stack=args.stack, region=args.region, protect=args.prod,
            lake_expirations=request_logging.lake_expirations(args.services)), opts=self.child())
        self.images = EcrRepository(f"{name}-images", EcrRepositoryArgs(
            repository_name=dns_name("mlinfra", args.stack), immutable_tags=args.prod, protect=args.prod),
            opts=self.child())
        self.cluster = EksCluster(f"{name}-eks", EksClusterArgs(
            spec=args.cluster, cluster_name=cluster_name, region=args.region, environment=args.environment,
            subnet_ids=self.network.private_subnet_ids, tags=args.labels, gpu_metrics=self.gpu_metrics),
            opts=self.child())
        provider = self.cluster.provider
        self.on_cluster = self.child(provider=provider)
        self.account = self.cluster.cluster.arn.apply(lambda arn: arn.split(":")[4])
        self.alarm_prefix = dns_name("mlinfra", args.stack, max_len=60)
        self.request_logs: dict = {}  # the logging servers' Firehose streams, built with each server

        # The model servers' Ingresses need the controller that makes them the internal ALB.
        self.load_balancer_controller = None
        if args.services:
            from components.aws.eks.aws_load_balancer_controller import (AwsLoadBalancerController,
                                                                         AwsLoadBalancerControllerArgs)

            self.load_balancer_controller = AwsLoadBalancerController(
                f"{name}-lb-controller", AwsLoadBalancerControllerArgs(
                    cluster_name=self.cluster.cluster_name, region=args.region, vpc_id=self.network.vpc_id,
                    provider=provider), opts=self.child(provider=provider))
            self.on_cluster = self.child(provider=provider, depends_on=[self.load_balancer_controller])
        self.load_balancer = None
        if args.services:
            from components.aws.eks.serving_load_balancer import ServingLoadBalancer, ServingLoadBalancerArgs

            self.load_balancer = ServingLoadBalancer(f"{name}-alb", ServingLoadBalancerArgs(
                load_balancer_name=dns_name("mlinfra", args.stack, max_len=32), vpc_id=self.network.vpc_id,
                vpc_cidr=args.network.cidr, subnet_ids=self.network.private_subnet_ids,
                cluster_security_group_id=self.cluster.cluster.vpc_config.cluster_security_group_id,
                target_ports=[s.launch(gpu=s.resources.gpu is not None).port for s in args.services],
                # One gRPC server per ALB (couplings.grpc_through_gateway): its certificate is the HTTPS listener's.
                certificate_arn=next((s.certificate_arn for s in args.services if s.protocol == "grpc"), None),
                prod=args.prod),
                opts=self.child())
        self.server_metrics = None
        scaled = [s for s in args.services if s.scaling.metric != "cpu"]
        if scaled:  # their HPAs follow the servers' own gauges, through prometheus-adapter
            from components.aws.eks.server_metrics import ScrapedServer, ServerMetrics, ServerMetricsArgs
            from components.kubernetes.serving import SERVER_METRICS, metrics_port_of
            from infra.platforms.eks import namespace

            self.server_metrics = ServerMetrics(f"{name}-metrics", ServerMetricsArgs(servers=[ScrapedServer(
                namespace=namespace(s), port=metrics_port_of(s),
                gauge=s.scaling.prometheus_metric or SERVER_METRICS[(s.runtime or "custom", s.scaling.metric)])
                for s in scaled], provider=provider, vpc_cidr=args.network.cidr), opts=self.on_cluster)
        self.services = {spec.name: PLATFORMS[spec.platform].build()(self, spec) for spec in args.services}
        self.objectives = self._monitor_services()

        self.jobs, self.drift_watches = {}, {}
        drifting = any(s.logging.drift is not None for s in request_logging.logged(args.services))
        if args.jobs or drifting:
            jobs_ns = k8s.core.v1.Namespace(f"{name}-jobs-ns", metadata={"name": JOBS_NAMESPACE, "labels": {
                "pod-security.kubernetes.io/enforce": "restricted"}}, opts=self.on_cluster)
            k8s.networking.v1.NetworkPolicy(f"{name}-jobs-deny-ingress", metadata={
                "name": "deny-ingress", "namespace": JOBS_NAMESPACE}, spec={"podSelector": {}, "policyTypes": ["Ingress"]},
                opts=self.child(provider=provider, depends_on=[jobs_ns]))
            self.jobs = {spec.name: EksJob(f"{name}-job-{spec.name}", EksJobArgs(
                spec=spec, namespace=JOBS_NAMESPACE, provider=provider, cluster_name=self.cluster.cluster_name,
                nodes=self.cluster.nodes,
                region=args.region, kms_key_arn=self.storage.kms_key_arn, read_buckets=[self.storage.data_lake],
                write_buckets=[self.storage.artifacts]), opts=self.child(provider=provider, depends_on=[jobs_ns]))
                for spec in args.jobs}
            self.drift_watches = request_logging.build_drift_watches(self, JOBS_NAMESPACE, [jobs_ns])
        self.dashboard = self._build_dashboard()

        self.outputs = {
            **({"load_balancer": self.load_balancer.dns_name} if self.load_balancer else {}),
            **({"alerts_topic": self.alert_topic.arn} if self.alert_topic else {}),
            **({"dashboard": self.dashboard.url} if self.dashboard else {}),
            **({"request_logs": request_logging.outputs(self)} if self.request_logs else {}),
            "cluster": self.cluster.cluster_name,
            "kubernetes_version": self.cluster.kubernetes_minor,
            # A gRPC server takes every call of the HTTPS listener; the others answer under /<service>/.
            "services": {n: {"namespace": s.namespace, **({"port": 443} if spec.protocol == "grpc" else {"path": f"/{n}/"}),
                             "tracks": s.service_names}
                         for spec, (n, s) in zip(args.services, self.services.items())},
            "jobs": sorted(self.jobs),
            "buckets": {role: b.bucket_name for role, b in self.storage.buckets.items()},
            "image_repository": self.images.url,
            "network": self.network.vpc_id,
        }
        self.register_outputs(self.outputs)

    def _monitor_services(self) -> dict:
        """Each service's objectives as burn-rate alarms (a prod service without an `slo` gets
        availability 99.5 %, a gRPC server none) and, with the CloudWatch Observability add-on, a GPU
        server's GPU alarms (`gpuAlerts`; in prod at their defaults), notifying the stack's alert topic
        and the topics `alerts` names."""
        args = self.args
        self.alert_topic = None
        # A gRPC server has no objectives (its slo is refused): the ALB counts HTTP codes, gRPC errors ride on 200.
        watched = [(spec, spec.slo or (SloSpec() if args.prod and spec.protocol != "grpc" else None))
                   for spec in args.services]
        watched = [(spec, slo) for spec, slo in watched if slo is not None]
        self.gpu_alarms = {}
        gpus = [(spec, spec.gpu_alerts or (GpuAlertsSpec() if args.prod else None)) for spec in args.services
                if self.gpu_metrics and spec.resources.gpu is not None]
        gpus = [(spec, alerts) for spec, alerts in gpus if alerts is not None]
        if not watched and not gpus and not request_logging.drift_alerted(args.services, args.prod):
            return {}
        from components.aws.monitoring.alert_topic import AlertTopic, AlertTopicArgs

        self.alert_topic = AlertTopic(f"{self.name}-alerts", AlertTopicArgs(
            spec=args.alerts, topic_name=self.alarm_prefix, region=args.region, account=self.account, protect=args.prod),
            opts=self.child())
        if gpus:  # the servers' GPUs, from the CloudWatch Observability add-on's Container Insights metrics
            from components.aws.monitoring.gpu_alarms import GpuAlarms, GpuAlarmsArgs
            from infra.platforms.eks import namespace

            self.gpu_alarms = {spec.name: GpuAlarms(f"{self.name}-gpu-{spec.name}", GpuAlarmsArgs(
                service=spec.name, namespace=namespace(spec), cluster_name=self.cluster.cluster_name,
                alarm_prefix=self.alarm_prefix, spec=alerts, runtime=spec.runtime, topics=self.alert_topic.arns),
                opts=self.child()) for spec, alerts in gpus}
        return {spec.name: PLATFORMS[spec.platform].monitoring()(self, spec, self.services[spec.name], slo,
                                                                 self.alert_topic.arns) for spec, slo in watched}

    def _build_dashboard(self):
        """The stack's CloudWatch dashboard (`mlinfra:alerts.dashboard`, on by default in prod):
        every server's target groups on the ALB and its objectives' alarms. None without servers."""
        args = self.args
        if not args.services or not (args.alerts.dashboard if args.alerts.dashboard is not None else args.prod):
            return None
        from components.aws.monitoring.stack_dashboard import DashboardServer, StackDashboard, StackDashboardArgs
        from infra.platforms.eks import namespace

        return StackDashboard(f"{self.name}-dashboard", StackDashboardArgs(
            stack=args.stack, dashboard_name=self.alarm_prefix, region=args.region,
            load_balancer=self.load_balancer.arn_suffix,
            servers=[DashboardServer(
                service=n, target_groups=s.target_group_suffixes,
                alarms=[*(self.objectives[n].alarm_arns if n in self.objectives else ()),
                        *(self.gpu_alarms[n].alarm_arns if n in self.gpu_alarms else ())],
                gpu_namespace=namespace(spec) if self.gpu_metrics and spec.resources.gpu is not None else None)
                for spec, (n, s) in zip(args.services, self.services.items())],
            cluster_name=self.cluster.cluster_name,
            gpu_pools=[] if self.gpu_metrics else [p.name for p in args.cluster.node_pools if p.gpu is not None]),
            opts=self.child())
