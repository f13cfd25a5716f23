"""A model server on Cloud Run: what the stack file says (`platform: cloudrun`) and the rules
Cloud Run would otherwise enforce at apply time, checked before planning.

GPU rules and regions from cloud.google.com/run/docs/configuring/services/gpu (asia-south1 is
by invitation); CPU and memory limits from cloud.google.com/run/docs/configuring/services/cpu
and .../memory-limits. Update the tables when Google changes them.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, model_validator

from components.core.issues import Issue, first_per_key, one_of
from components.core.naming import DNS_LABEL, dns_name
from components.core.spec import Context, Spec
from components.core.units import memory_mib
from components.gcp.cloudrun.load_balancer_spec import LoadBalancerSpec, load_balancer_issues
from components.gcp.iam.principals import SERVICE_ACCOUNT_EMAIL, iam_member_issues
from components.gcp.monitoring import request_logging_spec
from components.gcp.monitoring.request_logging_spec import RequestLoggingSpec
from components.serving import cache_wiring, runtimes
from components.serving.env_rules import CLOUD_RUN_RESERVED, env_issues
from components.serving.model_serving_spec import CanarySpec, ModelServingSpec, ProbeSpec, SecretRef

CLOUD_RUN_GPU_TYPES = ("nvidia-l4",)
CLOUD_RUN_GPU_REGIONS = ("us-central1", "us-east4", "europe-west1", "europe-west4", "asia-southeast1", "asia-south1")
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
TRACK_TAGS = ("stable", "canary")
TAG_AND_SERVICE_MAX = 46
"""Cloud Run refuses a traffic tag whose length plus the service name's exceeds 46 (gcloud: "Combined
traffic tag and service name cannot exceed 46 characters": they form the tagged URL's DNS label)."""


def cloud_run_service_name(name: str, stack: str, exact: Optional[str] = None) -> str:
    """The Cloud Run service a stack's `services[].name` becomes (at most 40 characters, so the
    tagged URLs of its revisions fit Cloud Run's limits), or its `serviceName`."""
    return exact or dns_name(name, stack, max_len=40)


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
    """vCPUs per instance: 1, 2, 4, 6 or 8. Defaults to 1; with a GPU, to 4 (Cloud Run's minimum)."""
    memory: str = "512Mi"
    """Memory per instance, 512Mi to 32Gi. Defaults to 512Mi; with a GPU, to 16Gi (Cloud Run's minimum)."""
    gpu: Optional[GpuSpec] = None
    """An NVIDIA L4 GPU per instance. Defaults to none."""
    cpu_always_allocated: Optional[bool] = None
    """Keep CPU allocated between requests (instance-based billing). Defaults to true with a GPU, else false."""

    @model_validator(mode="before")
    @classmethod
    def _gpu_defaults(cls, data: Any) -> Any:
        """A GPU instance left at the CPU defaults gets Cloud Run's GPU minimums instead (1 CPU and
        512Mi, which Cloud Run refuses with a GPU)."""
        if isinstance(data, dict) and data.get("gpu") is not None:
            data = {"cpu": GPU_MIN_CPU, "memory": f"{GPU_MIN_MEMORY_MIB // 1024}Gi", **data}
        return data


class ScalingSpec(Spec):
    min_replicas: int = Field(0, ge=0, le=1000)
    """Instances kept warm (0 scales to zero). Defaults to 0."""
    max_replicas: int = Field(10, ge=1, le=1000)
    """Upper bound on instances (a cost control). Defaults to 10; with a GPU, to resources.gpu.quota
    when that is lower (Cloud Run refuses a maximum above the quota)."""
    concurrency: int = Field(80, ge=1, le=1000)
    """Concurrent requests per instance before another starts. Defaults to 80."""
    startup_cpu_boost: bool = True
    """Extra CPU while an instance starts (faster model load). Defaults to true."""


class ProbesSpec(Spec):
    startup: ProbeSpec = ProbeSpec()
    """Gates traffic until the model is loaded."""
    liveness: Optional[ProbeSpec] = None
    """Restarts a stuck instance. Defaults to the runtime's liveness endpoint when it has one."""


class TrafficTagSpec(Spec):
    tag: str = Field(pattern=r"^[a-z][a-z0-9-]*[a-z0-9]$", min_length=3)
    """The tag: its own URL (`https://<tag>---<service>-...run.app`) reaches the revision whatever
    its percent. Lowercase letters, digits and hyphens, at least 3; with the service's name at
    most 46 characters."""
    revision: str = Field(pattern=DNS_LABEL, max_length=63)
    """An existing revision of the service, by name (see the `service_revisions` output): Cloud
    Run creates one revision per deployment (the template's), so a tag can only point at one
    deployed before, e.g. the previous stable."""
    percent: int = Field(0, ge=0, le=100)
    """Its share of traffic, taken from stable's. Defaults to 0 (reachable at its tag only)."""


