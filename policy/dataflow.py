"""The Dataflow guardrails' checks: private worker IPs and dedicated worker accounts on every
job and every scheduled Flex Template launch, and protected BigQuery data in prod. Registered
as rules in policy/rules.py; plain functions over the resources' `type`, `inputs` and `protect`.

A scheduled launch is a Cloud Scheduler job POSTing to `flexTemplates:launch`; its body is the
base64 JSON the Scheduler API takes, decoded here. A body not known yet (a real preview of a
first deployment) is judged on the next preview.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Iterator, Mapping, Optional

FLEX_JOB = "gcp:dataflow/flexTemplateJob:FlexTemplateJob"
CLASSIC_JOB = "gcp:dataflow/job:Job"
SCHEDULER_JOB = "gcp:cloudscheduler/job:Job"
DATASET = "gcp:bigquery/dataset:Dataset"
TABLE = "gcp:bigquery/table:Table"
DEFAULT_COMPUTE = "-compute@developer.gserviceaccount.com"


def launch_environment(r: Any) -> Optional[Mapping[str, Any]]:
    """The launch environment of a scheduler job that launches a Flex Template; None otherwise."""
    target = r.get("httpTarget") or {}
    if r.type != SCHEDULER_JOB or "flexTemplates:launch" not in str(target.get("uri") or ""):
        return None
    try:
        body = json.loads(base64.b64decode(str(target.get("body") or "")))
    except ValueError:
        return None
    return (body.get("launchParameter") or {}).get("environment") or {} if isinstance(body, dict) else None


def _jobs(resources) -> Iterator[tuple[Any, str, Mapping[str, Any]]]:
    """(resource, what it is, its worker settings) for every job and launch."""
    for r in resources:
        if r.type in (FLEX_JOB, CLASSIC_JOB):
            yield r, "the job", {"ipConfiguration": r.get("ipConfiguration"),
                                 "serviceAccountEmail": r.get("serviceAccountEmail")}
        else:
            env = launch_environment(r)
            if env is not None:
                yield r, "the scheduled launch", env


def private_workers(resources, ctx):
    for r, what, env in _jobs(resources):
        if env.get("ipConfiguration") != "WORKER_IP_PRIVATE":
            yield r, f"{what} gives its workers public IP addresses: set ipConfiguration WORKER_IP_PRIVATE"


def dedicated_worker_account(resources, ctx):
    for r, what, env in _jobs(resources):
        account = env.get("serviceAccountEmail")
        if not account or str(account).endswith(DEFAULT_COMPUTE):
            yield r, f"{what} runs its workers as the Compute Engine default service account"


def protected_bigquery(resources, ctx):
    if not ctx.prod:
        return
    for r in resources:
        if r.type in (DATASET, TABLE) and not r.protect:
            yield r, "BigQuery data is not protected in prod"
        if r.type == TABLE and r.get("deletionProtection") is not True:
            yield r, "the table's deletion protection is off in prod"
