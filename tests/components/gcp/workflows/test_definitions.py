"""Each workflow definition a trigger's `run` becomes, executed step by step against fake
connectors: the marker filter, the event handed to the work, waiting, and failing."""

from __future__ import annotations

import base64

import pytest

from components.gcp.workflows import definitions as d
from tests.components.gcp.workflows.interpreter import CALLS, Interpreter, WorkflowError, check

JOB_ID = "projects/acme-ml-dev/locations/us-central1/jobs/batch-score-hybrid-dev"


def storage_event(obj: str, bucket: str = "acme-ml-dev-hybrid-dev-data-lake") -> dict:
    return {"data": {"message": {"attributes": {"bucketId": bucket, "objectId": obj}, "data": ""}}}


def cloud_run(marker: str = "_READY") -> dict:
    return d.definition(d.read_event("storage", marker=marker), d.cloud_run_job_steps(JOB_ID, 7200))


def test_a_storage_event_on_the_marker_runs_the_cloud_run_job_with_the_event_as_env():
    seen = {}

    def run(args):
        seen.update(args)
        return {"name": JOB_ID + "/executions/batch-score-x1"}

    result = Interpreter(cloud_run(), {"googleapis.run.v2.projects.locations.jobs.run": run}).run(
        storage_event("labels/2026-12-01/_READY"))
    assert result == {"execution": JOB_ID + "/executions/batch-score-x1"}
    assert seen["name"] == JOB_ID
    assert seen["connector_params"] == {"timeout": 7200}
    assert seen["body"]["overrides"]["containerOverrides"][0]["env"] == [
        {"name": "MLINFRA_EVENT_BUCKET", "value": "acme-ml-dev-hybrid-dev-data-lake"},
        {"name": "MLINFRA_EVENT_OBJECT", "value": "gs://acme-ml-dev-hybrid-dev-data-lake/labels/2026-12-01/_READY"},
        {"name": "MLINFRA_EVENT_PREFIX", "value": "gs://acme-ml-dev-hybrid-dev-data-lake/labels/2026-12-01/"},
    ]


@pytest.mark.parametrize("obj", ["labels/2026-12-01/part-0001.csv", "labels/2026-12-01/_READY.tmp", "labels/NOT_READY"])
def test_any_other_object_is_acknowledged_and_starts_nothing(obj):
    machine = Interpreter(cloud_run(), {})
    result = machine.run(storage_event(obj))
    assert result["ignored"] == obj
    assert [c for c, _ in machine.calls] == []


def test_a_failed_execution_is_logged_and_fails_the_workflow():
    def run(args):
        raise WorkflowError({"tags": ["HttpError"], "message": "Execution failed: 1 task failed"})

    machine = Interpreter(cloud_run(), {"googleapis.run.v2.projects.locations.jobs.run": run})
    with pytest.raises(WorkflowError) as failed:
        machine.run(storage_event("labels/x/_READY"))
    assert failed.value.value["message"] == "Execution failed: 1 task failed"
    assert machine.logs[0]["severity"] == "ERROR"
    assert "batch-score-hybrid-dev failed" in machine.logs[0]["json"]["message"]


def storage_cloud_event(obj: str, bucket: str = "acme-ml-dev-hybrid-dev-data-lake") -> dict:
    """Cloud Storage's finalized CloudEvent as Workflows receives it from Eventarc: the object in data."""
    return {"type": "google.cloud.storage.object.v1.finalized", "source": f"//storage.googleapis.com/projects/_/buckets/{bucket}",
            "subject": f"objects/{obj}", "data": {"bucket": bucket, "name": obj, "size": "12", "contentType": "text/csv"}}


def test_a_cloud_storage_event_through_eventarc_runs_the_job_only_for_the_marker_under_the_prefix():
    wf = d.definition(d.read_event("storage", marker="_READY", prefix="labels/", delivery="eventarc"),
                      d.cloud_run_job_steps(JOB_ID, 7200))
    seen = {}
    machine = Interpreter(wf, {"googleapis.run.v2.projects.locations.jobs.run":
                               lambda a: seen.update(a) or {"name": JOB_ID + "/executions/x1"}})
    assert machine.run(storage_cloud_event("labels/2026-12-01/_READY")) == {"execution": JOB_ID + "/executions/x1"}
    assert seen["body"]["overrides"]["containerOverrides"][0]["env"] == [
        {"name": "MLINFRA_EVENT_BUCKET", "value": "acme-ml-dev-hybrid-dev-data-lake"},
        {"name": "MLINFRA_EVENT_OBJECT", "value": "gs://acme-ml-dev-hybrid-dev-data-lake/labels/2026-12-01/_READY"},
        {"name": "MLINFRA_EVENT_PREFIX", "value": "gs://acme-ml-dev-hybrid-dev-data-lake/labels/2026-12-01/"},
    ]
    # Eventarc delivers every object of the bucket: outside the prefix, even a marker starts nothing.
    for obj, reason in (("scores/2026-12-01/_READY", "outside the prefix labels/"),
                        ("labelsX/_READY", "outside the prefix labels/"),
                        ("labels/2026-12-01/part-1.csv", "not the completion marker _READY")):
        machine = Interpreter(wf, {})
        assert machine.run(storage_cloud_event(obj)) == {"ignored": obj, "reason": reason}
        assert machine.calls == []


