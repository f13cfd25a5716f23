"""The source of the Workflows a trigger's `run` becomes: read the event, check it, run the job
or pipeline (or dispatch the repository's CI), wait for it, and fail the execution when it
fails. Pure functions of plain values, so the definitions are tested offline step by step
(tests/components/gcp/workflows/ runs them under a small interpreter of Workflows' syntax).

Every definition has one `main` with the event as its argument:
- a storage event arrives from a bucket notification through Pub/Sub and Eventarc, as
  `event.data.message.attributes.{bucketId, objectId}`, or (`delivery: eventarc`) as Cloud
  Storage's own finalized CloudEvent, the object in `event.data.{bucket, name}`: Eventarc
  filters those by bucket only, so the workflow ignores objects outside the prefix itself; only
  an object named after the completion marker (`_READY` by default) starts work, every other
  object is acknowledged and ignored, and the work is told the marker's directory;
- a Pub/Sub event carries the message's base64 `data`;
- a schedule's Cloud Scheduler job passes `{"schedule": <cron>}`.
The work sees the event as environment variables (MLINFRA_EVENT_*). Nothing is retried by the
workflow: a job's own retries (`maxRetries`, `backoffLimit`) decide, so a non-idempotent
training run is never started twice by the chain.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import yaml

EXECUTION_ID = 'sys.get_env("GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID")'
POLL_SECONDS = 60
DATAFLOW_DONE = "JOB_STATE_DONE"
DATAFLOW_ENDED = ("JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_DRAINED", "JOB_STATE_UPDATED")
GITHUB_API = "https://api.github.com"


def expr(text: str) -> str:
    """A Workflows expression."""
    return "${" + text + "}"


def quote(value: str) -> str:
    """A string literal inside an expression."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def read_event(kind: str, marker: Optional[str] = None, prefix: str = "",
               delivery: str = "notification") -> list[dict[str, Any]]:
    """Steps that turn the event into `event_env` (name/value pairs for the work) and, for storage
    events, `bucket`, `object` and `directory`; an object that is not the marker ends the run, and
    so does (with eventarc delivery, which cannot filter by prefix) one outside `prefix`."""
    if kind == "storage":
        marker = marker or ""
        where = ("event.data.bucket", "event.data.name") if delivery == "eventarc" else \
            ("event.data.message.attributes.bucketId", "event.data.message.attributes.objectId")
        steps: list[dict[str, Any]] = [{"read_object": {"assign": [
            {"bucket": expr(where[0])},
            {"object": expr(where[1])},
        ]}}]
        if delivery == "eventarc" and prefix:
            steps.append({"only_the_prefix": {"switch": [{
                "condition": expr(f"not text.match_regex(object, {quote('^' + _regex_escape(prefix))})"),
                "return": {"ignored": expr("object"), "reason": f"outside the prefix {prefix}"}}]}})
        if marker:
            steps.append({"only_the_marker": {"switch": [{
                "condition": expr(f"not text.match_regex(object, {quote('(^|/)' + _regex_escape(marker) + '$')})"),
                "return": {"ignored": expr("object"), "reason": f"not the completion marker {marker}"}}]}})
            directory = f"text.substring(object, 0, len(object) - {len(marker)})"
        else:
            directory = "object"
        steps.append({"event_env": {"assign": [
            {"directory": expr(directory)},
            {"event_env": [
                {"name": "MLINFRA_EVENT_BUCKET", "value": expr("bucket")},
                {"name": "MLINFRA_EVENT_OBJECT", "value": expr('"gs://" + bucket + "/" + object')},
                {"name": "MLINFRA_EVENT_PREFIX", "value": expr('"gs://" + bucket + "/" + directory')},
            ]},
        ]}})
        return steps
    if kind == "pubsub":
        return [{"event_env": {"assign": [
            {"message": expr('text.decode(base64.decode(default(map.get(event.data.message, "data"), "")))')},
            {"event_env": [{"name": "MLINFRA_EVENT_MESSAGE", "value": expr("message")}]},
        ]}}]
    if kind == "schedule":
        return [{"event_env": {"assign": [
            {"event_env": [{"name": "MLINFRA_EVENT_SCHEDULE", "value": expr('default(map.get(event, "schedule"), "")')}]},
        ]}}]
    raise ValueError(f"no workflow reads {kind} events")


def _regex_escape(text: str) -> str:
    return "".join("\\" + c if c in r".^$*+?()[]{}|\/" else c for c in text)


def _failed(step: str, what: str) -> dict[str, Any]:
    """An `except` that logs what failed and fails the execution with the original error."""
    return {"as": "error", "steps": [
        {f"{step}_log": {"call": "sys.log", "args": {"severity": "ERROR", "json": {
            "message": f"{what} failed", "error": expr("error")}}}},
        {f"{step}_fail": {"raise": expr("error")}},
    ]}


def cloud_run_job_steps(job_id: str, timeout_seconds: int) -> list[dict[str, Any]]:
    """Execute the Cloud Run job `job_id` (projects/<p>/locations/<r>/jobs/<name>) with the event
    as environment overrides; the connector waits for the execution and raises if it fails."""
    return [{"run_job": {"try": {
        "call": "googleapis.run.v2.projects.locations.jobs.run",
        "args": {"name": job_id, "body": {"overrides": {"containerOverrides": [{"env": expr("event_env")}]}},
                 "connector_params": {"timeout": timeout_seconds}},
        "result": "execution"},
        "except": _failed("run_job", f"the Cloud Run job {job_id.rsplit('/', 1)[-1]}")}},
        {"done": {"return": {"execution": expr("execution.name")}}}]


