"""The chains of triggers with `run`, link by link, as the shipped stacks and small test stacks
plan them: the event source, the identities and their roles, and the workflow's source, run
under the interpreter against fake connectors."""

from __future__ import annotations

import base64
import copy
import json

import kubernetes_validate
import pytest
import yaml

from tests.components.gcp.workflows.interpreter import Interpreter, check
from tests.conftest import run_config, run_stack, stack_config
from infra import config
from infra.errors import ConfigError, key_path
from infra.stackfile import to_engine_config
from tests.conftest import PROJECT
from infra.mocks import project_number

WORKFLOW = "gcp:workflows/workflow:Workflow"
CHAIN = "mlinfra-chain-on-new-labels"


def source_of(rec, name: str) -> dict:
    return yaml.safe_load(rec.one(WORKFLOW, name).inputs["sourceContents"])


def assert_one_error(values: dict, key: str, fragment: str, stack: str) -> None:
    """The stack fails validation with exactly one error, at `key`, whose message holds `fragment`."""
    engine_values, _ = to_engine_config(values)
    with pytest.raises(ConfigError) as caught:
        config.load(engine_values, stack=stack, file=f"stacks/Pulumi.{stack}.yaml", root=PROJECT.root)
    found = [(key_path(i.path), i) for i in caught.value.issues]
    assert [k for k, _ in found] == [key], str(caught.value)
    assert fragment in str(caught.value)


def email_of(rec, account_name: str) -> str:
    account = rec.one("gcp:serviceaccount/account:Account", account_name)
    return f"{account.inputs['accountId']}@{account.inputs['project']}.iam.gserviceaccount.com"


def roles_of(rec, account_name: str) -> set[str]:
    return {r.inputs["role"] for r in rec.of_type("gcp:projects/iAMMember:IAMMember")
            if r.name.startswith(account_name + "-")}


def test_new_labels_reach_the_workflow_through_a_notification_topic_and_eventarc():
    rec = run_stack("hybrid-dev")
    notification = rec.one("gcp:storage/notification:Notification", f"{CHAIN}-notification")
    assert notification.inputs["objectNamePrefix"] == "labels/"
    assert notification.inputs["eventTypes"] == ["OBJECT_FINALIZE"]
    assert notification.inputs["bucket"] == "acme-ml-dev-hybrid-dev-data-lake"
    publisher = rec.one("gcp:pubsub/topicIAMMember:TopicIAMMember", f"{CHAIN}-events-publisher")
    assert publisher.inputs["role"] == "roles/pubsub.publisher"
    assert publisher.inputs["member"].startswith("serviceAccount:service-")  # the Cloud Storage agent only
    trigger = rec.one("gcp:eventarc/trigger:Trigger", f"{CHAIN}-eventarc")
    assert trigger.inputs["matchingCriterias"] == [
        {"attribute": "type", "value": "google.cloud.pubsub.topic.v1.messagePublished"}]
    assert trigger.inputs["destination"]["workflow"].endswith("/workflows/on-new-labels-hybrid-dev")
    assert trigger.inputs["retryPolicy"] == {"maxAttempts": 1}  # a training run is started at most once
    assert trigger.inputs["serviceAccount"] == email_of(rec, f"{CHAIN}-trigger")


