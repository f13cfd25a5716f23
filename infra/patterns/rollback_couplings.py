"""The rule that couples `rollout.autoRollback` to the rest of the stack: the fast-burn alert that
fires it exists (the service's `slo`, or prod's default), and the dispatch it makes has the
repository and token of a `run: {proposeRollout}` trigger of that service. No provider import;
paths from the top of the `mlinfra:` namespace.

A service with autoRollback and no canary is valid: the key stays set between canaries (`mlinfra
rollout abort` and `promote` remove only the canary), and the alert rolls back only while one runs.
"""

from __future__ import annotations

from typing import Any

from components.core.issues import Issue
from components.core.spec import Context
from components.gcp.gke.gke_service_spec import objectives_refusal
from components.gcp.monitoring.auto_rollback_spec import FUNCTION, dispatch_of


def auto_rollback_wired(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    issues: list[Issue] = []
    triggers = list(getattr(config, "triggers", []))
    for i, service in enumerate(config.services):
        if not getattr(getattr(service, "rollout", None), "auto_rollback", False):
            continue
        where = ("services", i, "rollout", "autoRollback")
        if objectives_refusal(service) is not None:
            issues.append(Issue(where, "rolls the canary back when the service's fast-burn alert fires, and this "
                                "gRPC server on GKE can have no objectives (so no such alert): "
                                + objectives_refusal(service), True,
                                fix="remove autoRollback, serve the model with runtime triton, or over `protocol: http`"))
        elif service.slo is None and not ctx.prod:
            issues.append(Issue(where, "rolls the canary back when the service's fast-burn alert fires, and the "
                                "service has no objectives (so no such alert)", True,
                                fix="add `slo: {availability: 99.9}` to the service, or remove autoRollback"))
        if dispatch_of(service.name, triggers) is None:
            issues.append(Issue(where, "dispatches the repository's rollout workflow with the GitHub repository and "
                                f"token of a proposeRollout trigger of {service.name}, and the stack has none", True,
                                fix=f"add a trigger with `run: {{proposeRollout: {{service: {service.name}, "
                                    "repository: <owner>/<name>}}` on the artifacts bucket (its tokenSecret is the "
                                    "token the rollback uses too), or remove autoRollback"))
    for i, trigger in enumerate(triggers):
        if trigger.name == FUNCTION:
            issues.append(Issue(("triggers", i, "name"), "is the name of the stack's rollback function "
                                "(services with rollout.autoRollback)", trigger.name, fix="rename the trigger"))
    return issues
