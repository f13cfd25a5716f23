"""A model server on Cloud Run (v2): one service, its own identity, optional L4 GPU, canary.

Two ways to ship a model (the "web single" pattern): model-in-image (`image` alone) or
model-loading (a serving `runtime` plus `model.uri` and `model.version`), where the version
directory of the artifact bucket is mounted read-only at `/models/<name>/<version>`.

Model versioning: every revision is named from its model version and a fingerprint of its
settings, so `rollout.canary` can split traffic by percent between the stable revision and
the canary, each with a tag of its own URL. A rollback is a config edit (`percent: 0`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal, Optional

import pulumi
import pulumi_gcp as gcp
from pydantic import Field

from components import model_runtimes
from components.model_runtimes import ModelServingSpec, ModelSpec
from components.base import Component
from components.bucket import Bucket
from components.naming import DNS_LABEL, dns_name, image_tag, revision_suffix
from components.service_account import ServiceAccount, ServiceAccountArgs, iam_member_issues
from components.units import cpu_string, memory_mib
from components.validation import Issue, Spec, first_per_key, one_of, raise_if_any

# Cloud Run GPU rules and regions, from cloud.google.com/run/docs/configuring/services/gpu
# (asia-south1 is by invitation). Update this table when Google adds regions.
GPU_TYPES = ("nvidia-l4",)
GPU_REGIONS = ("us-central1", "us-east4", "europe-west1", "europe-west4", "asia-southeast1", "asia-south1")
GPU_MIN_CPU = 4
GPU_MIN_MEMORY_MIB = 16 * 1024
CPU_VALUES = (1, 2, 4, 6, 8)
MEMORY_MIN_MIB, MEMORY_MAX_MIB = 512, 32 * 1024
# Memory above each threshold (GiB) needs at least this many CPUs.
MEMORY_CPU_STEPS = ((24, 8), (16, 6), (8, 4), (4, 2))
INGRESS = {
    "all": "INGRESS_TRAFFIC_ALL",
    "internal": "INGRESS_TRAFFIC_INTERNAL_ONLY",
    "internalAndLoadBalancer": "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
}
EGRESS = {"privateRangesOnly": "PRIVATE_RANGES_ONLY", "allTraffic": "ALL_TRAFFIC"}


class GpuSpec(Spec):
    type: Literal["nvidia-l4"] = "nvidia-l4"
    """GPU model. Cloud Run offers nvidia-l4."""
    count: Literal[1] = 1
    """GPUs per instance. Cloud Run allows exactly 1."""
    zonal_redundancy: bool = True
    """Keep capacity to fail over across zones (costs more). Defaults to true."""
    quota: int = Field(3, ge=1, le=1000)
    """Your project's Cloud Run GPU quota in the region, in instances; Cloud Run rejects a
    maxReplicas above it. Defaults to 3; raise it after Google grants more."""


class ResourcesSpec(Spec):
    cpu: float = 1
    """vCPUs per instance: 1, 2, 4, 6 or 8. Defaults to 1 (4 with a GPU is the minimum)."""
    memory: str = "512Mi"
    """Memory per instance, 512Mi to 32Gi. Defaults to 512Mi."""
    gpu: Optional[GpuSpec] = None
    """An NVIDIA L4 GPU per instance. Defaults to none."""
    cpu_always_allocated: Optional[bool] = None
    """Keep CPU allocated between requests (instance-based billing). Defaults to true with a GPU, else false."""


class ScalingSpec(Spec):
    min_replicas: int = Field(0, ge=0, le=1000)
    """Instances kept warm (0 scales to zero). Defaults to 0."""
    max_replicas: int = Field(10, ge=1, le=1000)
    """Upper bound on instances (a cost control). Defaults to 10."""
    concurrency: int = Field(80, ge=1, le=1000)
    """Concurrent requests per instance before another starts. Defaults to 80."""
    startup_cpu_boost: bool = True
    """Extra CPU while an instance starts (faster model load). Defaults to true."""


class ProbeSpec(Spec):
    path: Optional[str] = None
    """HTTP path to probe. Defaults to the runtime's health endpoint, or a TCP check."""
    initial_delay_seconds: int = Field(0, ge=0, le=240)
    """Seconds before the first probe. Defaults to 0."""
    period_seconds: int = Field(10, ge=1, le=240)
    """Seconds between probes. Defaults to 10."""
    timeout_seconds: int = Field(5, ge=1, le=240)
    """Seconds a probe may take; at most periodSeconds. Defaults to 5."""
    failure_threshold: Optional[int] = Field(None, ge=1, le=1000)
    """Failures before giving up. Defaults to 30 (startup, 60 with a GPU) or 3 (liveness)."""