def test_each_link_has_its_own_account_with_only_its_roles():
    rec = run_stack("hybrid-dev")
    assert roles_of(rec, f"{CHAIN}-trigger") == {"roles/workflows.invoker"}
    assert roles_of(rec, f"{CHAIN}-sa") == {"roles/logging.logWriter", "roles/container.clusterViewer"}
    role = rec.one("kubernetes:rbac.authorization.k8s.io/v1:Role", f"{CHAIN}-role")
    assert role.inputs["metadata"]["namespace"] == "mlinfra-jobs"
    assert role.inputs["rules"] == [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get"]}]
    binding = rec.one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", f"{CHAIN}-role-binding")
    assert binding.inputs["subjects"][0]["kind"] == "User"
    assert binding.inputs["subjects"][0]["name"] == email_of(rec, f"{CHAIN}-sa")


def test_the_workflow_keeps_history_basic_and_is_replaced_by_deleting_it_first():
    rec = run_stack("hybrid-dev")
    workflow = rec.one(WORKFLOW, CHAIN)
    assert workflow.inputs["name"] == "on-new-labels-hybrid-dev"
    assert workflow.inputs["executionHistoryLevel"] == "EXECUTION_HISTORY_BASIC"
    assert workflow.inputs["callLogLevel"] == "LOG_ERRORS_ONLY"
    assert workflow.inputs["deletionProtection"] is False
    assert workflow.inputs["serviceAccount"] == email_of(rec, f"{CHAIN}-sa")
    assert workflow.delete_before_replace


def test_a_marker_starts_a_run_of_the_gke_job_that_validates_and_is_awaited():
    rec = run_stack("hybrid-dev")
    definition = source_of(rec, CHAIN)
    assert check(definition) == []
    created = {}

    def create(args):
        created.update(args)
        return args["job"]

    result = Interpreter(definition, {"gke.create_job": create, "gke.await_job": lambda a: {}}).run(
        {"data": {"message": {"attributes": {"bucketId": "acme-ml-dev-hybrid-dev-data-lake",
                                             "objectId": "labels/2026-12-01/_READY"}}}})
    job = created["job"]
    kubernetes_validate.validate(job, "1.33", strict=True)
    assert job["metadata"]["name"] == result["job"] == "retrain-ranker-3f2a9c1e"
    assert created["namespace"] == "mlinfra-jobs"
    assert created["cluster_id"].startswith("mlinfra-gke-")  # the cluster's auto-name
    assert created["location"] == "us-central1-a"
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "retrain-ranker"  # the job's Workload Identity account
    assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}  # the GPU pools
    [term] = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert {"key": "cloud.google.com/gke-spot", "operator": "In", "values": ["true"]} in term["matchExpressions"]
    assert {"name": "MLINFRA_EVENT_PREFIX", "value": "gs://acme-ml-dev-hybrid-dev-data-lake/labels/2026-12-01/"} \
        in pod["containers"][0]["env"]


def test_a_job_only_events_start_creates_no_job_at_up():
    values = copy.deepcopy(stack_config("hybrid-dev"))
    del values["mlinfra:jobs"][0]["schedule"]
    rec = run_config(values, stack="hybrid-dev")
    assert rec.of_type("kubernetes:batch/v1:Job") == [] and rec.of_type("kubernetes:batch/v1:CronJob") == []
    assert rec.of_type("kubernetes:core/v1:ServiceAccount")  # what a run needs stays
    assert source_of(rec, CHAIN)["main"]["steps"][-2]["await_job"]


def test_a_new_model_version_dispatches_ci_with_a_token_only_the_workflow_reads():
    rec = run_stack("hybrid-dev")
    name = "mlinfra-chain-on-new-ranker"
    [grant] = rec.of_type("gcp:secretmanager/secretIamMember:SecretIamMember")
    assert (grant.name, grant.inputs["secretId"], grant.inputs["role"]) == (
        f"{name}-reads-token", "mlinfra-github-dispatch-token", "roles/secretmanager.secretAccessor")
    assert grant.inputs["member"] == "serviceAccount:" + email_of(rec, f"{name}-sa")
    assert rec.one("gcp:storage/notification:Notification", f"{name}-notification").inputs["objectNamePrefix"] == \
        "models/ranker/"
    posted = {}
    result = Interpreter(source_of(rec, name), {
        "googleapis.secretmanager.v1.projects.secrets.versions.accessString": lambda a: "token",
        "http.post": lambda a: posted.update(a) or {"code": 204}}).run(
        {"data": {"message": {"attributes": {"bucketId": "acme-ml-dev-hybrid-dev-artifacts",
                                             "objectId": "models/ranker/13/_READY"}}}})
    assert result == {"proposed": "13", "service": "ranker"}
    assert posted["url"].endswith("/repos/acme/ml-platform/actions/workflows/propose-rollout.yml/dispatches")
    assert posted["body"]["inputs"] == {"stack": "hybrid-dev", "service": "ranker", "version": "13"}


