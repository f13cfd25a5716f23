"""What a trigger runs when it is not a function: `run: {job | pipeline | proposeRollout}`, as
the stack file says it. The event reaches a Workflow (components/gcp/workflows/), which starts
the job or pipeline and waits for it, or asks the repository's CI to propose a rollout."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from components.core.issues import Issue
from components.core.naming import DNS_LABEL
from components.core.spec import Context, Spec

APIS = ("workflows.googleapis.com", "workflowexecutions.googleapis.com", "eventarc.googleapis.com",
        "pubsub.googleapis.com", "cloudscheduler.googleapis.com")
"""What a stack with triggers that `run` something enables."""
DEFAULT_TOKEN_SECRET = "mlinfra-github-dispatch-token"
"""The Secret Manager secret `mlinfra ci init` tells you to create for the rollout dispatch."""
DEFAULT_MARKER = "_READY"
"""The completion marker a storage event waits for: written last, after every other object."""


class ProposeRolloutSpec(Spec):
    """Ask the repository's CI to propose the new model version as a service's canary."""

    service: str = Field(pattern=DNS_LABEL, max_length=30)
    """The service (`services[].name`) whose `rollout.canary.version` the pull request sets."""
    repository: str = Field(pattern=r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$")
    """The GitHub repository holding this project, as owner/name."""
    token_secret: str = Field(DEFAULT_TOKEN_SECRET, pattern=r"^[A-Za-z0-9_-]{1,255}$")
    """Secret Manager secret (in the stack's project, created outside the stack as `mlinfra ci
    init` prints) holding a fine-grained GitHub token with only `actions: write` on the
    repository. Only the chain's workflow account (and, when the service has `rollout.autoRollback`,
    the stack's rollback function, which dispatches the same workflow) may read it. Defaults to
    mlinfra-github-dispatch-token."""
    workflow: str = Field("propose-rollout.yml", pattern=r"^[A-Za-z0-9._-]+\.ya?ml$")
    """The GitHub workflow file that opens the pull request. Defaults to propose-rollout.yml
    (written by `mlinfra ci init`)."""
    ref: str = Field("main", pattern=r"^[A-Za-z0-9._/-]{1,255}$")
    """The branch the workflow runs on and the pull request targets. Defaults to main."""


class RunSpec(Spec):
    """Exactly one of job, pipeline or proposeRollout."""

    job: Optional[str] = Field(None, pattern=DNS_LABEL, max_length=40)
    """A job of the stack (`jobs[].name`): each event starts one run of it and waits for it."""
    pipeline: Optional[str] = Field(None, pattern=DNS_LABEL, max_length=40)
    """A batch pipeline of the stack (`pipelines[].name`): each event launches it and waits for it."""
    propose_rollout: Optional[ProposeRolloutSpec] = None
    """Dispatch the repository's propose-rollout workflow with the version the event names."""
    timeout_minutes: Optional[int] = Field(None, ge=1, le=525600)
    """How long the workflow waits before it reports the run as failed. Defaults to one sized to
    the job (its deadline, retries and waves of tasks, plus 10 minutes), else 1440 (a day)."""

    @property
    def kind(self) -> Optional[str]:
        kinds = [k for k in ("job", "pipeline", "propose_rollout") if getattr(self, k) is not None]
        return kinds[0] if len(kinds) == 1 else None

    def issues(self, ctx: Context) -> list[Issue]:
        given = [k for k, key in (("job", "job"), ("pipeline", "pipeline"), ("propose_rollout", "proposeRollout"))
                 if getattr(self, k) is not None]
        if len(given) != 1:
            return [Issue((), f"needs exactly one thing to run, got {len(given)}",
                          allowed="job, pipeline, proposeRollout", fix="keep one of them")]
        if self.propose_rollout is not None and self.timeout_minutes is not None:
            return [Issue(("timeoutMinutes",), "applies to a job or pipeline; a dispatch returns at once",
                          self.timeout_minutes, fix="remove it")]
        return []
