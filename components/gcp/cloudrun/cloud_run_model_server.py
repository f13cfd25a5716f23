"""A model server on Cloud Run (v2): one service, its own identity, optional L4 GPU, canary.

Two ways to ship a model (the "web single" pattern): model-in-image (`image` alone) or
model-loading (a serving `runtime` plus `model.uri` and `model.version`), where the version
directory of the artifact bucket is mounted read-only at `/models/<name>/<version>`.

Model versioning: every revision is named from its model version and a fingerprint of its
settings (`revisions.py`), so `rollout.canary` can split traffic by percent between the stable
revision and the canary, each with a tag of its own URL. A rollback is a config edit (`percent: 0`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.core.issues import Issue, raise_if_any
from components.core.naming import dns_name
from components.core.spec import Context, ensure_valid
from components.core.units import cpu_string
from components.gcp.cloudrun.cloud_run_load_balancer import CloudRunLoadBalancer, CloudRunLoadBalancerArgs
from components.gcp.cloudrun.cloud_run_service_spec import EGRESS, INGRESS, CloudRunServiceSpec
from components.gcp.cloudrun.response_cache import ResponseCache, response_cache
from components.gcp.cloudrun.revisions import template_revision, traffic_split
from components.gcp.iam.principals import member_slug
from components.gcp.iam.service_account import ServiceAccount, ServiceAccountArgs
from components.gcp.iam.secret_grants import read_secrets
from components.gcp.monitoring import request_logging_spec
from components.gcp.storage.bucket import Bucket
from components.serving import runtimes
from components.serving.cache_wiring import CacheConnection, cache_env, cache_outputs
from components.serving.model_serving_spec import ProbeSpec

TYPE = "mlinfra:gcp:CloudRunModelServer"


@dataclass(frozen=True, kw_only=True)
class CloudRunModelServerArgs:
    spec: CloudRunServiceSpec
    """The server as the stack file says it (`platform: cloudrun`)."""
    service_name: str
    """The Cloud Run service's name (at most 49 characters: tags add to it)."""
    region: str
    """Where the service runs."""
    project: str
    """The project it runs in."""
    network_id: Optional[pulumi.Input[str]]
    """The VPC its direct VPC egress uses; None: no VPC egress (only public endpoints)."""
    subnetwork_id: Optional[pulumi.Input[str]]
    """The subnet its direct VPC egress uses; None with network_id."""
    egress: str = "privateRangesOnly"
    """Which outbound traffic goes through the VPC: privateRangesOnly or allTraffic. Defaults to privateRangesOnly."""
    model_bucket: Optional[Bucket] = None
    """The artifact bucket the model is mounted from (model-loading). Defaults to none; required with a model."""
    deletion_protection: bool = False
    """Cloud Run deletion protection (prod). Defaults to false."""
    cache: Optional[CacheConnection] = None
    """The stack's cache, for a server with `cache: true` (reached through the VPC egress). Defaults to none."""


