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


def launches_dataflow(r: Any) -> bool:
    """A Dataflow job, or a scheduler job that launches a Flex Template: what the worker rules
    judge. Other scheduler jobs (a function's or a Cloud Run job's schedule) start no Dataflow
    workers, so on a stack that has only those the rules do not apply."""
    if r.type in (FLEX_JOB, CLASSIC_JOB):
        return True
    return r.type == SCHEDULER_JOB and "flexTemplates:launch" in str((r.get("httpTarget") or {}).get("uri") or "")


def launch_environment(r: Any) -> Optional[Mapping[str, Any]]:
    """The launch environment of a scheduler job that launches a Flex Template; None otherwise."""
    if r.type != SCHEDULER_JOB or not launches_dataflow(r):
        return None
    target = r.get("httpTarget") or {}
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


_WORKERS = (FLEX_JOB, CLASSIC_JOB, SCHEDULER_JOB)
# (id, title, reference, check, types, which of them it judges): made rules in policy/rules.py.
DATAFLOW_RULES = (
    ("MLI-DFL-001", "Dataflow workers have no public IP addresses", "CIS GCP 4.9", private_workers, _WORKERS,
     launches_dataflow),
    ("MLI-DFL-002", "Dataflow workers run as a dedicated service account", "CIS GCP 4.1", dedicated_worker_account,
     _WORKERS, launches_dataflow),
    ("MLI-BQ-001", "BigQuery datasets and tables are protected in prod", "mlinfra", protected_bigquery,
     (DATASET, TABLE)),
)
