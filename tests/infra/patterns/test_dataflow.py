"""The dataflow pattern end to end: both stacks plan the streaming job, the scheduled batch
launch, the template spec files, topics, subscriptions, datasets and tables and the worker
accounts with exactly their grants; and every broken pipeline entry fails naming its key."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from components.core.issues import InputError
from components.core.spec import Context, validate
from components.gcp.dataflow.flex_template import spec_content
from components.gcp.dataflow.pipeline_spec import PipelineSpec
from tests.conftest import BASE_CONFIG, run_config, run_stack, stack_config
from tests.infra.test_config import _DROP, assert_one_error, edited, load

BATCH = {"name": "score", "mode": "batch", "source": {"storage": {"bucket": "dataLake", "prefix": "in/"}},
         "sink": {"bigquery": {"dataset": "scoring", "table": "scores",
                               "schema": [{"name": "id", "type": "STRING"}, {"name": "at", "type": "TIMESTAMP"}]}},
         "template": {"source": "pipelines/batch_scoring",
                      "image": "us-central1-docker.pkg.dev/acme-test/mlinfra-test/pipelines/batch_scoring:1"},
         "model": {"uri": "gs://acme-test-test-artifacts/models/churn", "version": "3"},
         "schedule": "0 2 * * *"}
STREAM = {"name": "features", "mode": "streaming", "source": {"pubsub": {"topic": "events"}},
          "sink": {"bigquery": {"dataset": "features", "table": "f", "schema": [{"name": "k", "type": "STRING"}]}},
          "template": {"source": "pipelines/streaming_features",
                       "image": "us-central1-docker.pkg.dev/acme-test/mlinfra-test/pipelines/streaming_features:1"}}


def pipelines(*entries: dict) -> dict[str, Any]:
    return {**copy.deepcopy(BASE_CONFIG), "mlinfra:pattern": "dataflow", "mlinfra:pipelines": list(entries)}


entry = edited


CASES = [
    ("schedule on streaming", pipelines(entry(STREAM, schedule="0 2 * * *")), "mlinfra:pipelines[0].schedule",
     "a streaming pipeline runs continuously and has no schedule"),
    ("pubsub source on batch", pipelines(entry(BATCH, source={"pubsub": {"topic": "events"}})),
     "mlinfra:pipelines[0].source.pubsub", "a batch pipeline cannot read Pub/Sub"),
    ("flexrs on streaming", pipelines(entry(STREAM, flexrs=True)), "mlinfra:pipelines[0].flexrs",
     "for batch pipelines only"),
    ("unknown template parameter", pipelines(entry(BATCH, parameters={"idFeild": "user"})),
     "mlinfra:pipelines[0].parameters.idFeild", "did you mean idField?"),
    ("parameter the stack sets", pipelines(entry(BATCH, parameters={"outputTable": "p:d.t"})),
     "mlinfra:pipelines[0].parameters.outputTable", "is set by the stack from sink"),
    ("parameter against the template's regex", pipelines(entry(BATCH, parameters={"writeMethod": "FAST"})),
     "mlinfra:pipelines[0].parameters.writeMethod", "does not match the template's pattern"),
    ("required parameter missing", pipelines(entry(BATCH, model=_DROP)), "mlinfra:pipelines[0].model",
     "needs modelUri, which comes from model"),
    ("sink the template cannot write", pipelines(entry(BATCH, sink={"storage": {"bucket": "dataLake"}})),
     "mlinfra:pipelines[0].sink.storage", "declares no outputPath"),
    ("mode against the template", pipelines(entry(BATCH, mode="streaming", schedule=_DROP)), "mlinfra:pipelines[0].mode",
     "is a batch pipeline"),
    ("two sources", pipelines(entry(BATCH, source={"storage": {"bucket": "dataLake"}, "bigquery": {"table": "d.t"}})),
     "mlinfra:pipelines[0].source", "needs exactly one source, got 2"),
    ("storage source on a bucket the stack lacks", pipelines(entry(BATCH, source={"storage": {"bucket": "models"}})),
     "mlinfra:pipelines[0].source.storage.bucket", "allowed: dataLake, artifacts"),
    ("topic starting with goog", pipelines(entry(STREAM, source={"pubsub": {"topic": "google-events"}})),
     "mlinfra:pipelines[0].source.pubsub.topic", "goog"),
    ("machine type typo", pipelines(entry(BATCH, workers={"machineType": "n2-standrd-4"})),
     "mlinfra:pipelines[0].workers.machineType", "n2-standard-4"),
    ("max workers below min", pipelines(entry(BATCH, workers={"minWorkers": 5, "maxWorkers": 2})),
     "mlinfra:pipelines[0].workers.maxWorkers", "is below minWorkers (5)"),
    ("cron minute out of range", pipelines(entry(BATCH, schedule="61 2 * * *")), "mlinfra:pipelines[0].schedule",
     "outside 0-59"),
    ("time zone typo", pipelines(entry(BATCH, timeZone="Europe/Berln")), "mlinfra:pipelines[0].timeZone",
     "Europe/Berlin"),
    ("time zone without schedule", pipelines(entry(BATCH, schedule=_DROP, timeZone="Europe/Berlin")),
     "mlinfra:pipelines[0].timeZone", "only applies to a schedule"),
    ("duplicate pipeline", pipelines(BATCH, entry(BATCH, sink__bigquery__table="other")), "mlinfra:pipelines[1].name",
     "is already used by pipelines[0]"),
    ("model outside the artifact bucket", pipelines(entry(BATCH, model={"uri": "gs://elsewhere/m", "version": "1"})),
     "mlinfra:pipelines[0].model.uri", "allowed: gs://acme-test-test-artifacts/<path>"),
    ("two pipelines writing one table", pipelines(BATCH, entry(BATCH, name="again")),
     "mlinfra:pipelines[1].sink.bigquery.table", "is already the sink of pipelines[0]"),
    ("partition field not a time column", pipelines(entry(BATCH, sink__bigquery__partitioning={"field": "id"})),
     "mlinfra:pipelines[0].sink.bigquery.partitioning.field", "is not a TIMESTAMP, DATE or DATETIME column"),
    ("hourly partitions of a DATE column", pipelines(entry(BATCH, sink__bigquery__schema=[
        {"name": "id", "type": "STRING"}, {"name": "day", "type": "DATE"}],
        sink__bigquery__partitioning={"field": "day", "type": "HOUR"})),
     "mlinfra:pipelines[0].sink.bigquery.partitioning.type", "HOUR partitions need a TIMESTAMP or DATETIME column"),
    ("schema and schemaFile", pipelines(entry(BATCH, sink__bigquery__schemaFile="x.json")),
     "mlinfra:pipelines[0].sink.bigquery.schema", "needs exactly one of schema and schemaFile"),
    ("column type typo", pipelines(entry(BATCH, sink__bigquery__schema=[{"name": "id", "type": "STRNG"}])),
     "mlinfra:pipelines[0].sink.bigquery.schema[0].type", "is not a BigQuery column type"),
    ("template folder missing", pipelines(entry(BATCH, template__source="pipelines/nope")),
     "mlinfra:pipelines[0].template.source", "is not a directory"),
    ("template folder without metadata.json", pipelines(entry(BATCH, template__source="pipelines/beamkit")),
     "mlinfra:pipelines[0].template.source", "has no metadata.json"),
    ("image outside Artifact Registry", pipelines(entry(BATCH, template__image="python:3.11")),
     "mlinfra:pipelines[0].template.image", "has a form that is not allowed"),
    ("unknown pipeline key", pipelines(entry(BATCH, shedule="0 2 * * *")), "mlinfra:pipelines[0].shedule",
     "did you mean mlinfra:pipelines[0].schedule?"),
    ("image in another stack's repository", pipelines(entry(BATCH, template__image=BATCH["template"]["image"].replace(
        "mlinfra-test", "mlinfra-prod"))), "mlinfra:pipelines[0].template.image",
     "allowed: us-central1-docker.pkg.dev/acme-test/mlinfra-test/<path>:<tag>"),
]


@pytest.mark.parametrize("values,key,fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rejects_each_broken_pipeline_rule_with_one_message_naming_the_key(values, key, fragment):
    assert_one_error(values, key, fragment)


def test_the_reference_pipelines_validate():
    loaded = load(pipelines(BATCH, STREAM))
    assert [p.name for p in loaded.mlinfra.pipelines] == ["score", "features"]


def test_a_schema_file_is_read_relative_to_the_project_root(tmp_path):
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines/metadata.json").write_text(json.dumps({"parameters": [
        {"name": "outputTable", "isOptional": False}, {"name": "inputTable", "isOptional": False}]}))
    (tmp_path / "schema.json").write_text(json.dumps([{"name": "id", "type": "STRING", "mode": "REQUIRED"}]))
    spec = PipelineSpec.model_validate({**BATCH, "model": None, "source": {"bigquery": {"table": "raw.events"}},
                                        "template": {**BATCH["template"], "source": "pipelines"},
                                        "sink": {"bigquery": {"dataset": "d", "table": "t", "schemaFile": "schema.json"}}})
    assert validate(spec, Context(project="acme-test", stack="test", root=tmp_path)) == []
    assert spec.sink.bigquery.columns(tmp_path) == [{"name": "id", "type": "STRING", "mode": "REQUIRED"}]


def test_the_template_path_changes_exactly_when_the_template_does():
    metadata = {"name": "x", "parameters": []}
    assert spec_content("img:1", metadata) == spec_content("img:1", dict(metadata))
    assert spec_content("img:1", metadata) != spec_content("img:2", metadata)
    rec = run_stack("dataflow-dev")
    objects = {o.name: o.inputs for o in rec.of_type("gcp:storage/bucketObject:BucketObject")}
    content = objects["mlinfra-df-batch-scoring-template"]["content"]
    spec = json.loads(content["value"] if isinstance(content, dict) else content)  # the SDK marks content secret
    assert spec["image"].endswith("/pipelines/batch_scoring:1a2b3c4") and spec["sdkInfo"] == {"language": "PYTHON"}
    assert spec["metadata"]["name"] == "batch_scoring"
    assert objects["mlinfra-df-batch-scoring-template"]["name"].startswith("templates/batch-scoring/")
    prod = {o.name: o.inputs["name"] for o in run_stack("dataflow-prod").of_type("gcp:storage/bucketObject:BucketObject")}
    assert prod["mlinfra-df-batch-scoring-template"] != objects["mlinfra-df-batch-scoring-template"]["name"]


def test_streaming_job_runs_private_on_the_subnet_as_its_worker_and_drains():
    rec = run_stack("dataflow-dev")
    job = rec.one("gcp:dataflow/flexTemplateJob:FlexTemplateJob", "mlinfra-df-streaming-features")
    worker = rec.one("gcp:serviceaccount/account:Account", "mlinfra-df-streaming-features-worker")
    assert job.inputs["ipConfiguration"] == "WORKER_IP_PRIVATE" and job.inputs["enableStreamingEngine"] is True
    assert job.inputs["onDelete"] == "drain" and job.delete_before_replace
    assert job.inputs["serviceAccountEmail"] == worker.outputs["email"]
    assert job.inputs["subnetwork"] == rec.one("gcp:compute/subnetwork:Subnetwork").outputs["selfLink"]
    assert job.inputs["parameters"]["inputSubscription"] == \
        "projects/acme-ml-dev/subscriptions/streaming-features-dataflow-dev"
    assert job.inputs["parameters"]["deadLetterTopic"].endswith("/topics/streaming-features-dataflow-dev-dead-letter")
    assert job.inputs["labels"]["pattern"] == "dataflow"
    assert job.inputs["sdkContainerImage"].endswith("/pipelines/streaming_features:1a2b3c4")


def test_subscription_has_a_dead_letter_topic_and_a_retry_policy():
    rec = run_stack("dataflow-dev")
    subs = {s.name: s.inputs for s in rec.of_type("gcp:pubsub/subscription:Subscription")}
    feed = subs["mlinfra-df-streaming-features-feed"]
    assert feed["deadLetterPolicy"]["deadLetterTopic"].endswith("streaming-features-dataflow-dev-dead-letter")
    assert feed["retryPolicy"] == {"minimumBackoff": "10s", "maximumBackoff": "600s"}
    assert "mlinfra-df-streaming-features-feed-dead-letter" in subs  # dead letters are kept, not dropped
    agent = [g.inputs for g in rec.of_type("gcp:pubsub/topicIAMMember:TopicIAMMember") if "gcp-sa-pubsub" in g.inputs["member"]]
    # One dead-letter topic per streaming pipeline's feed, each with only the agent's publish.
    assert [g["role"] for g in agent] == ["roles/pubsub.publisher"] * 2


def test_batch_pipeline_is_a_scheduled_launch_not_a_job_in_state():
    rec = run_stack("dataflow-prod")
    assert len(rec.of_type("gcp:dataflow/flexTemplateJob:FlexTemplateJob")) == 1  # the streaming one
    job = rec.one("gcp:cloudscheduler/job:Job")
    target = job.inputs["httpTarget"]
    assert target["uri"] == ("https://dataflow.googleapis.com/v1b3/projects/acme-ml-prod/locations/us-central1/"
                             "flexTemplates:launch")
    launcher = rec.one("gcp:serviceaccount/account:Account", "mlinfra-df-batch-scoring-launch-launcher")
    assert target["oauthToken"]["serviceAccountEmail"] == launcher.outputs["email"]
    body = json.loads(base64.b64decode(target["body"]))["launchParameter"]
    env = body["environment"]
    worker = rec.one("gcp:serviceaccount/account:Account", "mlinfra-df-batch-scoring-worker")
    assert env["serviceAccountEmail"] == worker.outputs["email"] and env["ipConfiguration"] == "WORKER_IP_PRIVATE"
    assert env["flexrsGoal"] == "FLEXRS_COST_OPTIMIZED" and env["maxWorkers"] == 20
    assert env["additionalUserLabels"]["environment"] == "prod"
    assert body["containerSpecGcsPath"].startswith("gs://acme-ml-prod-dataflow-prod-dataflow/templates/batch-scoring/")
    assert body["parameters"]["outputTable"] == "acme-ml-prod:scoring.churn_scores"
    assert body["parameters"]["inputPattern"] == "gs://acme-ml-prod-dataflow-prod-data-lake/scoring/*"
    assert "flexrsGoal" not in json.loads(base64.b64decode(
        run_stack("dataflow-dev").one("gcp:cloudscheduler/job:Job").inputs["httpTarget"]["body"]))["launchParameter"]["environment"]


def grants_of(rec, email: str) -> set[tuple[str, str]]:
    """(resource type short name, role) of every grant to one account."""
    member = f"serviceAccount:{email}"
    return {(r.type.split(":")[-1], r.inputs["role"]) for r in rec.custom() if r.inputs.get("member") == member}


def test_each_account_has_exactly_the_roles_its_sources_and_sinks_need():
    rec = run_stack("dataflow-dev")
    email = {a.name: a.outputs["email"] for a in rec.of_type("gcp:serviceaccount/account:Account")}
    assert grants_of(rec, email["mlinfra-df-streaming-features-worker"]) == {
        ("IAMMember", "roles/dataflow.worker"), ("BucketIAMMember", "roles/storage.objectUser"),
        ("RepositoryIamMember", "roles/artifactregistry.reader"), ("SubscriptionIAMMember", "roles/pubsub.subscriber"),
        ("SubscriptionIAMMember", "roles/pubsub.viewer"), ("TopicIAMMember", "roles/pubsub.publisher"),
        ("DatasetIamMember", "roles/bigquery.dataEditor")}
    batch = email["mlinfra-df-batch-scoring-worker"]
    assert grants_of(rec, batch) == {
        ("IAMMember", "roles/dataflow.worker"), ("IAMMember", "roles/bigquery.jobUser"),
        ("BucketIAMMember", "roles/storage.objectUser"), ("BucketIAMMember", "roles/storage.objectViewer"),
        ("RepositoryIamMember", "roles/artifactregistry.reader"), ("DatasetIamMember", "roles/bigquery.dataEditor")}
    buckets = {r.inputs["bucket"]: r.inputs["role"] for r in rec.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
               if r.inputs["member"] == f"serviceAccount:{batch}"}
    assert buckets == {"acme-ml-dev-dataflow-dev-artifacts": "roles/storage.objectViewer",  # the model
                       "acme-ml-dev-dataflow-dev-data-lake": "roles/storage.objectUser",  # input and dead letters
                       "acme-ml-dev-dataflow-dev-dataflow": "roles/storage.objectUser"}  # temp and staging
    launcher = email["mlinfra-df-batch-scoring-launch-launcher"]
    assert grants_of(rec, launcher) == {("IAMMember", "roles/dataflow.developer"),
                                        ("IAMMember", "roles/iam.serviceAccountUser"),
                                        ("BucketIAMMember", "roles/storage.objectViewer")}
    acts_as = rec.one("gcp:serviceaccount/iAMMember:IAMMember")
    assert acts_as.inputs["serviceAccountId"] == f"projects/acme-ml-dev/serviceAccounts/{batch}"


def test_streaming_scoring_gets_its_model_and_topics_from_the_stack_and_may_list_the_markers():
    rec = run_stack("dataflow-dev")
    job = rec.one("gcp:dataflow/flexTemplateJob:FlexTemplateJob", "mlinfra-df-streaming-scoring")
    assert job.inputs["parameters"] == {
        "inputSubscription": "projects/acme-ml-dev/subscriptions/streaming-scoring-dataflow-dev",
        "deadLetterTopic": "projects/acme-ml-dev/topics/streaming-scoring-dataflow-dev-dead-letter",
        "outputTopic": "projects/acme-ml-dev/topics/churn-scores",
        "modelUri": "gs://acme-ml-dev-dataflow-dev-artifacts/models/churn", "modelVersion": "3",
        "modelPollSeconds": "60"}
    assert job.inputs["enableStreamingEngine"] is True and job.inputs["onDelete"] == "drain"
    assert job.inputs["sdkContainerImage"].endswith("/pipelines/streaming_scoring:1a2b3c4")
    worker = rec.one("gcp:serviceaccount/account:Account", "mlinfra-df-streaming-scoring-worker").outputs["email"]
    assert grants_of(rec, worker) == {
        ("IAMMember", "roles/dataflow.worker"), ("BucketIAMMember", "roles/storage.objectUser"),
        ("BucketIAMMember", "roles/storage.objectViewer"), ("RepositoryIamMember", "roles/artifactregistry.reader"),
        ("SubscriptionIAMMember", "roles/pubsub.subscriber"), ("SubscriptionIAMMember", "roles/pubsub.viewer"),
        ("TopicIAMMember", "roles/pubsub.publisher")}
    buckets = {r.inputs["bucket"]: r.inputs["role"] for r in rec.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
               if r.inputs["member"] == f"serviceAccount:{worker}"}
    # objectViewer holds storage.objects.list, which WatchFilePattern's match on <uri>/*/_READY needs; no write.
    assert buckets == {"acme-ml-dev-dataflow-dev-artifacts": "roles/storage.objectViewer",
                       "acme-ml-dev-dataflow-dev-dataflow": "roles/storage.objectUser"}
    publishes = {r.inputs["topic"] for r in rec.of_type("gcp:pubsub/topicIAMMember:TopicIAMMember")
                 if r.inputs["member"] == f"serviceAccount:{worker}"}
    assert publishes == {"churn-scores", "streaming-scoring-dataflow-dev-dead-letter"}
    assert {"churn-features", "churn-scores"} <= {t.inputs["name"] for t in rec.of_type("gcp:pubsub/topic:Topic")}


@pytest.mark.parametrize("stack,protected", [("dataflow-dev", False), ("dataflow-prod", True)])
def test_bigquery_data_is_protected_in_prod_only(stack, protected):
    rec = run_stack(stack)
    tables = rec.of_type("gcp:bigquery/table:Table")
    assert {t.inputs["tableId"] for t in tables} == {"churn_scores", "event_features"}
    assert all(t.inputs["deletionProtection"] is protected and t.protect is protected for t in tables)
    assert all(d.protect is protected for d in rec.of_type("gcp:bigquery/dataset:Dataset"))
    scores = next(t for t in tables if t.inputs["tableId"] == "churn_scores")
    assert scores.inputs["timePartitioning"] == {"type": "DAY", "field": "scored_at"}
    assert json.loads(scores.inputs["schema"])[0] == {"mode": "REQUIRED", "name": "id", "type": "STRING"}


def test_the_pattern_enables_the_apis_its_pipelines_use():
    apis = {s.inputs["service"] for s in run_stack("dataflow-dev").of_type("gcp:projects/service:Service")}
    assert {"dataflow.googleapis.com", "pubsub.googleapis.com", "bigquery.googleapis.com",
            "cloudscheduler.googleapis.com", "artifactregistry.googleapis.com"} <= apis


def test_the_component_refuses_a_spec_whose_topic_it_is_not_given():
    from components.gcp.dataflow.dataflow_pipeline import DataflowPipeline, DataflowPipelineArgs
    from components.gcp.storage.bucket import Bucket, BucketArgs
    from tests.conftest import run_component

    def program():
        from components.gcp.artifactregistry.artifact_registry import ArtifactRegistry, ArtifactRegistryArgs
        from pathlib import Path
        staging = Bucket("staging", BucketArgs(name="acme-test-staging", location="us-central1"))
        images = ArtifactRegistry("images", ArtifactRegistryArgs(repository_id="images", location="us-central1"))
        DataflowPipeline("p", DataflowPipelineArgs(
            spec=PipelineSpec.model_validate(STREAM), project="acme-test", region="us-central1", stack="test",
            source_root=Path(__file__).resolve().parents[3], staging=staging, subnetwork="regions/us-central1/subnetworks/s",
            images=images))

    with pytest.raises(Exception) as caught:
        run_component(program)
    assert "source.pubsub.topic: needs the topic" in str(caught.value)


@pytest.mark.parametrize("edit,key", [
    (lambda t: t.replace("      mode: streaming\n", "      mode: streaming\n      schedule: \"0 2 * * *\"\n", 1),
     "mlinfra:pipelines[1].schedule: a streaming pipeline runs continuously"),
    (lambda t: t.replace("      mode: streaming\n", "      mode: streaming\n      flexrs: true\n", 1),
     "mlinfra:pipelines[1].flexrs: Flexible Resource Scheduling is for batch pipelines only"),
    (lambda t: t.replace("storage: {bucket: dataLake, prefix: scoring/}", "pubsub: {topic: events}"),
     "mlinfra:pipelines[0].source.pubsub: a batch pipeline cannot read Pub/Sub"),
    (lambda t: t.replace("        deadLetterPath:", "        idFeild: user\n        deadLetterPath:"),
     "mlinfra:pipelines[0].parameters.idFeild: is not a parameter of the template"),
], ids=["schedule on streaming", "flexrs on streaming", "pubsub source on batch", "unknown parameter"])
def test_the_cli_refuses_a_broken_pipeline_naming_the_key_without_a_traceback(tmp_path, edit, key):
    import shutil
    import subprocess
    import sys

    from tests.conftest import ROOT

    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    for part in ("infra", "functions", "pipelines"):
        (tmp_path / part).symlink_to(ROOT / part)
    (tmp_path / "stacks").mkdir()
    text = edit((ROOT / "stacks/Pulumi.dataflow-dev.yaml").read_text())
    (tmp_path / "stacks/Pulumi.dataflow-dev.yaml").write_text(text)
    done = subprocess.run([sys.executable, "-m", "infra.cli", "--project-dir", str(tmp_path), "plan", "--stack",
                           "dataflow-dev", "--strict"], capture_output=True, text=True, timeout=180)
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert key in out and "1 error in the stack file" in out
    assert "Traceback" not in out


def test_a_trigger_on_a_pipelines_topic_shares_the_one_topic_the_pipelines_create():
    rec = run_config({**pipelines(STREAM), "mlinfra:triggers": [
        {"name": "t", "source": "functions/on_upload", "on": {"pubsub": {"topic": "events"}}}]})
    [topic] = [r for r in rec.of_type("gcp:pubsub/topic:Topic") if r.inputs.get("name") == "events"]
    [function] = rec.of_type("gcp:cloudfunctionsv2/function:Function")
    assert function.inputs["eventTrigger"]["pubsubTopic"] == "projects/acme-test/topics/events"
    assert topic.name == "mlinfra-topic-events"  # the pipelines' topic, not a second one