def test_a_pubsub_message_reaches_the_work_decoded():
    seen = {}
    wf = d.definition(d.read_event("pubsub"), d.cloud_run_job_steps(JOB_ID, 600))
    Interpreter(wf, {"googleapis.run.v2.projects.locations.jobs.run": lambda a: seen.update(a) or {"name": "e"}}).run(
        {"data": {"message": {"data": base64.b64encode(b'{"day": "2026-12-01"}').decode()}}})
    assert seen["body"]["overrides"]["containerOverrides"][0]["env"] == [
        {"name": "MLINFRA_EVENT_MESSAGE", "value": '{"day": "2026-12-01"}'}]


def gke(timeout: int = 3600) -> dict:
    job = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": "retrain-ranker", "namespace": "mlinfra-jobs", "labels": {"app": "x"}},
           "spec": {"template": {"spec": {"containers": [{"name": "job", "image": "i",
                                                          "env": [{"name": "HOME", "value": "/tmp"}]}]}}}}
    return d.definition(d.read_event("storage", marker="_READY"),
                        d.gke_job_steps("mlinfra-hybrid-dev", "us-central1-a", "acme-ml-dev", "mlinfra-jobs", job, timeout))


def test_a_gke_job_run_is_created_named_after_the_execution_and_awaited():
    created = {}

    def create(args):
        created.update(args)
        return args["job"]

    awaited = {}
    result = Interpreter(gke(), {"gke.create_job": create, "gke.await_job": lambda a: awaited.update(a) or {}}).run(
        storage_event("labels/day/_READY"))
    job = created["job"]
    assert job["metadata"]["name"] == "retrain-ranker-3f2a9c1e"
    assert job["metadata"]["labels"] == {"app": "x"}
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[0] == {"name": "HOME", "value": "/tmp"}
    assert [e["name"] for e in env[1:]] == ["MLINFRA_EVENT_BUCKET", "MLINFRA_EVENT_OBJECT", "MLINFRA_EVENT_PREFIX"]
    assert (created["cluster_id"], created["location"], created["namespace"]) == \
        ("mlinfra-hybrid-dev", "us-central1-a", "mlinfra-jobs")
    assert awaited["job_name"] == "retrain-ranker-3f2a9c1e" and awaited["timeout"] == 3600
    assert result == {"job": "retrain-ranker-3f2a9c1e"}


def test_a_failed_gke_job_fails_the_workflow():
    def fail(args):
        raise WorkflowError({"tags": ["FailedJobError"], "message": "job failed"})

    with pytest.raises(WorkflowError):
        Interpreter(gke(), {"gke.create_job": lambda a: a["job"], "gke.await_job": fail}).run(
            storage_event("labels/day/_READY"))


LAUNCH = {"launchParameter": {"jobName": "score-hybrid-dev", "containerSpecGcsPath": "gs://t/score.json",
                              "parameters": {"input": "gs://x"}, "environment": {"serviceAccountEmail": "w@x"}}}


def pipeline(timeout: int = 600) -> dict:
    return d.definition(d.read_event("schedule"), d.pipeline_steps("acme-ml-dev", "us-central1", LAUNCH, timeout))


def dataflow(states: list[str]):
    launched = {}

    def launch(args):
        launched.update(args)
        return {"job": {"id": "2026-12-01_00_00_00-123"}}

    def get(args):
        assert args["jobId"] == "2026-12-01_00_00_00-123"
        return {"currentState": states.pop(0) if len(states) > 1 else states[0]}

    return launched, {"googleapis.dataflow.v1b3.projects.locations.flexTemplates.launch": launch,
                      "googleapis.dataflow.v1b3.projects.locations.jobs.get": get}