class ProbesSpec(Spec):
    startup: ProbeSpec = ProbeSpec()
    """Gates traffic until the model is loaded."""
    liveness: Optional[ProbeSpec] = None
    """Restarts a stuck instance. Defaults to the runtime's liveness endpoint when it has one."""


class CanarySpec(Spec):
    percent: int = Field(ge=0, le=100)
    """Share of traffic for the canary, 0 to 100 (0 rolls back, keeping the tagged URL)."""
    version: Optional[str] = Field(None, pattern=r"^[A-Za-z0-9._-]{1,40}$")
    """The new model version (model-loading)."""
    image: Optional[str] = None
    """The new image (model-in-image)."""


class RolloutSpec(Spec):
    canary: Optional[CanarySpec] = None
    """Run a new model version beside the stable one with a share of traffic."""
    stable_revision: Optional[str] = Field(None, pattern=DNS_LABEL, max_length=63)
    """Pin the stable side of a canary to this revision. Defaults to the revision the stable
    settings produce (the one deployed before the canary was added); see `service_revisions`."""


class SecretRef(Spec):
    env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Environment variable that receives the secret."""
    secret: str = Field(pattern=r"^[A-Za-z0-9_-]{1,255}$")
    """Secret Manager secret ID in the stack's project (created outside the stack)."""
    version: str = "latest"
    """Secret version. Defaults to latest."""


class CloudRunServiceSpec(ModelServingSpec):
    """One model server on Cloud Run."""

    platform: Literal["cloudrun"] = "cloudrun"
    """Where it runs: cloudrun (the serverless pattern's default)."""
    env: dict[str, str] = {}
    """Plain environment variables."""
    secrets: list[SecretRef] = []
    """Environment variables from Secret Manager, by reference; the service's account may read only these."""
    resources: ResourcesSpec = ResourcesSpec()
    """CPU, memory and GPU per instance."""
    scaling: ScalingSpec = ScalingSpec()
    """Instances and concurrency: the cost controls."""
    probes: ProbesSpec = ProbesSpec()
    """Startup and liveness checks. Default to the runtime's health endpoints."""
    timeout_seconds: int = Field(300, ge=1, le=3600)
    """Request timeout. Defaults to 300."""
    public: bool = False
    """Allow unauthenticated calls (allUsers). Defaults to false: only `invokers` may call."""
    invokers: list[str] = []
    """IAM members allowed to call the service, e.g. serviceAccount:app@acme.iam.gserviceaccount.com."""
    ingress: Literal["all", "internal", "internalAndLoadBalancer"] = "all"
    """Where requests may come from (IAM still applies). Defaults to all."""
    rollout: RolloutSpec = RolloutSpec()
    """Model versioning: canary rollout."""


