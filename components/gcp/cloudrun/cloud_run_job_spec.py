"""A batch job on Cloud Run Jobs as the stack file says it (`jobs[].platform: cloudrun`), and the
rules Cloud Run would otherwise enforce when the job is created or run.

Limits, checked 2026-12-01:
- tasks, parallelism: cloud.google.com/run/docs/configuring/parallelism (parallelism at most the
  task count; unset runs as many at once as the quota allows) and .../configuring/jobs/tasks
  (at most 10000 tasks per execution).
- maxRetries: 0 to 10 per task, default 3 (.../configuring/max-retries).
- task timeout: up to 168 hours (7 days); with a GPU at most 1 hour; default 10 minutes
  (.../configuring/task-timeout).
- CPU, memory and GPU: the same instance rules as services (cloud_run_service_spec.instance_issues);
  an L4 needs 4 CPUs and 16Gi (.../configuring/jobs/gpu). Jobs' GPUs run without zonal
  redundancy by default: a failed task is retried, and non-redundant GPUs cost less.
- reserved environment variables: the jobs container contract (env_rules.CLOUD_RUN_JOB_RESERVED).
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, model_validator

from components.core.images import image_issues
from components.core.issues import Issue, first_per_key
from components.core.naming import DNS_LABEL, dns_name
from components.core.schedules import cron_issues, time_zone_issues
from components.core.spec import Context, Spec
from components.gcp.cloudrun.cloud_run_service_spec import GPU_MIN_CPU, GPU_MIN_MEMORY_MIB, instance_issues
from components.serving.env_rules import CLOUD_RUN_JOB_RESERVED, CLOUD_RUN_RESERVED, env_issues
from components.serving.model_serving_spec import SecretRef

MAX_TASKS = 10_000
MAX_RETRIES = 10
MAX_TIMEOUT_SECONDS = 168 * 3600
MAX_GPU_TIMEOUT_SECONDS = 3600


def cloud_run_job_name(name: str, stack: str) -> str:
    """The Cloud Run job a stack's `jobs[].name` becomes (at most 63 characters)."""
    return dns_name(name, stack, max_len=63)


class JobGpuSpec(Spec):
    type: Literal["nvidia-l4"] = "nvidia-l4"
    """GPU model. Cloud Run offers nvidia-l4."""
    count: Literal[1] = 1
    """GPUs per task. Cloud Run allows exactly 1."""
    zonal_redundancy: bool = False
    """Reserve capacity to fail over across zones (costs more). Defaults to false: a failed task is retried."""


class JobResourcesSpec(Spec):
    cpu: float = 1
    """vCPUs per task: 1, 2, 4, 6 or 8. Defaults to 1; with a GPU, to 4 (Cloud Run's minimum)."""
    memory: str = "512Mi"
    """Memory per task, 512Mi to 32Gi. Defaults to 512Mi; with a GPU, to 16Gi (Cloud Run's minimum)."""
    gpu: Optional[JobGpuSpec] = None
    """An NVIDIA L4 GPU per task (tasks then time out after at most an hour). Defaults to none."""

    @model_validator(mode="before")
    @classmethod
    def _gpu_defaults(cls, data: Any) -> Any:
        """A GPU task left at the CPU defaults gets Cloud Run's GPU minimums instead."""
        if isinstance(data, dict) and data.get("gpu") is not None:
            data = {"cpu": GPU_MIN_CPU, "memory": f"{GPU_MIN_MEMORY_MIB // 1024}Gi", **data}
        return data


class CloudRunJobSpec(Spec):
    """One batch job on Cloud Run Jobs: an execution runs `tasks` copies of the container."""

    platform: Literal["cloudrun"] = "cloudrun"
    """Where it runs: cloudrun, a Cloud Run job (no cluster needed)."""
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
    secrets: list[SecretRef] = []
    """Environment variables from Secret Manager, by reference; the job's account may read only these."""
    resources: JobResourcesSpec = JobResourcesSpec()
    """CPU, memory and GPU per task."""
    tasks: int = Field(1, ge=1, le=MAX_TASKS)
    """Tasks per execution; each gets CLOUD_RUN_TASK_INDEX to pick its share of the work. Defaults to 1."""
    parallelism: Optional[int] = Field(None, ge=1)
    """Tasks run at once, at most `tasks`. Defaults to as many as Cloud Run's quota allows."""
    max_retries: int = Field(3, ge=0, le=MAX_RETRIES)
    """Retries of a failed task before the execution fails (0 to 10). Defaults to 3."""
    timeout_seconds: int = Field(600, ge=1)
    """Seconds each task attempt may run: up to 604800 (7 days), 3600 with a GPU. Defaults to 600."""
    schedule: Optional[str] = None
    """Cron schedule (5 fields, e.g. "0 2 * * *"): Cloud Scheduler runs the job then. Defaults to
    none: the job runs only when started (console, gcloud, a workflow)."""
    time_zone: str = "Etc/UTC"
    """Time zone of the schedule (IANA name). Defaults to Etc/UTC."""

    def issues(self, ctx: Context) -> list[Issue]:
        """Everything Cloud Run or Cloud Scheduler would reject, checked before planning."""
        res, gpu = self.resources, self.resources.gpu
        issues = image_issues(self.image, key=("image",))
        issues += [i.under("resources") for i in instance_issues(res.cpu, res.memory, gpu.type if gpu else None, ctx.region)]
        if self.parallelism is not None and self.parallelism > self.tasks:
            issues.append(Issue(("parallelism",), f"is above tasks ({self.tasks}); Cloud Run refuses more parallel "
                                "tasks than an execution has", self.parallelism,
                                fix=f"set parallelism to {self.tasks} or less, or raise tasks"))
        limit = MAX_GPU_TIMEOUT_SECONDS if gpu is not None else MAX_TIMEOUT_SECONDS
        if self.timeout_seconds > limit:
            issues.append(Issue(("timeoutSeconds",), f"is above Cloud Run's task timeout {'with a GPU ' if gpu else ''}"
                                f"({limit} seconds)", self.timeout_seconds, allowed=f"1 to {limit}",
                                fix=f"set timeoutSeconds to {limit} or less" + (
                                    ", or run the job on GKE for longer GPU tasks" if gpu else
                                    ", or split the work across more tasks")))
        if self.schedule is not None:
            issues += cron_issues(self.schedule, "scheduler", key=("schedule",))
        if "time_zone" in self.model_fields_set:
            issues += time_zone_issues(self.time_zone, key=("timeZone",))
            if self.schedule is None:
                issues.append(Issue(("timeZone",), "only applies to a schedule", self.time_zone,
                                    fix="add schedule, or remove timeZone"))
        issues += env_issues(self.env, [s.env for s in self.secrets], platform="Cloud Run",
                             reserved=CLOUD_RUN_RESERVED + CLOUD_RUN_JOB_RESERVED)
        return first_per_key(issues)