class RolloutSpec(Spec):
    canary: Optional[CanarySpec] = None
    """Run a new model version beside the stable one with a share of traffic. With stableRevision
    set, a canary without version or image runs the service's current settings as a new revision
    (a same-image canary of a settings change)."""
    stable_revision: Optional[str] = Field(None, pattern=DNS_LABEL, max_length=63)
    """Pin the stable side of a canary to this revision. Defaults to the revision the stable
    settings produce (the one deployed before the canary was added); see `service_revisions`."""
    tags: list[TrafficTagSpec] = []
    """More revisions in the traffic split, each under a tag of its own: stable keeps 100 minus
    the canary's and these percents. Defaults to none."""
    auto_rollback: bool = False
    """Roll the canary back on its own when the service's fast-burn alert fires: the alert
    notifies the stack's rollback topic, whose function dispatches the repository's rollout
    workflow with `action: abort`, which opens a pull request removing the canary (the stack file
    stays the truth; the commit names the incident). Needs `slo` (or prod's default) and a trigger
    with `run: {proposeRollout: {service: <this service>}}`, whose repository and token it uses.
    Stays set between canaries. Defaults to false."""


class CloudRunServiceSpec(ModelServingSpec):
    """One model server on Cloud Run."""

    platform: Literal["cloudrun"] = "cloudrun"
    """Where it runs: cloudrun (the serverless pattern's default)."""
    service_name: Optional[str] = Field(None, pattern=DNS_LABEL, max_length=40)
    """The Cloud Run service's exact name, e.g. to adopt an existing service with `pulumi import`.
    Defaults to `<name>-<stack>`."""
    service_account: Optional[str] = Field(None, pattern=SERVICE_ACCOUNT_EMAIL)
    """Run as an existing service account (by email) instead of one the stack creates; the
    stack's read grants go to it. Defaults to an account of the service's own."""
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
    """Where requests may come from (IAM still applies). Defaults to all; with a loadBalancer,
    to internalAndLoadBalancer (the only value it allows)."""
    load_balancer: Optional[LoadBalancerSpec] = None
    """Put the service behind a global external Application Load Balancer of its own: HTTPS on a
    hostname, optionally IAP and Cloud Armor. Defaults to none (the service's run.app URL)."""
    rollout: RolloutSpec = RolloutSpec()
    """Model versioning: canary rollout."""
    logging: Optional[RequestLoggingSpec] = None
    """Log requests and predictions to BigQuery: a Pub/Sub topic the server publishes to (named in
    REQUEST_LOG_TOPIC; its account may publish there only), a table written by a Pub/Sub BigQuery
    subscription, and optionally the scheduled drift job and its alert. The server publishes each
    record itself, which the stock vllm and tfserving images cannot. Defaults to none."""

    @property
    def resolved_ingress(self) -> str:
        """The ingress as written; unwritten behind a load balancer, internalAndLoadBalancer."""
        if self.load_balancer is not None and "ingress" not in self.model_fields_set:
            return "internalAndLoadBalancer"
        return self.ingress

    @property
    def max_replicas(self) -> int:
        """maxReplicas as written; unwritten on a GPU service, the default capped at the GPU quota."""
        scaling, gpu = self.scaling, self.resources.gpu
        if gpu is not None and "max_replicas" not in scaling.model_fields_set:
            return min(scaling.max_replicas, gpu.quota)
        return scaling.max_replicas

    def issues(self, ctx: Context) -> list[Issue]:
        """Everything Cloud Run would reject at apply time, checked before planning."""
        spec, region = self, ctx.region
        issues: list[Issue] = spec.model_secret_issues(spec.secrets)
        res, gpu = spec.resources, spec.resources.gpu
        preset = runtimes.PRESETS.get(spec.runtime or "")

        issues += spec.shipping_issues()
        if preset is not None and not preset.public_registry and spec.image is None:
            issues.append(Issue(("image",), f"Cloud Run cannot pull the {spec.runtime} image from nvcr.io",
                                fix=f"copy it to Artifact Registry and set `image:` (e.g. {region}-docker.pkg.dev/<project>/<repo>/tritonserver:24.10-py3)"))
        if preset is not None and preset.needs_gpu and gpu is None:
            issues.append(Issue(("resources", "gpu"), f"runtime {spec.runtime} needs a GPU",
                                fix="add `resources: {cpu: 4, memory: 16Gi, gpu: {type: nvidia-l4}}`"))

        issues += [i.under("resources") for i in instance_issues(res.cpu, res.memory, gpu.type if gpu else None, region)]
        if gpu is not None and res.cpu_always_allocated is False:
            issues.append(Issue(("resources", "cpuAlwaysAllocated"), "GPU services must keep CPU always allocated", False,
                                fix="remove the key or set it to true"))

        if gpu is not None and "max_replicas" not in spec.scaling.model_fields_set and spec.scaling.min_replicas > gpu.quota:
            issues.append(Issue(("scaling", "minReplicas"), f"is above the GPU quota ({gpu.quota} instances), which Cloud Run enforces",
                                spec.scaling.min_replicas,
                                fix=f"lower it to {gpu.quota}, or set resources.gpu.quota after Google raises your quota"))
        elif spec.scaling.min_replicas > spec.max_replicas:
            issues.append(Issue(("scaling", "maxReplicas"), f"is below minReplicas ({spec.scaling.min_replicas})",
                                spec.scaling.max_replicas, fix=f"set maxReplicas to at least {spec.scaling.min_replicas}"))
        elif gpu is not None and spec.max_replicas > gpu.quota:
            issues.append(Issue(("scaling", "maxReplicas"), f"is above the GPU quota ({gpu.quota} instances), which Cloud Run enforces",
                                spec.scaling.max_replicas,
                                fix=f"lower it to {gpu.quota}, or set resources.gpu.quota after Google raises your quota"))

        if spec.protocol == "grpc":
            # The container's one port speaks HTTP/2 only: an HTTP/1.1 probe there never passes.
            issues += [Issue(("probes", kind, "path"), "is an HTTP/1.1 probe on the gRPC (h2c) port, which only "
                             "speaks HTTP/2", probe.path, fix="remove it: gRPC services are probed with gRPC "
                             "health checks (Triton) or a TCP check")
                       for kind, probe in (("startup", spec.probes.startup), ("liveness", spec.probes.liveness))
                       if probe is not None and probe.path is not None]
        issues += iam_member_issues(spec.invokers) + request_logging_spec.publisher_issues(spec.logging, spec.runtime,
                                                                                           spec.image)
        issues += load_balancer_issues(spec.load_balancer, "ingress" in spec.model_fields_set, spec.ingress,
                                       spec.public, spec.invokers)
        issues += env_issues(spec.env, [s.env for s in spec.secrets], platform="Cloud Run", reserved=CLOUD_RUN_RESERVED,
                             set_by_mlinfra=(("MODEL_NAME", "MODEL_VERSION", "MODEL_DIR") if spec.model else ())
                             + (cache_wiring.ENV_NAMES if spec.cache else ())
                             + (request_logging_spec.ENV_NAMES if spec.logging else ()))

        canary = spec.rollout.canary
        if spec.rollout.stable_revision is not None and canary is None:
            issues.append(Issue(("rollout", "stableRevision"), "only applies while a canary runs",
                                fix="remove it, or add rollout.canary"))
        canary_issues = spec.canary_issues(canary)
        if canary is not None and spec.rollout.stable_revision is not None and canary.version is None and canary.image is None:
            # A same-image canary: the current settings as a new revision beside the pinned stable one.
            canary_issues = [i for i in canary_issues if i.path[-1] not in ("version", "image")]
        issues += canary_issues + tag_issues(spec, ctx.stack)
        return first_per_key(issues)