def dataflow_with(trigger: dict) -> dict:
    values = copy.deepcopy(stack_config("dataflow-dev"))
    values.setdefault("mlinfra:triggers", []).append(trigger)
    return values


def test_a_scheduled_chain_launches_the_batch_pipeline_and_waits_for_it():
    rec = run_config(dataflow_with({"name": "rescore", "on": {"schedule": {"cron": "0 6 * * 1"}},
                                    "run": {"pipeline": "batch-scoring", "timeoutMinutes": 120}}), stack="dataflow-dev")
    name = "mlinfra-chain-rescore"
    assert roles_of(rec, f"{name}-sa") == {"roles/logging.logWriter", "roles/dataflow.developer"}
    acts = rec.one("gcp:serviceaccount/iAMMember:IAMMember", f"{name}-acts-as-worker")
    assert acts.inputs["role"] == "roles/iam.serviceAccountUser"
    assert acts.inputs["serviceAccountId"].endswith(email_of(rec, "mlinfra-df-batch-scoring-worker"))
    schedule = rec.one("gcp:cloudscheduler/job:Job", f"{name}-schedule")
    assert schedule.inputs["httpTarget"]["uri"].startswith("https://workflowexecutions.googleapis.com/v1/projects/")
    assert schedule.inputs["httpTarget"]["uri"].endswith("/workflows/rescore-dataflow-dev/executions")
    assert json.loads(base64.b64decode(schedule.inputs["httpTarget"]["body"])) == {
        "argument": json.dumps({"schedule": "0 6 * * 1"})}
    assert schedule.inputs["retryConfig"] == {"retryCount": 0}
    launched = {}

    def launch(args):
        launched.update(args)
        return {"job": {"id": "j1"}}

    definition = source_of(rec, name)
    result = Interpreter(definition, {
        "googleapis.dataflow.v1b3.projects.locations.flexTemplates.launch": launch,
        "googleapis.dataflow.v1b3.projects.locations.jobs.get": lambda a: {"currentState": "JOB_STATE_DONE"},
    }).run({"schedule": "0 6 * * 1"})
    assert result == {"job": "j1", "state": "JOB_STATE_DONE"}
    parameter = launched["body"]["launchParameter"]
    assert parameter["jobName"] == "batch-scoring-dataflow-dev"
    assert parameter["environment"]["ipConfiguration"] == "WORKER_IP_PRIVATE"
    assert parameter["parameters"]["modelVersion"] == "3"
    assert "7200" in yaml.safe_dump(definition)  # timeoutMinutes: 120