class CloudRunModelServer(Component):
    """Outputs: url, service_name, revision names and the tagged URLs (`stable`, `canary`)."""

    def __init__(self, name: str, args: CloudRunModelServerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        spec = args.spec
        ensure_valid(f"CloudRunModelServer {name}", spec, Context(project=args.project, region=args.region))

        self.account = ServiceAccount(f"{name}-sa", ServiceAccountArgs(
            display_name=f"mlinfra model server {spec.name}", project=args.project, existing=spec.service_account),
            opts=self.child())
        grants: list[pulumi.Resource] = []
        if spec.model is not None and not spec.model.is_hf:
            if args.model_bucket is None:
                raise_if_any(f"CloudRunModelServer {name}", [Issue(("model",), "needs the artifact bucket to mount",
                                                                    fix="pass model_bucket")])
            grants.append(args.model_bucket.grant_read(self.account))
        grants += read_secrets(self, name, project=args.project, member=self.account.member,
                               secret_ids=[s.secret for s in [*spec.secrets, *spec.model_secrets()]])

        if spec.cache and (args.cache is None or args.network_id is None):
            raise_if_any(f"CloudRunModelServer {name}", [Issue(("cache",), "needs the stack's cache and VPC egress to it",
                                                                fix="pass cache and network_id")])
        # Triton's response cache (its flags, and with TLS the CA mounted from a secret of its own).
        self.response_cache = response_cache(
            self, name, spec=spec, cache=args.cache, service_name=args.service_name, project=args.project,
            region=args.region, member=self.account.member) if spec.cache else ResponseCache()
        grants += self.response_cache.resources
        context = {"egress": args.egress, "model_bucket": args.model_bucket.global_name if args.model_bucket else None}
        if self.response_cache.args:  # it shapes the template; servers without it keep their names
            context["response_cache"] = {"tls": args.cache.tls}
        # An existing network's ids are written in the stack file (plain text): a change of them is a
        # new template, so it is a new name. The stack's own VPC's ids are known at deploy time only.
        if isinstance(args.network_id, str) and isinstance(args.subnetwork_id, (str, type(None))):
            context["vpc"] = {"network": args.network_id, "subnetwork": args.subnetwork_id}
        # The cache instance's values the template holds (its variables, Triton's flags) are known at
        # deploy time only: they join the fingerprint there, so a replaced instance or a rotated CA
        # makes new revisions. Names that follow deploy-time values take the VPC's ids too (a replaced
        # network or subnet is a new template as well); servers without a cache keep their names.
        outputs = cache_outputs(args.cache) | {"network": args.network_id, "subnetwork": args.subnetwork_id} \
            if spec.cache else None
        split = traffic_split(args.service_name, spec, context, outputs)
        # Checked on the plan-time names: those of the split's tracks differ exactly when the
        # deploy-time ones do (both tracks take the same cache values).
        revisions = [rev for rev, _, _ in traffic_split(args.service_name, spec, context)]
        if len(set(revisions)) < len(revisions):
            # A same-image canary of unchanged settings, or a tag on the stable or canary revision.
            raise_if_any(f"CloudRunModelServer {name}", [Issue(
                ("rollout",), "names one revision twice in the traffic split", ", ".join(revisions),
                fix="change the settings the canary runs, or tag another revision")])
        template_spec = spec.variant(canary=spec.rollout.canary is not None)
        self.service = gcp.cloudrunv2.Service(
            name,
            name=args.service_name,
            location=args.region,
            project=args.project,
            ingress=INGRESS[spec.resolved_ingress],
            deletion_protection=args.deletion_protection,
            # Read by the guardrails: allUsers may invoke only a service that says it is public.
            labels={"public": "true"} if spec.public else None,
            # Declared so the API's filled-in default does not show as a diff on every preview.
            scaling=gcp.cloudrunv2.ServiceScalingArgs(min_instance_count=0, max_instance_count=spec.max_replicas),
            template=self._template(template_spec, template_revision(split), args),
            traffics=[gcp.cloudrunv2.ServiceTrafficArgs(
                type="TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", revision=rev, percent=pct, tag=tag)
                for rev, pct, tag in split],
            opts=self.child(depends_on=grants),
        )

        # Named from the member, so removing one invoker leaves the others' bindings alone;
        # the alias adopts a binding 0.1 named by its place in the list.
        # Behind IAP, the invokers are the principals IAP admits and only IAP's agent invokes.
        iap = spec.load_balancer is not None and spec.load_balancer.iap
        members = (["allUsers"] if spec.public else []) + ([] if iap else list(spec.invokers))
        self.invoker_grants = [
            gcp.cloudrunv2.ServiceIamMember(
                f"{name}-invoker-{member_slug(member)}", project=args.project, location=args.region,
                name=self.service.name, role="roles/run.invoker", member=member,
                opts=self.child(aliases=[pulumi.Alias(name=f"{name}-invoker-{i}")]))
            for i, member in enumerate(members)
        ]

        self.load_balancer = None
        if spec.load_balancer is not None:
            self.load_balancer = CloudRunLoadBalancer(f"{name}-lb", CloudRunLoadBalancerArgs(
                spec=spec.load_balancer, service=self.service, project=args.project, region=args.region,
                iap_members=spec.invokers if iap else (), http2=spec.protocol == "grpc",
                prod=args.deletion_protection), opts=self.child())

        self.url = self.service.uri
        self.revisions = {tag: rev for rev, _, tag in split}
        self.tagged_urls = self.service.traffic_statuses.apply(
            lambda statuses: {s.tag: s.uri for s in (statuses or []) if s.tag})
        self.register_outputs({"url": self.url, "revisions": self.revisions, "tagged_urls": self.tagged_urls})

    def _template(self, spec: CloudRunServiceSpec, revision: str, args: CloudRunModelServerArgs):
        res, gpu = spec.resources, spec.resources.gpu
        model_name = spec.model_name
        run = spec.launch(gpu=gpu is not None)

        envs = [gcp.cloudrunv2.ServiceTemplateContainerEnvArgs(name=k, value=v) for k, v in sorted(spec.env.items())]
        volumes, mounts = [], []
        if spec.model is not None and not spec.model.is_hf:
            prefix = spec.model.prefix
            mount = runtimes.model_dir(model_name, spec.model.version)
            envs += [gcp.cloudrunv2.ServiceTemplateContainerEnvArgs(name=k, value=v) for k, v in (
                ("MODEL_NAME", model_name), ("MODEL_VERSION", spec.model.version), ("MODEL_DIR", mount))]
            volumes.append(gcp.cloudrunv2.ServiceTemplateVolumeArgs(
                name="model", gcs=gcp.cloudrunv2.ServiceTemplateVolumeGcsArgs(
                    bucket=args.model_bucket.bucket_name, read_only=True,
                    mount_options=[f"only-dir={'/'.join(p for p in (prefix, spec.model.version) if p)}",
                                   "implicit-dirs"])))
            mounts.append(gcp.cloudrunv2.ServiceTemplateContainerVolumeMountArgs(name="model", mount_path=mount))
        envs += [gcp.cloudrunv2.ServiceTemplateContainerEnvArgs(
            name=s.env, value_source=gcp.cloudrunv2.ServiceTemplateContainerEnvValueSourceArgs(
                secret_key_ref=gcp.cloudrunv2.ServiceTemplateContainerEnvValueSourceSecretKeyRefArgs(
                    secret=s.secret, version=s.version))) for s in [*spec.secrets, *spec.model_secrets()]]
        if spec.cache:
            envs += [gcp.cloudrunv2.ServiceTemplateContainerEnvArgs(name=e["name"], value=e["value"])
                     for e in cache_env(args.cache)] + self.response_cache.env
            volumes += self.response_cache.volumes
            mounts += self.response_cache.mounts
        if spec.logging:
            envs += [gcp.cloudrunv2.ServiceTemplateContainerEnvArgs(name=k, value=v) for k, v in
                     request_logging_spec.server_env(spec.logging, args.project, args.service_name,
                                                       spec.name).items()]

        limits = {"cpu": cpu_string(res.cpu), "memory": res.memory}
        if gpu is not None:
            limits["nvidia.com/gpu"] = str(gpu.count)
        always_on = res.cpu_always_allocated if res.cpu_always_allocated is not None else gpu is not None

        startup = spec.probes.startup
        startup_path = startup.path or run.ready_path
        startup_failures = startup.failure_threshold or (60 if gpu is not None else 30)
        # gRPC servers with grpc.health.v1 get gRPC probes (Cloud Run takes them for startup and
        # liveness); others a TCP startup check (Cloud Run has no TCP liveness probe).
        grpc_checks = spec.protocol == "grpc" and runtimes.grpc_health(spec.runtime)
        startup_probe = gcp.cloudrunv2.ServiceTemplateContainerStartupProbeArgs(
            initial_delay_seconds=startup.initial_delay_seconds, period_seconds=startup.period_seconds,
            timeout_seconds=startup.timeout_seconds, failure_threshold=startup_failures,
            http_get=gcp.cloudrunv2.ServiceTemplateContainerStartupProbeHttpGetArgs(path=startup_path, port=run.port)
            if startup_path else None,
            grpc=gcp.cloudrunv2.ServiceTemplateContainerStartupProbeGrpcArgs(port=run.port)
            if grpc_checks and not startup_path else None,
            tcp_socket=None if startup_path or grpc_checks
            else gcp.cloudrunv2.ServiceTemplateContainerStartupProbeTcpSocketArgs(port=run.port),
        )
        live = spec.probes.liveness
        live_path = (live.path if live else None) or run.live_path
        liveness_probe = None
        if grpc_checks and not live_path:
            live = live or ProbeSpec()
            liveness_probe = gcp.cloudrunv2.ServiceTemplateContainerLivenessProbeArgs(
                initial_delay_seconds=live.initial_delay_seconds, period_seconds=live.period_seconds,
                timeout_seconds=live.timeout_seconds, failure_threshold=live.failure_threshold or 3,
                grpc=gcp.cloudrunv2.ServiceTemplateContainerLivenessProbeGrpcArgs(port=run.port))
        elif live_path:
            live = live or ProbeSpec()
            liveness_probe = gcp.cloudrunv2.ServiceTemplateContainerLivenessProbeArgs(
                initial_delay_seconds=live.initial_delay_seconds, period_seconds=live.period_seconds,
                timeout_seconds=live.timeout_seconds, failure_threshold=live.failure_threshold or 3,
                http_get=gcp.cloudrunv2.ServiceTemplateContainerLivenessProbeHttpGetArgs(path=live_path, port=run.port))

        return gcp.cloudrunv2.ServiceTemplateArgs(
            revision=revision,
            labels={"model-version": dns_name(spec.version, max_len=63)},
            service_account=self.account.email,
            execution_environment="EXECUTION_ENVIRONMENT_GEN2",
            timeout=f"{spec.timeout_seconds}s",
            max_instance_request_concurrency=spec.scaling.concurrency,
            scaling=gcp.cloudrunv2.ServiceTemplateScalingArgs(
                min_instance_count=spec.scaling.min_replicas, max_instance_count=spec.max_replicas),
            node_selector=gcp.cloudrunv2.ServiceTemplateNodeSelectorArgs(accelerator=gpu.type) if gpu else None,
            gpu_zonal_redundancy_disabled=(not gpu.zonal_redundancy) if gpu else None,
            vpc_access=gcp.cloudrunv2.ServiceTemplateVpcAccessArgs(
                egress=EGRESS[args.egress],
                network_interfaces=[gcp.cloudrunv2.ServiceTemplateVpcAccessNetworkInterfaceArgs(
                    network=args.network_id, subnetwork=args.subnetwork_id)]) if args.network_id is not None else None,
            volumes=volumes or None,
            containers=[gcp.cloudrunv2.ServiceTemplateContainerArgs(
                name="server",
                image=run.image,
                commands=run.command or None,
                args=(list(run.args) + self.response_cache.args) or None,
                # h2c: Cloud Run speaks HTTP/2 cleartext to the container (gRPC needs HTTP/2 end to end).
                ports=gcp.cloudrunv2.ServiceTemplateContainerPortsArgs(
                    container_port=run.port, name="h2c" if spec.protocol == "grpc" else "http1"),
                envs=envs or None,
                resources=gcp.cloudrunv2.ServiceTemplateContainerResourcesArgs(
                    limits=limits, cpu_idle=not always_on, startup_cpu_boost=spec.scaling.startup_cpu_boost),
                startup_probe=startup_probe,
                liveness_probe=liveness_probe,
                volume_mounts=mounts or None,
            )],
        )