def tag_issues(spec: "CloudRunServiceSpec", stack: str) -> list[Issue]:
    """Extra tagged revisions: unique tags Cloud Run accepts, distinct revisions, a split that
    leaves stable a share (0 or more) of 100."""
    rollout, issues = spec.rollout, []
    service = cloud_run_service_name(spec.name, stack)
    seen_tags: set[str] = set()
    seen_revisions = {rollout.stable_revision} - {None}
    for i, t in enumerate(rollout.tags):
        key = ("rollout", "tags", i)
        if t.tag in TRACK_TAGS:
            issues.append(Issue(key + ("tag",), f"is the tag mlinfra gives the {t.tag} revision", t.tag,
                                allowed=f"any tag but {', '.join(TRACK_TAGS)}", fix="name it after the revision, e.g. previous"))
        elif t.tag in seen_tags:
            issues.append(Issue(key + ("tag",), "is also the tag of an earlier entry", t.tag, fix="give each its own tag"))
        elif len(t.tag) + len(service) > TAG_AND_SERVICE_MAX:
            issues.append(Issue(key + ("tag",), f"is too long for service {service}: Cloud Run refuses a tag and service "
                                f"name longer than {TAG_AND_SERVICE_MAX} together", t.tag,
                                allowed=f"at most {TAG_AND_SERVICE_MAX - len(service)} characters",
                                fix="shorten the tag (or the service name)"))
        if t.revision in seen_revisions:
            issues.append(Issue(key + ("revision",), "is already in the traffic split (stableRevision or an earlier "
                                "tag): a revision takes one share", t.revision, fix="remove this entry or tag another revision"))
        seen_tags.add(t.tag)
        seen_revisions.add(t.revision)
    taken = sum(t.percent for t in rollout.tags) + (rollout.canary.percent if rollout.canary else 0)
    if rollout.tags and taken > 100:
        issues.append(Issue(("rollout", "tags"), f"take {taken} % with the canary: the split must sum to 100, with stable "
                            "taking what is left", taken, allowed="canary and tags together at most 100",
                            fix="lower the percents"))
    return issues