BROKEN = [
    ({"name": "t", "on": {"schedule": {"cron": "0 6 * * 1"}}, "run": {"pipeline": "nightly"}},
     "mlinfra:triggers[0].run.pipeline", "is not a pipeline of this stack"),
    ({"name": "t", "on": {"pubsub": {"topic": "events"}}, "run": {"pipeline": "streaming-features"}},
     "mlinfra:triggers[0].run.pipeline", "is a streaming pipeline"),
    ({"name": "t", "on": {"schedule": {"cron": "0 6 * * 1"}}, "run": {"job": "retrain"}},
     "mlinfra:triggers[0].run.job", "the stack has no mlinfra:jobs"),
    ({"name": "t", "on": {"storage": {"bucket": "lake"}}, "run": {"pipeline": "batch-scoring"}},
     "mlinfra:triggers[0].on.storage.bucket", "is not one of the stack's buckets"),
    ({"name": "t", "on": {"http": {}}, "run": {"pipeline": "batch-scoring"}},
     "mlinfra:triggers[0].on.http", "starts on storage, pubsub or schedule events"),
    ({"name": "t", "on": {"schedule": {"cron": "0 6 * * 1"}}, "run": {"pipeline": "batch-scoring"}, "memory": "1Gi"},
     "mlinfra:triggers[0].memory", "configures a function"),
    ({"name": "t", "source": "functions/on_upload", "on": {"schedule": {"cron": "0 6 * * 1"}},
      "run": {"pipeline": "batch-scoring"}}, "mlinfra:triggers[0].run", "not both"),
    ({"name": "t", "on": {"schedule": {"cron": "0 6 * * 1"}}}, "mlinfra:triggers[0].source", "is required"),
    ({"name": "t", "on": {"schedule": {"cron": "0 6 * * 1"}}, "run": {"pipeline": "batch-scoring", "job": "x"}},
     "mlinfra:triggers[0].run", "needs exactly one thing to run"),
    ({"name": "t", "source": "functions/on_upload", "on": {"storage": {"bucket": "dataLake", "marker": "_READY"}}},
     "mlinfra:triggers[0].on.storage.marker", "applies to a trigger with run"),
]


@pytest.mark.parametrize("trigger, key, fragment", BROKEN, ids=[b[1].split(".", 1)[1] + ":" + b[2][:20] for b in BROKEN])
def test_a_broken_link_fails_validation_naming_its_key(trigger, key, fragment):
    values = dataflow_with(trigger)
    values["mlinfra:triggers"] = [trigger]
    assert_one_error(values, key, fragment, "dataflow-dev")


HYBRID_BROKEN = [
    ("mlinfra:triggers[1].run.proposeRollout.service", {"service": "reranker"}, "is not a service of this stack"),
    ("mlinfra:triggers[1].on.storage", {"prefix": "models/"}, "must watch the service's versions"),
    ("mlinfra:triggers[0].run.job", {"job": "retrain-rankr"}, "is not a job of this stack"),
]


@pytest.mark.parametrize("key, change, fragment", HYBRID_BROKEN, ids=[h[0] for h in HYBRID_BROKEN])
def test_a_broken_reference_in_the_hybrid_chain_fails_naming_its_key(key, change, fragment):
    values = copy.deepcopy(stack_config("hybrid-dev"))
    labels, ranker = values["mlinfra:triggers"]
    if "job" in change:
        labels["run"]["job"] = change["job"]
    elif "service" in change:
        ranker["run"]["proposeRollout"]["service"] = change["service"]
    else:
        ranker["on"]["storage"]["prefix"] = change["prefix"]
    assert_one_error(values, key, fragment, "hybrid-dev")


def test_a_failed_run_alerts_in_prod_with_an_aligner_its_metric_allows():
    from components.gcp.monitoring.metrics import aligner_issues

    values = copy.deepcopy(stack_config("dataflow-prod"))
    values.setdefault("mlinfra:triggers", []).append(
        {"name": "rescore", "on": {"schedule": {"cron": "0 6 * * 1"}}, "run": {"pipeline": "batch-scoring"}})
    rec = run_config(values, stack="dataflow-prod")
    policy = rec.one("gcp:monitoring/alertPolicy:AlertPolicy", "mlinfra-chain-rescore-failed")
    [condition] = policy.inputs["conditions"]
    threshold = condition["conditionThreshold"]
    assert 'metric.label."status"="FAILED"' in threshold["filter"]
    assert 'resource.label."workflow_id"="rescore-dataflow-prod"' in threshold["filter"]
    [aggregation] = threshold["aggregations"]
    assert aligner_issues("workflows.googleapis.com/finished_execution_count", aggregation["perSeriesAligner"]) == []
    assert policy.inputs["notificationChannels"]  # the stack's channels
    assert rec.one(WORKFLOW, "mlinfra-chain-rescore").inputs["deletionProtection"] is True


def test_dev_chains_without_mlinfra_alerts_raise_none():
    rec = run_stack("hybrid-dev")
    assert not [r for r in rec.of_type("gcp:monitoring/alertPolicy:AlertPolicy") if "-chain-" in r.name]


