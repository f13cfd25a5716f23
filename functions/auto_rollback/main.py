"""Rolls a canary back when its fast-burn alert opens an incident.

Cloud Monitoring's `pubsub` notification channel publishes each incident's notification to the
stack's rollback topic: the message data is base64 JSON, schema version 1.2,
`{"version": "1.2", "incident": {"incident_id", "state": "open"|"closed", "policy_name",
"policy_user_labels": {...}, "url", "summary", "started_at", ...}}`. For an opened incident of a
policy labelled `mlinfra-auto-rollback: canary` (the stack labels only the fast-burn policies of
services with `rollout.autoRollback`), this dispatches the repository's rollout workflow with
`action: abort`: it removes the canary from the stack file and opens the pull request, so the
rollback goes through review and the deploy's approvals like every change.

Anything else (a closed incident, another policy, a service this stack does not guard) is
logged and acknowledged. A redelivered message dispatches again, which is harmless: the workflow
finds the abort's branch already pushed, or no canary left. GitHub refusing the request for
good (4xx) is logged, not retried; a 5xx, 429 or network error raises, so Pub/Sub retries.

Configuration (set by the stack): ROLLBACK_STACK, ROLLBACK_TARGETS (JSON {service: {repository,
workflow, ref, token}}, `token` naming the variable holding that repository's token), and
GITHUB_API (defaults to https://api.github.com; GitHub Enterprise: https://HOST/api/v3).
"""

import base64
import json
import os
import urllib.error
import urllib.request

import functions_framework

LABEL = "mlinfra-auto-rollback"
SERVICE_LABEL = "mlinfra-service"
MAX_REASON = 1000


class RetryLater(Exception):
    """GitHub could not take the dispatch now: raising makes Pub/Sub deliver the message again."""


def incident_of(message: dict) -> dict:
    """The incident in a Pub/Sub message of the channel ({} when the data is not one)."""
    try:
        body = json.loads(base64.b64decode(message.get("data", "")) or b"{}")
    except ValueError:
        return {}
    incident = body.get("incident") if isinstance(body, dict) else None
    return incident if isinstance(incident, dict) else {}


def decide(incident: dict, targets: dict) -> tuple:
    """(service, None) to roll back, else (None, why not)."""
    labels = incident.get("policy_user_labels") or {}
    if labels.get(LABEL) != "canary":
        return None, f"policy {incident.get('policy_name')!r} is not labelled {LABEL}: canary"
    if incident.get("state") != "open":
        return None, f"incident {incident.get('incident_id')} is {incident.get('state')!r}, not open"
    service = labels.get(SERVICE_LABEL)
    if service not in targets:
        return None, f"service {service!r} is not one this stack rolls back ({', '.join(sorted(targets)) or 'none'})"
    return service, None


def reason_of(incident: dict) -> str:
    """Why, for the commit and the pull request: the incident, its policy and its link."""
    text = (f"Cloud Monitoring incident {incident.get('incident_id')} opened: policy "
            f"\"{incident.get('policy_name')}\" ({incident.get('condition_name') or 'burn rate'}). "
            f"{(incident.get('summary') or '').strip()} {incident.get('url') or ''}").strip()
    return text[:MAX_REASON]


def dispatch(api: str, target: dict, token: str, stack: str, service: str, reason: str) -> int:
    """POST /repos/{owner}/{repo}/actions/workflows/{file}/dispatches; GitHub answers 204."""
    url = f"{api.rstrip('/')}/repos/{target['repository']}/actions/workflows/{target['workflow']}/dispatches"
    body = json.dumps({"ref": target["ref"], "inputs": {
        "stack": stack, "service": service, "action": "abort", "reason": reason}}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28", "Content-Type": "application/json",
        "User-Agent": "mlinfra-auto-rollback"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as error:
        if error.code >= 500 or error.code == 429:
            raise RetryLater(f"GitHub answered {error.code} to the dispatch: retrying") from None
        return error.code
    except (urllib.error.URLError, TimeoutError) as error:
        raise RetryLater(f"GitHub could not be reached ({error}): retrying") from None


def log(severity: str, message: str, **fields) -> None:
    print(json.dumps({"severity": severity, "message": message, **fields}), flush=True)


def roll_back(message: dict, environ=os.environ) -> dict:
    """Act on one message; returns what was done (also logged)."""
    targets = json.loads(environ.get("ROLLBACK_TARGETS") or "{}")
    incident = incident_of(message)
    service, why = decide(incident, targets)
    if service is None:
        log("INFO", "no rollback", reason=why)
        return {"dispatched": False, "reason": why}
    target, stack, reason = targets[service], environ["ROLLBACK_STACK"], reason_of(incident)
    status = dispatch(environ.get("GITHUB_API", "https://api.github.com"), target, environ[target["token"]],
                      stack, service, reason)
    done = {"dispatched": status == 204, "status": status, "stack": stack, "service": service,
            "repository": target["repository"], "workflow": target["workflow"], "incident": incident.get("incident_id")}
    log("NOTICE" if status == 204 else "ERROR",
        "canary rollback dispatched" if status == 204 else "GitHub refused the rollback dispatch", **done)
    return done


@functions_framework.cloud_event
def handle(event):
    roll_back(event.data["message"])
