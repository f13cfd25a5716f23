"""What every pattern builds first and last: the stack's labels on every child, the project
APIs, the network, the data lake and artifact buckets, the image repository, and the triggers.
Each pattern's component (serverless, kubernetes, ...) adds its workloads in between; services
and jobs are built through the platform registry (`serve`, `run_jobs`), so no pattern names a platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import pulumi

from components.core.component import Component
from components.core.labels import labels_transformation
from components.core.naming import dns_name
from components.gcp.artifactregistry.artifact_registry import ArtifactRegistry, ArtifactRegistryArgs
from components.gcp.cloudrun.load_balancer_spec import apis as load_balancer_apis
from components.gcp.functions.cloud_function_spec import CloudFunctionSpec
from components.gcp.functions.trigger_set import APIS as TRIGGER_APIS
from components.gcp.functions.trigger_set import TriggerSet, TriggerSetArgs
from components.gcp.workflows.run_spec import APIS as CHAIN_APIS
from components.gcp.network.network import Network, NetworkArgs
from components.gcp.network.network_spec import NetworkSpec
from components.gcp.projects.project_services import ProjectServices, ProjectServicesArgs
from components.gcp.storage.storage import Storage, StorageArgs
from components.gcp.storage.storage_spec import StorageSpec
from components.gcp.gke.gke_service_spec import objectives_refusal
from components.gcp.monitoring.alerts_spec import AlertsSpec
from components.gcp.monitoring import auto_rollback_spec as rollback
from components.serving.slo_spec import SloSpec
from components.gcp.memorystore.cache_spec import CacheSpec
from infra.patterns.cache import build_cache, cache_apis, network_engines
from infra.patterns.cache import export as export_cache
from components.gcp.featurestore.feature_store_spec import FeatureStoreSpec
from infra.patterns import features
from components.gcp.monitoring.request_logging_spec import logging_apis
from infra.platforms.registry import PLATFORMS


@dataclass(frozen=True, kw_only=True)
class PatternArgs:
    project: str
    region: str
    stack: str
    environment: str
    labels: Mapping[str, str]
    """Applied to every labelled resource below the platform."""
    network: NetworkSpec = field(default_factory=NetworkSpec)
    storage: StorageSpec = field(default_factory=StorageSpec)
    triggers: Sequence[CloudFunctionSpec] = ()
    """Event-driven functions. Defaults to none."""
    services: Sequence[Any] = ()
    """Model servers, each on its `platform`. Defaults to none."""
    alerts: AlertsSpec = field(default_factory=AlertsSpec)
    """Where the services' alerts go. Defaults to nowhere (the stack-file pass requires it in prod)."""
    source_root: Path = Path(".")
    """The directory trigger sources are relative to (the project root). Defaults to the working directory."""
    cache: Optional[CacheSpec] = None
    """The prediction cache and pre-compute store. Defaults to none."""
    feature_store: Optional[FeatureStoreSpec] = None
    """Feast's offline store, registry, online store and materialization. Defaults to none."""

    @property
    def prod(self) -> bool:
        return self.environment == "prod"


