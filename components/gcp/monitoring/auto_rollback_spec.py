"""What `rollout.autoRollback` needs of the stack, without a provider: which services it guards,
the GitHub repository and token each one's rollback dispatch uses (those of the service's
`run: {proposeRollout}` trigger: one set of dispatch settings per service, not a second), the
labels that mark a fast-burn policy as one that rolls back, and the function that listens.

The function (functions/auto_rollback) reads its targets from ROLLBACK_TARGETS, a JSON object
{service: {repository, workflow, ref, token}}, where `token` names the environment variable its
Secret Manager token arrives in (GITHUB_TOKEN_<n>, one per distinct secret).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

from components.core.naming import dns_name
from components.gcp.functions.cloud_function_spec import CloudFunctionSpec
from components.serving.model_serving_spec import SecretRef

FUNCTION = "mlinfra-rollback"
"""The stack's rollback function: its `triggers[].name` (no trigger of the stack file may take it)."""
SOURCE = "functions/auto_rollback"
"""Its source, relative to the project root."""
LABEL = "mlinfra-auto-rollback"
"""The user label of a fast-burn policy whose incidents roll the canary back (value `canary`)."""
SERVICE_LABEL = "mlinfra-service"
"""The user label naming the service the policy watches."""
TOKEN_ENV = "GITHUB_TOKEN_{}"


def topic_name(stack: str) -> str:
    """The Pub/Sub topic the rollback channel publishes to (a topic name is unique in a project)."""
    return dns_name("mlinfra-rollback", stack, max_len=255)


@dataclass(frozen=True)
class RollbackTarget:
    service: str
    repository: str
    workflow: str
    ref: str
    token_secret: str


def guarded(services: Iterable[Any]) -> list[Any]:
    """The services with `rollout.autoRollback: true`."""
    return [s for s in services if getattr(getattr(s, "rollout", None), "auto_rollback", False)]


def dispatch_of(service: str, triggers: Iterable[Any]) -> Optional[Any]:
    """The `run.proposeRollout` of the first trigger that proposes rollouts of `service`."""
    for trigger in triggers:
        propose = getattr(trigger.run, "propose_rollout", None) if trigger.run is not None else None
        if propose is not None and propose.service == service:
            return propose
    return None


def targets(services: Iterable[Any], triggers: Sequence[Any]) -> list[RollbackTarget]:
    """Every guarded service that has its dispatch settings (the stack-file rule requires them)."""
    found = []
    for service in guarded(services):
        propose = dispatch_of(service.name, triggers)
        if propose is not None:
            found.append(RollbackTarget(service.name, propose.repository, propose.workflow, propose.ref,
                                        propose.token_secret))
    return found


def canary_running(service: Any) -> bool:
    """A canary takes traffic: only then does the fast-burn alert roll anything back."""
    canary = service.rollout.canary
    return canary is not None and canary.percent > 0


def policy_labels(service: str) -> dict[str, str]:
    """The user labels of a fast-burn policy that rolls `service`'s canary back."""
    return {LABEL: "canary", SERVICE_LABEL: service}


def function_spec(found: Sequence[RollbackTarget], stack: str) -> CloudFunctionSpec:
    """The rollback function as a trigger of the stack: on the rollback topic, reading only the
    token secrets of its targets, retrying failed deliveries (a dispatch is idempotent: the
    workflow finds the abort's branch, or no canary, the second time)."""
    secrets = sorted({t.token_secret for t in found})
    env_of = {secret: TOKEN_ENV.format(i) for i, secret in enumerate(secrets)}
    config = {t.service: {"repository": t.repository, "workflow": t.workflow, "ref": t.ref,
                          "token": env_of[t.token_secret]} for t in found}
    return CloudFunctionSpec.model_validate({
        "name": FUNCTION, "source": SOURCE, "runtime": "python312", "entryPoint": "handle",
        "on": {"pubsub": {"topic": topic_name(stack)}}, "retry": True, "timeoutSeconds": 60, "maxInstances": 2,
        "env": {"ROLLBACK_STACK": stack, "ROLLBACK_TARGETS": json.dumps(config, sort_keys=True)},
        "secrets": [SecretRef(env=env_of[s], secret=s).model_dump(by_alias=True) for s in secrets],
    })