def instance_issues(cpu: float, memory: str, gpu: Optional[str], region: str) -> list[Issue]:
    """The CPU, memory and GPU rules of one Cloud Run instance, a service's or a job task's
    (paths relative to its `resources`): Cloud Run refuses anything else at deploy time."""
    issues: list[Issue] = []
    mem = _mib(memory)
    gpu_cpu_refused = False
    if gpu is not None:
        if cpu < GPU_MIN_CPU:
            # The fewest CPUs that also carry the memory asked for, so following the fix is enough.
            fits = [c for c in CPU_VALUES if c >= GPU_MIN_CPU and not any(
                mem is not None and mem > gib * 1024 and c < cpus for gib, cpus in MEMORY_CPU_STEPS)]
            fewest = fits[0] if fits else GPU_MIN_CPU
            why = f" ({fewest} with {memory})" if fewest > GPU_MIN_CPU else ""
            issues.append(Issue(("cpu",), f"an {gpu} GPU needs at least {GPU_MIN_CPU} CPUs{why}", cpu,
                                allowed=one_of(c for c in CPU_VALUES if c >= fewest), fix=f"set cpu to {fewest}" + ("" if fewest == CPU_VALUES[-1] else " or more")))
            gpu_cpu_refused = True
        if mem is not None and mem < GPU_MIN_MEMORY_MIB:
            issues.append(Issue(("memory",), f"an {gpu} GPU needs at least 16Gi", memory, fix="set memory to 16Gi or more"))
        if region not in CLOUD_RUN_GPU_REGIONS:
            issues.append(Issue(("gpu", "type"), f"Cloud Run offers no {gpu} GPU in region {region}", gpu,
                                allowed=f"regions {one_of(CLOUD_RUN_GPU_REGIONS)}",
                                fix="set gcp:region to one of those regions, or remove the gpu"))
    if cpu not in CPU_VALUES:
        issues.append(Issue(("cpu",), "is not a CPU count Cloud Run offers", cpu,
                            allowed=one_of(CPU_VALUES), fix="pick one of the allowed counts"))
    if mem is None:
        issues.append(Issue(("memory",), "is not a memory quantity", memory,
                            allowed="e.g. 512Mi, 4Gi, 16Gi", fix="write a number with Mi or Gi"))
        return issues
    if not MEMORY_MIN_MIB <= mem <= MEMORY_MAX_MIB:
        issues.append(Issue(("memory",), "is outside what Cloud Run offers", memory,
                            allowed="512Mi to 32Gi", fix="pick a size in range"))
    for gib, cpus in MEMORY_CPU_STEPS:
        if mem > gib * 1024 and cpu < cpus and not gpu_cpu_refused:  # that issue names the fewest CPUs already
            issues.append(Issue(("cpu",), f"memory above {gib}Gi needs at least {cpus} CPUs", cpu,
                                fix=f"set cpu to {cpus} or more, or lower the memory"))
            break
    if cpu >= 6 and mem < 4096:
        issues.append(Issue(("memory",), f"{cpu:g} CPUs need at least 4Gi", memory, fix="set memory to 4Gi or more"))
    elif cpu >= 4 and mem < 2048:
        issues.append(Issue(("memory",), "4 CPUs need at least 2Gi", memory, fix="set memory to 2Gi or more"))
    return issues


def _mib(quantity: str) -> Optional[float]:
    try:
        return memory_mib(quantity)
    except ValueError:
        return None