def test_a_pipeline_is_launched_under_its_own_job_name_and_polled_until_done():
    launched, connectors = dataflow(["JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_DONE"])
    machine = Interpreter(pipeline(), connectors)
    result = machine.run({"schedule": "0 2 * * *"})
    assert result == {"job": "2026-12-01_00_00_00-123", "state": "JOB_STATE_DONE"}
    parameter = launched["body"]["launchParameter"]
    assert parameter["jobName"] == "score-hybrid-dev"  # one run at a time, watched by name
    assert parameter["containerSpecGcsPath"] == "gs://t/score.json"
    assert [c for c, _ in machine.calls].count("sys.sleep") == 2


@pytest.mark.parametrize("state", ["JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_DRAINED"])
def test_a_pipeline_that_ends_otherwise_fails_the_workflow(state):
    _, connectors = dataflow(["JOB_STATE_RUNNING", state])
    with pytest.raises(WorkflowError) as failed:
        Interpreter(pipeline(), connectors).run({})
    assert failed.value.value["message"] == f"the pipeline score-hybrid-dev ended as {state}"


def test_a_pipeline_that_outlives_its_timeout_fails_the_workflow():
    _, connectors = dataflow(["JOB_STATE_RUNNING"])
    machine = Interpreter(pipeline(timeout=300), connectors)
    with pytest.raises(WorkflowError) as failed:
        machine.run({})
    assert "did not finish within 300 seconds" in failed.value.value["message"]
    assert [c for c, _ in machine.calls].count("sys.sleep") == 6  # 300 s reached, then passed


def dispatch() -> dict:
    return d.definition(d.read_event("storage", marker="_READY"), d.dispatch_steps(
        project="acme-ml-dev", secret="github-dispatch-token", repository="acme/ml-platform",
        workflow="propose-rollout.yml", ref="main", stack="hybrid-dev", service="ranker",
        models_prefix="models/ranker/"))


def test_a_new_model_version_dispatches_the_propose_rollout_workflow_with_its_version():
    posted = {}
    connectors = {
        "googleapis.secretmanager.v1.projects.secrets.versions.accessString":
            lambda a: "ghp_token" if a == {"project_id": "acme-ml-dev", "secret_id": "github-dispatch-token",
                                           "version": "latest"} else None,
        "http.post": lambda a: posted.update(a) or {"code": 204},
    }
    result = Interpreter(dispatch(), connectors).run(
        storage_event("models/ranker/14/_READY", bucket="acme-ml-dev-hybrid-dev-artifacts"))
    assert result == {"proposed": "14", "service": "ranker"}
    assert posted["url"] == "https://api.github.com/repos/acme/ml-platform/actions/workflows/propose-rollout.yml/dispatches"
    assert posted["headers"]["Authorization"] == "Bearer ghp_token"
    assert posted["body"] == {"ref": "main", "inputs": {"stack": "hybrid-dev", "service": "ranker", "version": "14"}}


def test_a_marker_directly_under_the_models_prefix_names_no_version_and_dispatches_nothing():
    machine = Interpreter(dispatch(), {})
    assert machine.run(storage_event("models/ranker/_READY"))["reason"] == "no version directory"
    assert machine.calls == []


def test_the_checker_rejects_what_workflows_would_reject():
    bad = {"main": {"params": ["event"], "steps": [
        {"a": {"call": "googleapis.run.v2.projects.locations.jobs.run", "args": {"nmae": "x"}}},
        {"b": {"assign": [{"x": "prefix-${y}"}], "next": "nowhere"}},
        {"c": {"call": "gke.create_job", "args": {"cluster_id": "c", "job": {}, "timeout": 3600}}},
        {"d": {"call": "googleapis.unknown.v1.thing", "args": {}}},
    ]}}
    problems = check(bad)
    assert any("needs ['name']" in p for p in problems)
    assert any("no arguments ['nmae']" in p for p in problems)
    assert any("whole value" in p for p in problems)
    assert any("'nowhere' is not a step" in p for p in problems)
    assert any("at most 1800" in p for p in problems)
    assert any("unknown call googleapis.unknown" in p for p in problems)


def test_every_definition_calls_only_known_functions():
    for wf in (cloud_run(), gke(), pipeline(), dispatch()):
        assert check(wf) == []
    assert {"gke.create_job", "gke.await_job"} <= set(CALLS)


def test_the_source_is_yaml_workflows_reads_back_unchanged():
    import yaml

    for wf in (cloud_run(), gke(), pipeline(), dispatch()):
        assert yaml.safe_load(d.source(wf)) == wf