def test_a_prod_stack_with_a_chain_needs_somewhere_for_its_alerts():
    values = copy.deepcopy(stack_config("dataflow-prod"))
    del values["mlinfra:alerts"]
    values.setdefault("mlinfra:triggers", []).append(
        {"name": "rescore", "on": {"schedule": {"cron": "0 6 * * 1"}}, "run": {"pipeline": "batch-scoring"}})
    assert_one_error(values, "mlinfra:alerts", "event chains", "dataflow-prod")


def test_a_pubsub_message_runs_the_cloud_run_job_with_overrides_granted_on_that_job_only():
    values = copy.deepcopy(stack_config("hybrid-dev"))
    values["mlinfra:triggers"].append({"name": "rescore", "on": {"pubsub": {"topic": "rescore-requests"}},
                                       "run": {"job": "batch-score"}})
    rec = run_config(values, stack="hybrid-dev")
    name = "mlinfra-chain-rescore"
    [grant] = [r for r in rec.of_type("gcp:cloudrunv2/jobIamMember:JobIamMember") if r.name.startswith(name)]
    assert (grant.inputs["name"], grant.inputs["role"]) == ("batch-score-hybrid-dev", "roles/run.jobsExecutorWithOverrides")
    assert grant.inputs["member"] == "serviceAccount:" + email_of(rec, f"{name}-sa")
    assert roles_of(rec, f"{name}-sa") == {"roles/logging.logWriter"}  # nothing project-wide beyond logs
    trigger = rec.one("gcp:eventarc/trigger:Trigger", f"{name}-eventarc")
    assert trigger.inputs["transport"]["pubsub"]["topic"] == "projects/acme-ml-dev/topics/rescore-requests"
    seen = {}
    result = Interpreter(source_of(rec, name), {
        "googleapis.run.v2.projects.locations.jobs.run": lambda a: seen.update(a) or {"name": a["name"] + "/executions/x"},
    }).run({"data": {"message": {"data": base64.b64encode(b"2026-12-01").decode()}}})
    assert seen["name"] == "projects/acme-ml-dev/locations/us-central1/jobs/batch-score-hybrid-dev"
    assert seen["body"]["overrides"]["containerOverrides"][0]["env"] == [
        {"name": "MLINFRA_EVENT_MESSAGE", "value": "2026-12-01"}]
    # 3600 s per attempt, 2 attempts, 2 waves of tasks (4 tasks, 2 at a time), plus 10 minutes.
    assert seen["connector_params"] == {"timeout": 3600 * 2 * 2 + 600}
    assert result["execution"].endswith("/executions/x")


def test_new_labels_through_eventarc_directly_reach_the_workflow_as_cloud_storages_event():
    values = stack_config("hybrid-dev")
    values["mlinfra:triggers"][0]["on"]["storage"]["delivery"] = "eventarc"
    rec = run_config(values, stack="hybrid-dev")
    assert [n.name for n in rec.of_type("gcp:storage/notification:Notification")] == ["mlinfra-chain-on-new-ranker-notification"]
    trigger = rec.one("gcp:eventarc/trigger:Trigger", f"{CHAIN}-eventarc")
    assert trigger.inputs["matchingCriterias"] == [
        {"attribute": "type", "value": "google.cloud.storage.object.v1.finalized"},
        {"attribute": "bucket", "value": "acme-ml-dev-hybrid-dev-data-lake"}]
    assert trigger.inputs["location"] == "us-central1"  # the data lake's location
    assert trigger.inputs["eventDataContentType"] == "application/json"
    assert "transport" not in trigger.inputs
    assert trigger.inputs["retryPolicy"] == {"maxAttempts": 1}
    assert trigger.inputs["destination"]["workflow"].endswith("/workflows/on-new-labels-hybrid-dev")
    assert roles_of(rec, f"{CHAIN}-trigger") == {"roles/workflows.invoker", "roles/eventarc.eventReceiver"}
    # The storage agent publishes on the project (once for the stack), and the trigger waits for it.
    agent = rec.one("gcp:projects/iAMMember:IAMMember", "mlinfra-fn-storage-agent-publisher")
    assert agent.inputs["role"] == "roles/pubsub.publisher"
    assert agent.inputs["member"].endswith("@gs-project-accounts.iam.gserviceaccount.com")
    assert agent.urn in trigger.dependencies
    # The workflow reads the CloudEvent's object and checks the prefix Eventarc cannot filter by.
    machine = Interpreter(source_of(rec, CHAIN), {"gke.create_job": lambda a: a["job"], "gke.await_job": lambda a: {}})
    assert machine.run({"data": {"bucket": "acme-ml-dev-hybrid-dev-data-lake", "name": "scores/x/_READY"}}) == {
        "ignored": "scores/x/_READY", "reason": "outside the prefix labels/"}
    result = machine.run({"data": {"bucket": "acme-ml-dev-hybrid-dev-data-lake", "name": "labels/2026-12-01/_READY"}})
    assert list(result) == ["job"]