def gke_job_steps(cluster: str, location: str, project: str, namespace: str, job: Mapping[str, Any],
                  timeout_seconds: int) -> list[dict[str, Any]]:
    """Create a Kubernetes Job from `job` (a batch/v1 Job without a name: it is named after the
    job and the execution, so two events make two runs and a run is named once) with the event
    appended to its container's environment, then wait for it; a failed Job raises FailedJobError."""
    base = job["metadata"]["name"]
    manifest = {**job, "metadata": {**job["metadata"], "name": expr(
        f"{quote(base + '-')} + text.substring({EXECUTION_ID}, 0, 8)")}}
    target = {"cluster_id": cluster, "location": location, "project": project, "namespace": namespace}
    env = "job.spec.template.spec.containers[0].env"
    return [
        {"job_manifest": {"assign": [{"job": manifest}]}},
        {"job_event_env": {"for": {"value": "entry", "in": expr("event_env"), "steps": [
            {"append_entry": {"assign": [{env: expr(f"list.concat({env}, entry)")}]}}]}}},
        {"create_job": {"try": {"call": "gke.create_job", "args": {**target, "job": expr("job")}, "result": "created"},
                        "except": _failed("create_job", f"creating a run of the GKE job {base}")}},
        {"await_job": {"try": {"call": "gke.await_job", "args": {
            **target, "job_name": expr("created.metadata.name"), "timeout": timeout_seconds,
            "polling_policy": {"initial_delay": 30, "max_delay": 300, "multiplier": 2}}, "result": "finished"},
            "except": _failed("await_job", f"the GKE job {base}")}},
        {"done": {"return": {"job": expr("created.metadata.name")}}},
    ]


def pipeline_steps(project: str, region: str, launch: Mapping[str, Any], timeout_seconds: int) -> list[dict[str, Any]]:
    """Launch a batch Flex Template (`launch` is the flexTemplates:launch body, the one its
    schedule sends), poll the job every minute until it is done, and fail when it ends any other
    way or outlives the timeout. The job keeps the pipeline's name: Dataflow refuses a launch
    while a job of that name runs, so two events never run the pipeline at once (the second
    execution fails, and says why), and the pipeline's alerts, which watch that name, see it."""
    parameter = dict(launch["launchParameter"])
    base = parameter["jobName"]
    where = {"projectId": project, "location": region}
    ended = "[" + ", ".join(quote(s) for s in DATAFLOW_ENDED) + "]"
    return [
        {"launch": {"try": {"call": "googleapis.dataflow.v1b3.projects.locations.flexTemplates.launch",
                            "args": {**where, "body": {"launchParameter": parameter}}, "result": "launched"},
                    "except": _failed("launch", f"launching the pipeline {base}")}},
        {"deadline": {"assign": [{"job_id": expr("launched.job.id")},
                                 {"deadline": expr(f"sys.now() + {timeout_seconds}")}]}},
        {"poll": {"call": "googleapis.dataflow.v1b3.projects.locations.jobs.get",
                  "args": {**where, "jobId": expr("job_id")}, "result": "job"}},
        {"check": {"switch": [
            {"condition": expr(f"job.currentState == {quote(DATAFLOW_DONE)}"),
             "return": {"job": expr("job_id"), "state": expr("job.currentState")}},
            {"condition": expr(f"job.currentState in {ended}"),
             "raise": {"message": expr(f'{quote("the pipeline " + base + " ended as ")} + job.currentState'),
                       "job": expr("job_id")}},
            {"condition": expr("sys.now() > deadline"),
             "raise": {"message": f"the pipeline {base} did not finish within {timeout_seconds} seconds",
                       "job": expr("job_id")}},
        ]}},
        {"wait": {"call": "sys.sleep", "args": {"seconds": POLL_SECONDS}, "next": "poll"}},
    ]


def dispatch_steps(*, project: str, secret: str, repository: str, workflow: str, ref: str, stack: str,
                   service: str, models_prefix: str) -> list[dict[str, Any]]:
    """Read the GitHub token and dispatch the repository's propose-rollout workflow with the
    version the marker's directory names (`<models_prefix><version>/`)."""
    version = f"text.split(text.substring(directory, {len(models_prefix)}, len(directory)), \"/\")[0]"
    return [
        {"version": {"assign": [{"version": expr(version)}]}},
        {"version_given": {"switch": [{"condition": expr('version == ""'),
                                       "return": {"ignored": expr("object"), "reason": "no version directory"}}]}},
        {"read_token": {"call": "googleapis.secretmanager.v1.projects.secrets.versions.accessString",
                        "args": {"project_id": project, "secret_id": secret, "version": "latest"}, "result": "token"}},
        {"dispatch": {"try": {"call": "http.post", "args": {
            "url": f"{GITHUB_API}/repos/{repository}/actions/workflows/{workflow}/dispatches",
            "headers": {"Authorization": expr('"Bearer " + token'), "Accept": "application/vnd.github+json",
                        "X-GitHub-Api-Version": "2022-11-28"},
            "body": {"ref": ref, "inputs": {"stack": stack, "service": service, "version": expr("version")}}},
            "result": "response"},
            "except": _failed("dispatch", f"dispatching {workflow} in {repository}")}},
        {"done": {"return": {"proposed": expr("version"), "service": service}}},
    ]


def definition(read: Sequence[dict[str, Any]], work: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"main": {"params": ["event"], "steps": [*read, *work]}}


def source(workflow: Mapping[str, Any]) -> str:
    """The YAML Workflows deploys (stable key order, so an unchanged chain plans no update)."""
    return yaml.safe_dump(dict(workflow), sort_keys=False, width=1000)
