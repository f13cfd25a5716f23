"""A batch job on any Kubernetes cluster (training, batch scoring): the spec, its rules, and the
batch/v1 Job spec (also a CronJob's jobTemplate) as a Kubernetes API dict. No cloud import.

Spot: a preempted pod is not counted against `backoffLimit` (the pod failure policy ignores
disruptions), so a training job on spot retries until it finishes; it should checkpoint.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field

from components.core.images import image_issues
from components.core.issues import Issue
from components.core.naming import DNS_LABEL
from components.core.schedules import cron_issues, time_zone_issues
from components.core.spec import Context, Spec
from components.core.units import memory_mib
from components.serving import cache_wiring
from components.kubernetes.pods import (NodeScheme, PlacementSpec, PodResourcesSpec, filesystem, resources,
                                        restricted_security, scheduling, scratch_volumes,
                                        with_secret_files)

class KubernetesJobSpec(Spec):
    """One batch job on a Kubernetes cluster."""

    name: str = Field(pattern=DNS_LABEL, max_length=40)
    """Job name: lowercase letters, digits and hyphens, at most 40."""
    image: str
    """Container image."""
    command: Optional[list[str]] = None
    """Override the image's entrypoint."""
    args: Optional[list[str]] = None
    """Arguments to the entrypoint."""
    env: dict[str, str] = {}
    """Plain environment variables."""
    resources: PodResourcesSpec = PodResourcesSpec()
    """CPU, memory and GPUs per pod (requests equal limits)."""
    placement: PlacementSpec = PlacementSpec(spot="prefer")
    """Spot or on-demand nodes. Defaults to prefer: spot first (a preemption is retried, not
    counted as a failure), on-demand when no spot node has room."""
    schedule: Optional[str] = None
    """Cron schedule (5 fields, e.g. "0 4 * * 0", or @daily): makes a CronJob that never runs two
    at once. Defaults to none: one Job, run once."""
    time_zone: str = Field("Etc/UTC", pattern=r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$")
    """Time zone of the schedule (IANA name). Defaults to Etc/UTC."""
    backoff_limit: int = Field(2, ge=0, le=100)
    """Failed pods retried before the job fails (preemptions are not counted). Defaults to 2."""
    ttl_seconds_after_finished: int = Field(86400, ge=0)
    """Seconds a finished job (and its pods' logs in Kubernetes) is kept. Defaults to 86400 (a day)."""
    active_deadline_seconds: Optional[int] = Field(None, ge=1)
    """Fail the job after this many seconds, retries included. Defaults to no deadline."""
    parallelism: Optional[int] = Field(None, ge=1, le=1000)
    """Pods run at once. Defaults to 1."""
    completions: Optional[int] = Field(None, ge=1, le=100000)
    """Successful pods needed to finish. Defaults to 1 (or, with parallelism alone, any pod finishing)."""
    read_only_root_filesystem: bool = True
    """Mount the container's root filesystem read-only (/tmp stays writable; HOME is /tmp).
    Defaults to true; set false if your code writes elsewhere."""
    cache: bool = False
    """Connect the job to the stack's cache (`mlinfra:cache`) to write pre-computed predictions:
    it gets CACHE_HOST, CACHE_PORT and CACHE_TLS from a ConfigMap in its namespace and the CA as a
    file at CACHE_CA_FILE. Defaults to false."""

    def issues(self, ctx: Context) -> list[Issue]:
        return job_issues(self)


def job_issues(spec: "KubernetesJobSpec") -> list[Issue]:
    issues: list[Issue] = []
    issues += image_issues(spec.image, key=("image",))
    if spec.schedule is not None:
        issues += cron_issues(spec.schedule, "kubernetes")
        issues += time_zone_issues(spec.time_zone)
    try:
        memory_mib(spec.resources.memory)
    except ValueError:
        issues.append(Issue(("resources", "memory"), "is not a memory quantity", spec.resources.memory,
                            allowed="e.g. 512Mi, 4Gi, 16Gi", fix="write a number with Mi or Gi"))
    gpu = spec.resources.gpu
    if gpu is not None and gpu.count < 1:
        issues.append(Issue(("resources", "gpu", "count"), "must be at least 1", gpu.count,
                            fix="set count to 1 or more, or remove the gpu"))
    if spec.cache:
        issues += [Issue(("env", name), "is set by mlinfra for the cache (`cache: true`)", name,
                         allowed=f"any name but {', '.join(cache_wiring.ENV_NAMES)}", fix="rename or remove it")
                   for name in spec.env if name in cache_wiring.ENV_NAMES]
    if spec.completions is not None and spec.parallelism is not None and spec.parallelism > spec.completions:
        issues.append(Issue(("parallelism",), f"is above completions ({spec.completions}); the extra pods would never run",
                            spec.parallelism, fix=f"set parallelism to {spec.completions} or less"))
    return issues


def job_labels(spec: KubernetesJobSpec) -> dict[str, str]:
    return {"app.kubernetes.io/name": spec.name, "app.kubernetes.io/part-of": "mlinfra",
            "app.kubernetes.io/component": "job"}


def batch_object(spec: KubernetesJobSpec, metadata: dict, body: dict) -> tuple[str, dict, dict]:
    """(kind, metadata, spec) of the batch/v1 object that runs `body` (a `job_spec`): a CronJob on
    the job's schedule (never two runs at once; a run missed by more than an hour, e.g. during a
    control-plane upgrade, is skipped, not stacked), else a Job that `pulumi up` does not wait
    for (it would wait 10 minutes for the job to finish, then fail)."""
    if spec.schedule is None:
        return "Job", {**metadata, "annotations": {"pulumi.com/skipAwait": "true"}}, body
    return "CronJob", metadata, {
        "schedule": spec.schedule.strip(), "timeZone": spec.time_zone, "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": 3600, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3,
        "jobTemplate": {"metadata": {"labels": job_labels(spec)}, "spec": body},
    }


def job_spec(spec: KubernetesJobSpec, service_account: Any, nodes: NodeScheme,
             cache_secret: Optional[tuple[str, bool]] = None, secrets_volume: Optional[dict] = None) -> dict:
    """The batch/v1 JobSpec (also a CronJob's jobTemplate.spec); `cache_secret` is `(Secret
    name, TLS)` of the stack's cache, read into the env and the CA file; `secrets_volume` the
    platform's volume of secret files, exported as environment variables (`pods.with_secret_files`)."""
    pod_security, container_security = restricted_security(spec.read_only_root_filesystem)
    volumes, mounts, env = scratch_volumes(filesystem("custom"))
    env = [{"name": k, "value": v} for k, v in sorted(spec.env.items())] + [e for e in env if e["name"] not in spec.env]
    if cache_secret is not None:
        env += cache_wiring.config_env(cache_secret[1], cache_secret[0])
        cache_volumes, cache_mounts = cache_wiring.config_volume(cache_secret[1], cache_secret[0])
        volumes, mounts = volumes + cache_volumes, mounts + cache_mounts
    container = {
        "name": "job",
        "image": spec.image,
        **({"command": spec.command} if spec.command else {}),
        **({"args": spec.args} if spec.args else {}),
        "env": env,
        "resources": resources(spec.resources),
        "volumeMounts": mounts,
        "securityContext": container_security,
    }
    with_secret_files(container, volumes, secrets_volume)
    out = {
        "backoffLimit": spec.backoff_limit,
        "ttlSecondsAfterFinished": spec.ttl_seconds_after_finished,
        # A spot preemption or node drain is not the job's fault: retry without counting it.
        "podFailurePolicy": {"rules": [{"action": "Ignore",
                                        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]},
        "template": {
            "metadata": {"labels": job_labels(spec)},
            "spec": {
                "restartPolicy": "Never",
                "serviceAccountName": service_account,
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "securityContext": pod_security,
                **scheduling(spec.placement, spec.resources.gpu, nodes),
                "containers": [container],
                "volumes": volumes,
            },
        },
    }
    for key, value in (("activeDeadlineSeconds", spec.active_deadline_seconds),
                       ("parallelism", spec.parallelism), ("completions", spec.completions)):
        if value is not None:
            out[key] = value
    return out