class PatternComponent(Component):
    """A pattern's top component. Children built here: apis, network, storage, images; call
    `serve()` for the services, `build_triggers()` after the workloads, and merge
    `common_outputs()` into the outputs.

    Labels are applied with the `transformations` option, not the newer `transforms`: a
    transformation runs in this process, so `pulumi up` and the offline plan label alike;
    `transforms` run through the engine's callback server, which Pulumi's mock monitor does not
    call, so the offline plan would show resources without the labels `pulumi up` sets.
    """

    def __init__(self, type_: str, name: str, args: PatternArgs, apis: Sequence[str],
                 opts: Optional[pulumi.ResourceOptions] = None, proxy_only_subnet: bool = False):
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            transformations=[labels_transformation(args.labels)]))
        super().__init__(type_, name, opts)
        self.args = args
        # Services whose canary the fast-burn alert rolls back (`rollout.autoRollback`), with the
        # repository and token of their proposeRollout triggers: the stack's rollback function serves them.
        self.rollback_targets = rollback.targets(args.services, args.triggers)
        self.auto_rollback: Any = None
        watched = (args.services and (args.prod or any(s.slo for s in args.services))) or args.alerts.dashboard
        self.apis = ProjectServices(f"{name}-apis", ProjectServicesArgs(
            apis=tuple(apis) + (TRIGGER_APIS if args.triggers or self.rollback_targets else ()) + (("monitoring.googleapis.com",) if watched else ())
            + (CHAIN_APIS if any(t.run for t in args.triggers) else ()) + cache_apis(args.cache)
            + features.apis(args.feature_store) + logging_apis(args.services)
            + load_balancer_apis([getattr(s, "load_balancer", None) for s in args.services])
            # Secrets by reference (Cloud Run, functions, GKE's Secret Manager add-on) read Secret Manager.
            + (("secretmanager.googleapis.com",) if any(getattr(w, "secrets", None) for w in [
                *args.services, *getattr(args, "jobs", ()), *args.triggers]) or self.rollback_targets else ()),
            project=args.project), opts=self.child())
        self.after_apis = self.child(depends_on=self.apis.resources)
        # `egress: none`: no VPC at all (serverless stacks whose services need no private egress).
        self.network: Optional[Network] = None if args.network.egress == "none" else Network(
            f"{name}-network", NetworkArgs(spec=args.network, region=args.region, flow_logs=args.prod,
                                           proxy_only_subnet=proxy_only_subnet, project=args.project,
                                           memorystore=network_engines(args.cache)
                                           + features.network_engines(args.feature_store)),
            opts=self.after_apis)
        self.storage = Storage(f"{name}-storage", StorageArgs(
            spec=args.storage, project=args.project, stack=args.stack, region=args.region, protect=args.prod),
            opts=self.after_apis)
        self.images = ArtifactRegistry(f"{name}-images", ArtifactRegistryArgs(
            repository_id=dns_name("mlinfra", args.stack), location=args.region,
            immutable_tags=args.prod, protect=args.prod), opts=self.after_apis)
        self.cache = build_cache(self)
        self.feature_store = features.build(self, args.feature_store)
        self.triggers: Optional[TriggerSet] = None
        self.chains: dict[str, Any] = {}
        self.services: dict[str, Any] = {}
        self.request_logs: dict[str, Any] = {}
        """By service name: (RequestLog, DriftWatch or None), for services with `logging`."""
        self._channels: Optional[list] = None
        self._existing_buckets: dict[str, Any] = {}

    def serve(self) -> dict[str, Any]:
        """Build every service through its platform's builder (infra/platforms/), then its
        objectives and alerts (a prod service without an `slo` gets availability 99.5 %, but a gRPC
        server on GKE whose runtime exports no request counters)."""
        args = self.args
        self.services = {spec.name: PLATFORMS[spec.platform].build()(self, spec) for spec in args.services}
        # No default objectives where none can be measured (a gRPC server on GKE but Triton: its
        # route has no path rule for the Gateway's metrics; its `slo` is refused, GkeServiceSpec).
        watched = [(spec, spec.slo or (SloSpec() if args.prod and objectives_refusal(spec) is None else None))
                   for spec in args.services]
        watched = [(spec, slo) for spec, slo in watched if slo is not None]
        self.objectives: dict[str, Any] = {}
        if self.rollback_targets:
            from components.gcp.monitoring.auto_rollback import AutoRollback, AutoRollbackArgs

            self.auto_rollback = AutoRollback(f"{self.name}-rollback", AutoRollbackArgs(
                topic_name=rollback.topic_name(args.stack), project=args.project, stack=args.stack),
                opts=self.after_apis)
        if watched:
            channels = self.alert_channels()
            self.objectives = {spec.name: PLATFORMS[spec.platform].monitoring()(
                self, spec, self.services[spec.name], slo, channels) for spec, slo in watched}
        # GPU servers' idle and memory alerts (prod always, dev with `gpuAlerts`).
        gpus = {spec.name: PLATFORMS[spec.platform].gpu_monitoring()(self, spec, self.services[spec.name])
                for spec in args.services if PLATFORMS[spec.platform].gpu_monitor}
        self.gpu_alerts: dict[str, Any] = {n: a for n, a in gpus.items() if a is not None}
        return self.services

    def build_dashboard(self) -> None:
        """The stack's dashboard (`mlinfra:alerts.dashboard`, on by default in prod): every
        service's charts through its platform, streaming pipelines' lag and watermark age, chains'
        failed runs. Call it after the workloads and triggers."""
        args = self.args
        self.dashboard = None
        if not (args.alerts.dashboard if args.alerts.dashboard is not None else args.prod):
            return
        from components.gcp.monitoring.dashboard_layout import chain_charts, dataflow_charts
        from components.gcp.monitoring.stack_dashboard import StackDashboard, StackDashboardArgs

        pipelines = getattr(self, "pipelines", {})
        streaming = [(p.name, pipelines[p.name].job_name) for p in getattr(args, "pipelines", ())
                     if p.mode == "streaming"]
        chains = [(n, c.workflow_name) for n, c in self.chains.items()]

        def charts(cluster):
            return ([c for spec in args.services if PLATFORMS[spec.platform].charts
                     for c in PLATFORMS[spec.platform].dashboard_charts()(self, spec, cluster)]
                    + [c for p, job in streaming for c in dataflow_charts(p, job)]
                    + [c for t, w in chains for c in chain_charts(t, w)])

        cluster = getattr(self, "cluster", None)
        self.dashboard = StackDashboard(f"{self.name}-dashboard", StackDashboardArgs(
            stack=args.stack, project=args.project, charts=charts,
            cluster_name=cluster.cluster_name if cluster is not None else None), opts=self.after_apis)

    def run_jobs(self, jobs: Sequence[Any]) -> dict[str, Any]:
        """Build the jobs through each one's platform (infra/platforms/registry.py `job_builder`),
        all of a platform's at once (GKE's share one namespace); sets and returns `self.jobs`."""
        self.jobs: dict[str, Any] = {}
        for platform in dict.fromkeys(job.platform for job in jobs):
            self.jobs.update(PLATFORMS[platform].build_jobs()(self, [j for j in jobs if j.platform == platform]))
        return self.jobs

    def model_bucket(self, spec: Any) -> Any:
        """Where a service's model is read from: the artifact bucket, another bucket the stack
        does not own (`model.external`, one component per bucket for every service reading it),
        or none (a Hugging Face model, or no model)."""
        model = getattr(spec, "model", None)
        if model is None or model.is_hf:
            return None
        if not model.external:
            return self.storage.artifacts
        return self.existing_bucket(model.bucket)

    def existing_bucket(self, bucket: str) -> Any:
        """A bucket the stack does not own, by its full name: one component per bucket, whatever
        reads it (services' models, triggers' events)."""
        if bucket not in self._existing_buckets:
            from components.gcp.storage.existing_bucket import ExistingBucket

            self._existing_buckets[bucket] = ExistingBucket(f"{self.name}-bucket-{bucket}", bucket, opts=self.child())
        return self._existing_buckets[bucket]

    def alert_channels(self) -> list:
        """The names of the channels every alert of the stack notifies (`mlinfra:alerts`), made once."""
        if self._channels is None:
            # Only stacks with alerts import the monitoring provider module.
            from components.gcp.monitoring.notification_channels import NotificationChannels, NotificationChannelsArgs

            self._channels = NotificationChannels(f"{self.name}-alerts", NotificationChannelsArgs(
                spec=self.args.alerts, project=self.args.project), opts=self.after_apis).names
        return self._channels

    def rollback_alerting(self, spec: Any) -> dict[str, Any]:
        """What a service's objectives add for `rollout.autoRollback` while its canary takes traffic:
        the rollback channel on the fast-burn alerts, and the labels the rollback function acts on."""
        if self.auto_rollback is None or not rollback.canary_running(spec) or \
                spec.name not in {t.service for t in self.rollback_targets}:
            return {}
        return {"fast_burn_channels": [self.auto_rollback.channel.name],
                "fast_burn_labels": rollback.policy_labels(spec.name)}

    def build_triggers(self) -> Optional[TriggerSet]:
        args = self.args
        triggers, topics = list(args.triggers), dict(getattr(self, "topics", {}))
        if self.auto_rollback is not None:  # the rollback function listens on the rollback topic
            triggers.append(rollback.function_spec(self.rollback_targets, args.stack))
            topics[rollback.topic_name(args.stack)] = self.auto_rollback.topic
        if triggers:
            self.triggers = TriggerSet(f"{self.name}-fn", TriggerSetArgs(
                triggers=triggers, project=args.project, region=args.region, stack=args.stack,
                source_root=args.source_root, network_id=self.network.network_id if self.network else None,
                subnetwork_id=self.network.subnetwork_id if self.network else None, buckets=self.storage.buckets,
                egress=args.network.egress, topics=topics), opts=self.after_apis)
            if any(t.run for t in args.triggers):
                from infra.patterns.event_chains import build_chains

                self.chains = build_chains(self, self.triggers.topics)
        return self.triggers

    def common_outputs(self) -> dict[str, Any]:
        return {
            "trigger_urls": self.triggers.urls if self.triggers else {},
            **({"workflows": {n: c.workflow.name for n, c in self.chains.items()}} if self.chains else {}),
            "buckets": {role: b.bucket_name for role, b in self.storage.buckets.items()},
            "image_repository": self.images.url,
            "network": self.network.network_name if self.network else None,
            **export_cache(self),
            **features.export(self.feature_store),
            **self._load_balancer_outputs(),
            **({"request_logs": {n: {"topic": log.topic_path, "table": log.table_ref,
                                     **({"drift_job": drift.job_name} if drift else {})}
                                 for n, (log, drift) in self.request_logs.items()}} if self.request_logs else {}),
        }

    def _load_balancer_outputs(self) -> dict[str, Any]:
        """`service_load_balancers`: per Cloud Run service behind a load balancer, its hostname, the
        address its A record points at, the certificate's DNS authorization record and IAP."""
        lbs = {n: s.load_balancer for n, s in self.services.items() if getattr(s, "load_balancer", None) is not None}
        return {"service_load_balancers": {n: {
            "hostname": lb.hostname, "address": lb.address, "dns_authorization_record": lb.dns_authorization_record,
            "iap": lb.iap} for n, lb in lbs.items()}} if lbs else {}