def cloud_run_issues(spec: CloudRunServiceSpec, region: str) -> list[Issue]:
    """Everything Cloud Run would reject at apply time, checked before planning."""
    issues: list[Issue] = []
    res, gpu = spec.resources, spec.resources.gpu
    preset = model_runtimes.PRESETS.get(spec.runtime or "")
    mem = _mib(res.memory)

    issues += model_runtimes.shipping_issues(spec.image, spec.runtime, spec.model)
    if preset is not None and not preset.public_registry and spec.image is None:
        issues.append(Issue(("image",), f"Cloud Run cannot pull the {spec.runtime} image from nvcr.io",
                            fix=f"copy it to Artifact Registry and set `image:` (e.g. {region}-docker.pkg.dev/<project>/<repo>/tritonserver:24.10-py3)"))
    if preset is not None and preset.needs_gpu and gpu is None:
        issues.append(Issue(("resources", "gpu"), f"runtime {spec.runtime} needs a GPU",
                            fix="add `resources: {cpu: 4, memory: 16Gi, gpu: {type: nvidia-l4}}`"))

    if gpu is not None:
        if res.cpu < GPU_MIN_CPU:
            issues.append(Issue(("resources", "cpu"), f"an {gpu.type} GPU needs at least {GPU_MIN_CPU} CPUs", res.cpu,
                                allowed=one_of(c for c in CPU_VALUES if c >= GPU_MIN_CPU), fix="set cpu to 4 or 8"))
        if mem is not None and mem < GPU_MIN_MEMORY_MIB:
            issues.append(Issue(("resources", "memory"), f"an {gpu.type} GPU needs at least 16Gi", res.memory,
                                fix="set memory to 16Gi or more"))
        if res.cpu_always_allocated is False:
            issues.append(Issue(("resources", "cpuAlwaysAllocated"), "GPU services must keep CPU always allocated", False,
                                fix="remove the key or set it to true"))
        if region not in GPU_REGIONS:
            issues.append(Issue(("resources", "gpu", "type"), f"Cloud Run offers no {gpu.type} GPU in region {region}", gpu.type,
                                allowed=f"regions {one_of(GPU_REGIONS)}",
                                fix="set gcp:region to one of those regions, or remove the gpu"))

    if res.cpu not in CPU_VALUES:
        issues.append(Issue(("resources", "cpu"), "is not a CPU count Cloud Run offers", res.cpu,
                            allowed=one_of(CPU_VALUES), fix="pick one of the allowed counts"))
    if mem is None:
        issues.append(Issue(("resources", "memory"), "is not a memory quantity", res.memory,
                            allowed="e.g. 512Mi, 4Gi, 16Gi", fix="write a number with Mi or Gi"))
    if mem is not None:
        if not MEMORY_MIN_MIB <= mem <= MEMORY_MAX_MIB:
            issues.append(Issue(("resources", "memory"), "is outside what Cloud Run offers", res.memory,
                                allowed="512Mi to 32Gi", fix="pick a size in range"))
        for gib, cpus in MEMORY_CPU_STEPS:
            if mem > gib * 1024 and res.cpu < cpus:
                issues.append(Issue(("resources", "cpu"), f"memory above {gib}Gi needs at least {cpus} CPUs", res.cpu,
                                    fix=f"set cpu to {cpus} or more, or lower the memory"))
                break
        if res.cpu >= 6 and mem < 4096:
            issues.append(Issue(("resources", "memory"), f"{res.cpu:g} CPUs need at least 4Gi", res.memory,
                                fix="set memory to 4Gi or more"))
        elif res.cpu >= 4 and mem < 2048:
            issues.append(Issue(("resources", "memory"), "4 CPUs need at least 2Gi", res.memory,
                                fix="set memory to 2Gi or more"))

    if spec.scaling.min_replicas > spec.scaling.max_replicas:
        issues.append(Issue(("scaling", "maxReplicas"), f"is below minReplicas ({spec.scaling.min_replicas})",
                            spec.scaling.max_replicas, fix=f"set maxReplicas to at least {spec.scaling.min_replicas}"))
    elif gpu is not None and spec.scaling.max_replicas > gpu.quota:
        issues.append(Issue(("scaling", "maxReplicas"), f"is above the GPU quota ({gpu.quota} instances), which Cloud Run enforces",
                            spec.scaling.max_replicas,
                            fix=f"lower it to {gpu.quota}, or set resources.gpu.quota after Google raises your quota"))
    issues += probe_issues(spec.probes, ("startup", "liveness"))

    issues += iam_member_issues(spec.invokers)

    canary = spec.rollout.canary
    if spec.rollout.stable_revision is not None and canary is None:
        issues.append(Issue(("rollout", "stableRevision"), "only applies while a canary runs",
                            fix="remove it, or add rollout.canary"))
    issues += canary_issues(canary, spec.model, spec.image)
    return first_per_key(issues)


def probe_issues(probes: object, kinds: tuple[str, ...]) -> list[Issue]:
    """A probe may not take longer than the period between two probes."""
    issues = []
    for kind in kinds:
        probe = getattr(probes, kind)
        if probe is not None and probe.timeout_seconds > probe.period_seconds:
            issues.append(Issue(("probes", kind, "timeoutSeconds"), f"is longer than periodSeconds ({probe.period_seconds})",
                                probe.timeout_seconds, fix=f"set it to {probe.period_seconds} or less"))
    return issues