def partner_labels(**storage) -> dict:
    """hybrid-dev with its retraining trigger on a bucket the stack does not own."""
    values = copy.deepcopy(stack_config("hybrid-dev"))
    values["mlinfra:triggers"][0]["on"]["storage"] = {"bucket": "gs://partner-labels", "prefix": "labels/", **storage}
    return values


def test_a_run_trigger_on_a_bucket_in_another_project_listens_through_that_projects_storage_agent():
    rec = run_config(partner_labels(project="partner-prod"), stack="hybrid-dev")
    notification = rec.one("gcp:storage/notification:Notification", f"{CHAIN}-notification")
    assert (notification.inputs["bucket"], notification.inputs["objectNamePrefix"], notification.inputs["eventTypes"]) == (
        "partner-labels", "labels/", ["OBJECT_FINALIZE"])
    topic = rec.one("gcp:pubsub/topic:Topic", f"{CHAIN}-events")
    assert topic.inputs["project"] == "acme-ml-dev"  # our topic, in the stack's project
    [publisher] = [r for r in rec.of_type("gcp:pubsub/topicIAMMember:TopicIAMMember") if r.name.startswith(CHAIN)]
    assert (publisher.name, publisher.inputs["role"], publisher.inputs["member"]) == (
        f"{CHAIN}-events-publisher", "roles/pubsub.publisher",
        f"serviceAccount:service-{project_number('partner-prod')}@gs-project-accounts.iam.gserviceaccount.com")
    assert project_number("partner-prod") != project_number("acme-ml-dev")
    assert publisher.urn in notification.dependencies
    trigger = rec.one("gcp:eventarc/trigger:Trigger", f"{CHAIN}-eventarc")
    assert trigger.inputs["matchingCriterias"] == [
        {"attribute": "type", "value": "google.cloud.pubsub.topic.v1.messagePublished"}]
    assert trigger.inputs["location"] == "us-central1"
    # The job reads the partner's bucket through one binding on it; the workflow waits for it.
    reads = [r for r in rec.of_type("gcp:storage/bucketIAMMember:BucketIAMMember") if r.inputs["bucket"] == "partner-labels"]
    assert [(r.name, r.inputs["role"], r.inputs["member"]) for r in reads] == [
        ("mlinfra-bucket-partner-labels-mlinfra-job-retrain-ranker-sa-read", "roles/storage.objectViewer",
         "serviceAccount:" + email_of(rec, "mlinfra-job-retrain-ranker-sa"))]
    assert reads[0].urn in rec.one(WORKFLOW, CHAIN).dependencies
    assert roles_of(rec, f"{CHAIN}-trigger") == {"roles/workflows.invoker"}
    # The marker and prefix rules are the stack bucket's.
    created = {}
    machine = Interpreter(source_of(rec, CHAIN), {"gke.create_job": lambda a: created.update(a) or a["job"],
                                                  "gke.await_job": lambda a: {}})
    event = {"data": {"message": {"attributes": {"bucketId": "partner-labels", "objectId": "labels/2026-12-01/part-0"}}}}
    assert "ignored" in machine.run(event) and not created
    event["data"]["message"]["attributes"]["objectId"] = "labels/2026-12-01/_READY"
    machine.run(event)
    assert {"name": "MLINFRA_EVENT_PREFIX", "value": "gs://partner-labels/labels/2026-12-01/"} in \
        created["job"]["spec"]["template"]["spec"]["containers"][0]["env"]


