"""A batch job on GKE as the stack file says it (`platform: gke`): the Kubernetes job spec, on
the stack's cluster."""

from __future__ import annotations

from typing import Literal, Sequence

from components.core.issues import Issue
from components.core.spec import Context
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

    def issues(self, ctx: Context) -> list[Issue]:
        return super().issues(ctx) + secret_issues(self.env, self.secrets, bool(self.command),
                                                   "set `command` to the image's entrypoint")