def canary_issues(canary: Optional[CanarySpec], model: Optional[ModelSpec], image: Optional[str]) -> list[Issue]:
    """A canary changes what the service ships: the model version (model-loading) or the image."""
    issues: list[Issue] = []
    if canary is None:
        return issues
    if model is not None:
        if canary.version is None:
            issues.append(Issue(("rollout", "canary", "version"), "a canary of a loaded model needs the new model version",
                                fix="add `version:` with the model version to try"))
        elif canary.version == model.version:
            issues.append(Issue(("rollout", "canary", "version"), "is the stable version itself", canary.version,
                                fix=f"set a version other than {model.version}, or remove the canary"))
        if canary.image is not None:
            issues.append(Issue(("rollout", "canary", "image"), "a model-loading canary changes the version, not the image",
                                fix="remove `image:` from the canary"))
    elif image is not None:
        if canary.image is None:
            issues.append(Issue(("rollout", "canary", "image"), "a canary of a model-in-image service needs the new image",
                                fix="add `image:` with the image to try"))
        elif canary.image == image:
            issues.append(Issue(("rollout", "canary", "image"), "is the stable image itself", canary.image,
                                fix="set a different image tag, or remove the canary"))
        if canary.version is not None:
            issues.append(Issue(("rollout", "canary", "version"), "a model-in-image canary changes the image, not a model version",
                                fix="remove `version:` from the canary and set `image:`"))
    return issues


def _mib(quantity: str) -> Optional[float]:
    try:
        return memory_mib(quantity)
    except ValueError:
        return None


def deployed_variant(spec: CloudRunServiceSpec, canary: bool) -> CloudRunServiceSpec:
    """The spec as one revision runs it: the stable one, or the canary's version or image."""
    updates: dict = {"rollout": RolloutSpec()}
    c = spec.rollout.canary
    if canary and c is not None:
        if c.version is not None and spec.model is not None:
            updates["model"] = spec.model.model_copy(update={"version": c.version})
        if c.image is not None:
            updates["image"] = c.image
    return spec.model_copy(update=updates)


def version_of(spec: CloudRunServiceSpec) -> str:
    return spec.model.version if spec.model is not None else image_tag(spec.image or "")


# Bump when the template this module builds changes shape, so new revisions get new names.
TEMPLATE_VERSION = 1


def revision_name(service_name: str, variant: CloudRunServiceSpec, context: Optional[dict] = None) -> str:
    """`<service>-v<version>-<fingerprint>`. The fingerprint covers everything that shapes the
    revision template (the spec, the resolved runtime launch, egress, the model bucket), so the
    same settings give the same name, and Cloud Run never sees one name with two templates."""
    settings = variant.model_dump(mode="json", exclude={"name", "rollout", "public", "invokers", "ingress"})
    gpu = variant.resources.gpu is not None
    model_name = variant.model.uri.rstrip("/").rsplit("/", 1)[-1] if variant.model else variant.name
    run = model_runtimes.launch(variant.runtime, image=variant.image, gpu=gpu, model_name=model_name,
                                version=variant.model.version if variant.model else None, port=variant.port,
                                args=variant.args, command=variant.command)
    payload = {"spec": settings, "launch": run.__dict__, "context": context or {}, "template": TEMPLATE_VERSION}
    fingerprint = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:6]
    return dns_name(service_name, revision_suffix(version_of(variant)), fingerprint, max_len=63)


def traffic_split(service_name: str, spec: CloudRunServiceSpec,
                  context: Optional[dict] = None) -> list[tuple[str, int, str]]:
    """[(revision, percent, tag)]: all to stable, or stable and canary by the canary's percent.

    While a canary runs, change only the canary: any other edit changes the stable settings'
    revision name too, so pin the deployed one with `rollout.stableRevision`."""
    canary = spec.rollout.canary
    stable = revision_name(service_name, deployed_variant(spec, canary=False), context)
    if canary is None:
        return [(stable, 100, "stable")]
    stable = spec.rollout.stable_revision or stable
    return [(stable, 100 - canary.percent, "stable"),
            (revision_name(service_name, deployed_variant(spec, canary=True), context), canary.percent, "canary")]