def test_a_run_trigger_on_a_bucket_of_the_stacks_project_it_does_not_own_may_use_eventarc_where_the_bucket_is():
    rec = run_config(partner_labels(delivery="eventarc", location="europe-west4"), stack="hybrid-dev")
    assert [n.name for n in rec.of_type("gcp:storage/notification:Notification")] == [
        "mlinfra-chain-on-new-ranker-notification"]
    trigger = rec.one("gcp:eventarc/trigger:Trigger", f"{CHAIN}-eventarc")
    assert trigger.inputs["location"] == "europe-west4"  # the bucket's; the workflow stays in us-central1
    assert trigger.inputs["matchingCriterias"] == [
        {"attribute": "type", "value": "google.cloud.storage.object.v1.finalized"},
        {"attribute": "bucket", "value": "partner-labels"}]
    assert rec.one(WORKFLOW, CHAIN).inputs["region"] == "us-central1"
    assert rec.one("gcp:projects/iAMMember:IAMMember", "mlinfra-fn-storage-agent-publisher").urn in trigger.dependencies
    rec = run_config(partner_labels(delivery="eventarc"), stack="hybrid-dev")
    assert rec.one("gcp:eventarc/trigger:Trigger", f"{CHAIN}-eventarc").inputs["location"] == "us-central1"


def test_a_pipeline_started_from_a_bucket_the_stack_does_not_own_reads_it_as_its_workers():
    rec = run_config(dataflow_with({"name": "rescore", "on": {"storage": {"bucket": "gs://partner-scores", "prefix": "in/"}},
                                    "run": {"pipeline": "batch-scoring"}}), stack="dataflow-dev")
    [read] = [r for r in rec.of_type("gcp:storage/bucketIAMMember:BucketIAMMember") if r.inputs["bucket"] == "partner-scores"]
    assert (read.inputs["role"], read.inputs["member"]) == (
        "roles/storage.objectViewer", "serviceAccount:" + email_of(rec, "mlinfra-df-batch-scoring-worker"))
    assert rec.one("gcp:storage/notification:Notification", "mlinfra-chain-rescore-notification").inputs["bucket"] == \
        "partner-scores"


@pytest.mark.parametrize("storage, key, fragment", [
    ({"delivery": "eventarc", "project": "partner-prod"}, "mlinfra:triggers[0].on.storage.project",
     "Eventarc's storage events come from buckets of the trigger's own project"),
    ({"location": "europe-west4"}, "mlinfra:triggers[0].on.storage.location", "with delivery eventarc"),
    ({"delivery": "eventarc", "location": "mars-north1"}, "mlinfra:triggers[0].on.storage.location", "mars-north1"),
])
def test_what_cannot_reach_a_run_trigger_from_a_bucket_the_stack_does_not_own_fails_naming_its_key(storage, key, fragment):
    assert_one_error(partner_labels(**storage), key, fragment, "hybrid-dev")


def test_a_rollout_proposal_still_watches_the_services_own_versions():
    values = copy.deepcopy(stack_config("hybrid-dev"))
    values["mlinfra:triggers"][1]["on"]["storage"]["bucket"] = "gs://partner-models"
    assert_one_error(values, "mlinfra:triggers[1].on.storage", "must watch the service's versions", "hybrid-dev")
