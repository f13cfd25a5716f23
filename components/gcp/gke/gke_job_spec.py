"""A batch job on GKE as the stack file says it (`platform: gke`): the Kubernetes job spec, on
the stack's cluster."""

from __future__ import annotations

from typing import Literal, Optional, Sequence

from components.core.issues import Issue
from components.core.spec import Context
from components.gcp.gke.queued import QueuedSpec
from components.kubernetes.batch import KubernetesJobSpec
from components.serving.env_rules import env_issues
from components.serving.model_serving_spec import SecretRef


def secret_issues(env: dict, secrets: Sequence[SecretRef], command_known: bool, fix_command: str) -> list[Issue]:
    """GKE workloads' `secrets`: unique variables, and a known command, since the variables are
    exported by a shell in front of it (components/gcp/gke/secret_manager.py)."""
    if not secrets:
        return []
    issues = env_issues(env, [s.env for s in secrets], platform="The pod", reserved=())
    if not command_known:
        issues.append(Issue(("secrets",), "on GKE secrets are files the container's shell exports before it starts "
                            "the command, and this container's command is not known", [s.env for s in secrets],
                            fix=fix_command))
    return issues


class GkeJobSpec(KubernetesJobSpec):
    """One batch job on GKE."""

    platform: Literal["gke"] = "gke"
    """Where it runs: gke, a Job or CronJob on the stack's cluster (the kubernetes and hybrid patterns' default)."""
    secrets: list[SecretRef] = []
    """Environment variables from Secret Manager, by reference: mounted as in-memory files by
    GKE's Secret Manager add-on and exported by the container's shell before `command` runs (so
    `command` is required with them, and an image with /bin/sh); the job's account may read only
    these. Defaults to none."""
    queued: Optional[QueuedSpec] = None
    """Wait for capacity on a queued-provisioning pool: a ProvisioningRequest asks GKE for the
    nodes of all `parallelism` pods at once, and the job starts when they exist (hours or days
    later: `activeDeadlineSeconds` counts the wait). A one-off Job only (no `schedule`, no
    trigger), all of whose pods run at once. Defaults to none (the job's pods scale up the pools
    their GPU and placement select)."""

    def issues(self, ctx: Context) -> list[Issue]:
        return super().issues(ctx) + secret_issues(self.env, self.secrets, bool(self.command),
                                                   "set `command` to the image's entrypoint") + queued_issues(self)


def queued_issues(spec: "GkeJobSpec") -> list[Issue]:
    """What a queued job cannot be: a CronJob (each run needs a request of its own, which a
    CronJob cannot create), without a GPU, on spot, or in waves (its nodes are booked for the
    pods that run at once; later pods would find them gone)."""
    if spec.queued is None:
        return []
    issues = []
    if spec.schedule is not None:
        issues.append(Issue(("schedule",), "a queued job runs once, when its ProvisioningRequest is provisioned; a "
                            "CronJob's runs would each need a request of their own, which Kubernetes cannot create",
                            spec.schedule, fix="remove schedule (re-run by changing the job), or remove queued"))
    if spec.resources.gpu is None:
        issues.append(Issue(("resources", "gpu"), "is needed: a queued pool provisions GPU nodes",
                            fix="set resources.gpu to the pool's GPU type and count"))
    if spec.placement.spot == "require":
        issues.append(Issue(("placement", "spot"), "a queued pool's nodes are flex-start, not spot", "require",
                            allowed="never, prefer", fix="remove placement (a queued job ignores it)"))
    wave = spec.parallelism or 1
    if spec.completions is not None and spec.completions > wave:
        issues.append(Issue(("completions",), f"is above parallelism ({wave}): the request books nodes for the pods "
                            "that run at once, and a second wave would find them gone", spec.completions,
                            fix=f"set parallelism to {spec.completions}, or completions to {wave}"))
    return issues