class CloudRunModelServerArgs:
    def __init__(self, spec: CloudRunServiceSpec, *, service_name: str, region: str, project: str,
                 network_id: pulumi.Input[str], subnetwork_id: pulumi.Input[str],
                 egress: str = "privateRangesOnly", model_bucket: Optional[Bucket] = None,
                 deletion_protection: bool = False):
        """`model_bucket` is the artifact bucket the model is mounted from (model-loading)."""
        self.spec = spec
        self.service_name = service_name
        self.region = region
        self.project = project
        self.network_id = network_id
        self.subnetwork_id = subnetwork_id
        self.egress = egress
        self.model_bucket = model_bucket
        self.deletion_protection = deletion_protection


class CloudRunModelServer(Component):
    """Outputs: url, service_name, revision names and the tagged URLs (`stable`, `canary`)."""

    def __init__(self, name: str, args: CloudRunModelServerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("mlinfra:gcp:CloudRunModelServer", name, opts)
        spec = args.spec
        raise_if_any(f"CloudRunModelServer {name}", cloud_run_issues(spec, args.region))

        self.account = ServiceAccount(f"{name}-sa", ServiceAccountArgs(
            display_name=f"mlinfra model server {spec.name}", project=args.project), opts=self.child())
        grants: list[pulumi.Resource] = []
        if spec.model is not None:
            if args.model_bucket is None:
                raise_if_any(f"CloudRunModelServer {name}", [Issue(("model",), "needs the artifact bucket to mount",
                                                                    fix="pass model_bucket")])
            grants.append(args.model_bucket.grant_read(self.account))
        for secret in sorted({s.secret for s in spec.secrets}):
            grants.append(gcp.secretmanager.SecretIamMember(
                f"{name}-secret-{secret}", project=args.project, secret_id=secret,
                role="roles/secretmanager.secretAccessor", member=self.account.member, opts=self.child()))

        context = {"egress": args.egress, "model_bucket": args.model_bucket.global_name if args.model_bucket else None}
        split = traffic_split(args.service_name, spec, context)
        template_spec = deployed_variant(spec, canary=spec.rollout.canary is not None)
        self.service = gcp.cloudrunv2.Service(
            name,
            name=args.service_name,
            location=args.region,
            project=args.project,
            ingress=INGRESS[spec.ingress],
            deletion_protection=args.deletion_protection,
            # Read by the guardrails: allUsers may invoke only a service that says it is public.
            labels={"public": "true"} if spec.public else None,
            # Declared so the API's filled-in default does not show as a diff on every preview.
            scaling=gcp.cloudrunv2.ServiceScalingArgs(min_instance_count=0, max_instance_count=spec.scaling.max_replicas),
            template=self._template(template_spec, split[-1][0], args),
            traffics=[gcp.cloudrunv2.ServiceTrafficArgs(
                type="TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", revision=rev, percent=pct, tag=tag)
                for rev, pct, tag in split],
            opts=self.child(depends_on=grants),
        )

        members = (["allUsers"] if spec.public else []) + list(spec.invokers)
        self.invoker_grants = [
            gcp.cloudrunv2.ServiceIamMember(
                f"{name}-invoker-{i}", project=args.project, location=args.region, name=self.service.name,
                role="roles/run.invoker", member=member, opts=self.child())
            for i, member in enumerate(members)
        ]

        self.url = self.service.uri
        self.revisions = {tag: rev for rev, _, tag in split}
        self.tagged_urls = self.service.traffic_statuses.apply(
            lambda statuses: {s.tag: s.uri for s in (statuses or []) if s.tag})
        self.register_outputs({"url": self.url, "revisions": self.revisions, "tagged_urls": self.tagged_urls})

    def _template(self, spec: CloudRunServiceSpec, revision: str, args: CloudRunModelServerArgs):
        res, gpu = spec.resources, spec.resources.gpu
        model_name = spec.model.uri.rstrip("/").rsplit("/", 1)[-1] if spec.model else spec.name
        version = spec.model.version if spec.model else None
        run = model_runtimes.launch(spec.runtime, image=spec.image, gpu=gpu is not None, model_name=model_name,
                                    version=version, port=spec.port, args=spec.args, command=spec.command)

        envs = [gcp.cloudrunv2.ServiceTemplateContainerEnvArgs(name=k, value=v) for k, v in sorted(spec.env.items())]
        volumes, mounts = [], []
        if spec.model is not None:
            bucket_path = spec.model.uri[len("gs://"):].split("/", 1)
            prefix = bucket_path[1].strip("/") if len(bucket_path) > 1 else ""
            mount = model_runtimes.model_dir(model_name, spec.model.version)
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
                    secret=s.secret, version=s.version))) for s in spec.secrets]

        limits = {"cpu": cpu_string(res.cpu), "memory": res.memory}
        if gpu is not None:
            limits["nvidia.com/gpu"] = str(gpu.count)
        always_on = res.cpu_always_allocated if res.cpu_always_allocated is not None else gpu is not None

        startup = spec.probes.startup
        startup_path = startup.path or run.ready_path
        startup_failures = startup.failure_threshold or (60 if gpu is not None else 30)
        startup_probe = gcp.cloudrunv2.ServiceTemplateContainerStartupProbeArgs(
            initial_delay_seconds=startup.initial_delay_seconds, period_seconds=startup.period_seconds,
            timeout_seconds=startup.timeout_seconds, failure_threshold=startup_failures,
            http_get=gcp.cloudrunv2.ServiceTemplateContainerStartupProbeHttpGetArgs(path=startup_path, port=run.port)
            if startup_path else None,
            tcp_socket=None if startup_path else gcp.cloudrunv2.ServiceTemplateContainerStartupProbeTcpSocketArgs(port=run.port),
        )
        live = spec.probes.liveness
        live_path = (live.path if live else None) or run.live_path
        liveness_probe = None
        if live_path:
            live = live or ProbeSpec()
            liveness_probe = gcp.cloudrunv2.ServiceTemplateContainerLivenessProbeArgs(
                initial_delay_seconds=live.initial_delay_seconds, period_seconds=live.period_seconds,
                timeout_seconds=live.timeout_seconds, failure_threshold=live.failure_threshold or 3,
                http_get=gcp.cloudrunv2.ServiceTemplateContainerLivenessProbeHttpGetArgs(path=live_path, port=run.port))

        return gcp.cloudrunv2.ServiceTemplateArgs(
            revision=revision,
            labels={"model-version": dns_name(version_of(spec), max_len=63)},
            service_account=self.account.email,
            execution_environment="EXECUTION_ENVIRONMENT_GEN2",
            timeout=f"{spec.timeout_seconds}s",
            max_instance_request_concurrency=spec.scaling.concurrency,
            scaling=gcp.cloudrunv2.ServiceTemplateScalingArgs(
                min_instance_count=spec.scaling.min_replicas, max_instance_count=spec.scaling.max_replicas),
            node_selector=gcp.cloudrunv2.ServiceTemplateNodeSelectorArgs(accelerator=gpu.type) if gpu else None,
            gpu_zonal_redundancy_disabled=(not gpu.zonal_redundancy) if gpu else None,
            vpc_access=gcp.cloudrunv2.ServiceTemplateVpcAccessArgs(
                egress=EGRESS[args.egress],
                network_interfaces=[gcp.cloudrunv2.ServiceTemplateVpcAccessNetworkInterfaceArgs(
                    network=args.network_id, subnetwork=args.subnetwork_id)]),
            volumes=volumes or None,
            containers=[gcp.cloudrunv2.ServiceTemplateContainerArgs(
                name="server",
                image=run.image,
                commands=run.command or None,
                args=run.args or None,
                ports=gcp.cloudrunv2.ServiceTemplateContainerPortsArgs(container_port=run.port, name="http1"),
                envs=envs or None,
                resources=gcp.cloudrunv2.ServiceTemplateContainerResourcesArgs(
                    limits=limits, cpu_idle=not always_on, startup_cpu_boost=spec.scaling.startup_cpu_boost),
                startup_probe=startup_probe,
                liveness_probe=liveness_probe,
                volume_mounts=mounts or None,
            )],
        )
