"""services[].logging on GKE servers: each track's pod gets the Cloud Run path's variables (and its
K_REVISION) and publishes to the same kind of topic as its Workload Identity account, which may
publish there and nowhere else; the table, the BigQuery subscription, the drift job (a Cloud Run
job) and its alert are the Cloud Run path's; no log sink; bad values fail naming their key."""

from __future__ import annotations

import copy
import json

import kubernetes_validate
import pytest

from components.gcp.monitoring.request_log import COLUMNS
from infra import config
from infra.stackfile import to_engine_config
from tests.components.gcp.gke.test_secret_manager import errors_of
from tests.conftest import PROJECT, run_config, run_stack, stack_config

IMAGE = "us-docker.pkg.dev/acme/jobs/drift:1"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


# The summarizer's vLLM preset from an image of your own that publishes each request (the stock one cannot).
VLLM_LOGGED = "us-central1-docker.pkg.dev/acme-ml-dev/mlinfra-k8s-dev/vllm-logged:0.8.5"


def k8s_dev(logging: dict, **service) -> dict:
    values = copy.deepcopy(stack_config("k8s-dev"))
    values["mlinfra:services"][0].update({"image": VLLM_LOGGED, **service}, logging=logging)
    return values


def container(rec, track: str = "stable", name: str = "summarizer") -> dict:
    return rec.one(DEPLOYMENT, f"mlinfra-svc-{name}-{track}").inputs["spec"]["template"]["spec"]["containers"][0]


def test_each_track_publishes_to_the_topic_as_its_workload_identity_account_and_nothing_else():
    rec = run_config(k8s_dev({"sampleRate": 0.5}, rollout={"canary": {"version": "8", "percent": 20}}), stack="k8s-dev")
    topic = rec.one("gcp:pubsub/topic:Topic")
    assert topic.inputs["name"] == "summarizer-k8s-dev-requests"
    for track, version in (("stable", "7"), ("canary", "8")):
        env = {e["name"]: e.get("value") for e in container(rec, track)["env"]}
        assert {k: v for k, v in env.items() if k.startswith("REQUEST_LOG_") or k == "K_REVISION"} == {
            "REQUEST_LOG_TOPIC": "projects/acme-ml-dev/topics/summarizer-k8s-dev-requests",
            "REQUEST_LOG_SAMPLE_RATE": "0.5", "REQUEST_LOG_SERVICE": "summarizer",
            "K_REVISION": f"summarizer-{track}-v{version}"}
        assert env["MODEL_VERSION"] == version

    account = rec.one("gcp:serviceaccount/account:Account", "mlinfra-svc-summarizer-sa")
    member = f"serviceAccount:{account.outputs['email']}"
    ksa = rec.one("kubernetes:core/v1:ServiceAccount", "mlinfra-svc-summarizer-ksa").inputs
    assert ksa["metadata"]["annotations"] == {"iam.gke.io/gcp-service-account": account.outputs["email"]}
    wi = rec.one("gcp:serviceaccount/iAMMember:IAMMember", "mlinfra-svc-summarizer-wi").inputs
    assert wi["member"] == "serviceAccount:acme-ml-dev.svc.id.goog[ml-summarizer/summarizer]"
    publish = rec.one("gcp:pubsub/topicIAMMember:TopicIAMMember").inputs
    assert publish == {"project": "acme-ml-dev", "topic": "summarizer-k8s-dev-requests",
                       "role": "roles/pubsub.publisher", "member": member}
    # Everything the pod's Google account holds: the model bucket's read, and publishing to its topic.
    held = sorted((r.type, r.inputs["role"]) for r in rec.registrations
                  if isinstance(r.inputs.get("member"), str) and r.inputs["member"] == member)
    assert held == [("gcp:pubsub/topicIAMMember:TopicIAMMember", "roles/pubsub.publisher"),
                    ("gcp:storage/bucketIAMMember:BucketIAMMember", "roles/storage.objectViewer")]
    # The pod publishes itself: no log sink, no writer identity, no sidecar.
    assert rec.of_type("gcp:logging/projectSink:ProjectSink") == []
    assert [c["name"] for c in rec.one(DEPLOYMENT, "mlinfra-svc-summarizer-stable").inputs["spec"]["template"]["spec"]
            ["containers"]] == ["server"]
    pod = rec.one(DEPLOYMENT, "mlinfra-svc-summarizer-canary").inputs["spec"]["template"]
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": pod["spec"]},
                                 "1.33", strict=True)


def test_the_table_and_its_subscription_are_the_cloud_run_paths():
    rec = run_config(k8s_dev({"retentionDays": 30}), stack="k8s-dev")
    dataset = rec.one("gcp:bigquery/dataset:Dataset", "mlinfra-log-summarizer-bq").inputs
    assert (dataset["datasetId"], dataset["location"]) == ("requests_summarizer_k8s_dev", "us-central1")
    table = rec.one("gcp:bigquery/table:Table", "mlinfra-log-summarizer-bq-records").inputs
    assert json.loads(table["schema"]) == COLUMNS
    assert table["timePartitioning"] == {"type": "DAY", "field": "publish_time", "expirationMs": 30 * 86_400_000}
    assert table["deletionProtection"] is False
    sub = rec.one("gcp:pubsub/subscription:Subscription")
    assert sub.inputs["name"] == "summarizer-k8s-dev-requests-bigquery"
    assert sub.inputs["topic"] == "projects/acme-ml-dev/topics/summarizer-k8s-dev-requests"
    assert sub.inputs["bigqueryConfig"] == {"table": "acme-ml-dev.requests_summarizer_k8s_dev.records",
                                            "useTableSchema": True, "dropUnknownFields": True, "writeMetadata": True}
    editor = rec.one("gcp:bigquery/iamMember:IamMember", "mlinfra-log-summarizer-agent-editor")
    assert (editor.inputs["role"], editor.inputs["tableId"]) == ("roles/bigquery.dataEditor", "records")
    assert editor.inputs["member"].endswith("@gcp-sa-pubsub.iam.gserviceaccount.com")
    assert editor.urn in sub.dependencies
    assert rec.of_type("gcp:cloudrunv2/job:Job") == []  # no drift without `drift`
    apis = {r.inputs["service"] for r in rec.of_type("gcp:projects/service:Service")}
    assert {"pubsub.googleapis.com", "bigquery.googleapis.com"} <= apis and "run.googleapis.com" not in apis


def test_the_prod_ranker_drift_job_is_a_cloud_run_job_reading_its_table_and_alerting_oncall():
    rec = run_stack("k8s-prod")
    job = rec.one("gcp:cloudrunv2/job:Job", "mlinfra-drift-ranker-job")
    assert job.inputs["name"] == "drift-ranker-k8s-prod" and job.inputs["deletionProtection"] is True
    task = job.inputs["template"]["template"]
    assert task["containers"][0]["image"] == "us-central1-docker.pkg.dev/acme-ml-prod/mlinfra-k8s-prod/drift:1"
    assert {e["name"]: e["value"] for e in task["containers"][0]["envs"]} == {
        "DRIFT_PROJECT": "acme-ml-prod", "DRIFT_TABLE": "acme-ml-prod.requests_ranker_k8s_prod.records",
        "DRIFT_SERVICE": "ranker", "DRIFT_THRESHOLD": "0.2", "DRIFT_BINS": "10", "DRIFT_BASELINE_DAYS": "7",
        "DRIFT_CURRENT_DAYS": "1", "DRIFT_MIN_COUNT": "100", "DRIFT_FEATURES": "price,position,query_length"}
    assert rec.one("gcp:cloudscheduler/job:Job", "mlinfra-drift-ranker-job-schedule").inputs["schedule"] == "0 6 * * *"
    # The ranker's pods write the name the job selects by.
    env = {e["name"]: e.get("value") for e in container(rec, "canary", "ranker")["env"]}
    assert (env["REQUEST_LOG_SERVICE"], env["REQUEST_LOG_SAMPLE_RATE"], env["K_REVISION"]) == (
        "ranker", "0.1", "ranker-canary-v13")

    jobs_account = rec.one("gcp:serviceaccount/account:Account", "mlinfra-drift-ranker-job-sa")
    member = f"serviceAccount:{jobs_account.outputs['email']}"
    assert sorted(r.inputs["role"] for r in rec.registrations if r.inputs.get("member") == member) == [
        "roles/bigquery.dataViewer", "roles/bigquery.jobUser", "roles/monitoring.metricWriter"]
    reads = rec.one("gcp:bigquery/iamMember:IamMember", "mlinfra-drift-ranker-reads").inputs
    assert (reads["datasetId"], reads["tableId"]) == ("requests_ranker_k8s_prod", "records")

    policy = rec.one("gcp:monitoring/alertPolicy:AlertPolicy", "mlinfra-drift-ranker-alert")
    threshold = policy.inputs["conditions"][0]["conditionThreshold"]
    assert threshold["filter"] == ('metric.type="custom.googleapis.com/mlinfra/drift/psi" resource.type="global" '
                                   'metric.label."service"="ranker"')
    assert (threshold["comparison"], threshold["thresholdValue"]) == ("COMPARISON_GT", 0.2)
    channel = rec.one("gcp:monitoring/notificationChannel:NotificationChannel")
    assert policy.inputs["notificationChannels"] == [channel.outputs["name"]]
    assert rec.one("gcp:monitoring/metricDescriptor:MetricDescriptor").urn in policy.dependencies
    # Prod: the table is protected; the embedder, which does not log, gets no topic.
    table = rec.one("gcp:bigquery/table:Table", "mlinfra-log-ranker-bq-records")
    assert table.inputs["deletionProtection"] is True and table.protect
    assert [t.inputs["name"] for t in rec.of_type("gcp:pubsub/topic:Topic")] == ["ranker-k8s-prod-requests"]
    assert "REQUEST_LOG_TOPIC" not in {e["name"] for e in container(rec, "stable", "embedder")["env"]}
    apis = {r.inputs["service"] for r in rec.of_type("gcp:projects/service:Service")}
    assert {"run.googleapis.com", "cloudscheduler.googleapis.com", "pubsub.googleapis.com",
            "bigquery.googleapis.com", "monitoring.googleapis.com"} <= apis
    assert rec.outputs["request_logs"] == {"ranker": {
        "topic": "projects/acme-ml-prod/topics/ranker-k8s-prod-requests",
        "table": "acme-ml-prod.requests_ranker_k8s_prod.records", "drift_job": "drift-ranker-k8s-prod"}}


def test_a_server_without_logging_keeps_its_pods_and_may_name_k_revision():
    values = copy.deepcopy(stack_config("k8s-dev"))
    values["mlinfra:services"][0]["env"] = {"K_REVISION": "mine"}
    rec = run_config(values, stack="k8s-dev")
    env = {e["name"]: e.get("value") for e in container(rec)["env"]}
    assert env["K_REVISION"] == "mine" and not any(k.startswith("REQUEST_LOG_") for k in env)
    assert rec.of_type("gcp:pubsub/topic:Topic") == [] and "request_logs" not in rec.outputs


@pytest.mark.parametrize("service, key", [
    ({"env": {"K_REVISION": "mine"}}, "mlinfra:services[0].env.K_REVISION"),
    ({"env": {"REQUEST_LOG_TOPIC": "projects/x/topics/y"}}, "mlinfra:services[0].env.REQUEST_LOG_TOPIC"),
    ({"env": {"REQUEST_LOG_SERVICE": "other"}}, "mlinfra:services[0].env.REQUEST_LOG_SERVICE"),
    ({"secrets": [{"env": "REQUEST_LOG_TOPIC", "secret": "s", "version": "1"}]},
     "mlinfra:services[0].secrets[0].env"),
])
def test_a_variable_of_the_request_log_fails_naming_its_key(service, key):
    assert [path for path, _ in errors_of(k8s_dev({}, **service))] == [key]


@pytest.mark.parametrize("logging, key", [
    ({"sampleRate": 0}, "mlinfra:services[0].logging.sampleRate"),
    ({"sink": "logging"}, "mlinfra:services[0].logging.sink"),
    ({"drift": {}}, "mlinfra:services[0].logging.drift.image"),
    ({"drift": {"image": IMAGE, "features": ["a", "a"]}}, "mlinfra:services[0].logging.drift.features[1]"),
    ({"retentionDays": 7, "drift": {"image": IMAGE}}, "mlinfra:services[0].logging.drift.baselineDays"),
])
def test_each_bad_value_fails_naming_its_key_on_gke_too(logging, key):
    assert [path for path, _ in errors_of(k8s_dev(logging))] == [key]


@pytest.mark.parametrize("stack, index, runtime", [("k8s-dev", 0, "vllm"), ("k8s-prod", 1, "tfserving"),
                                                   ("hybrid-dev", 1, "tfserving")])
def test_a_stock_image_that_runs_no_code_of_yours_cannot_log_on_either_platform(stack, index, runtime):
    values = copy.deepcopy(stack_config(stack))
    values["mlinfra:services"][index]["logging"] = {}
    [(path, message)] = errors_of(values, stack=stack)
    assert path == f"mlinfra:services[{index}].logging" and f"the stock {runtime} image publishes no request log" in message
    values["mlinfra:services"][index]["image"] = "us-central1-docker.pkg.dev/acme/serve/own:1"
    loaded = config.load(to_engine_config(values)[0], stack=stack, file=f"stacks/Pulumi.{stack}.yaml", root=PROJECT.root)
    assert loaded.mlinfra.services[index].logging is not None  # your own image may publish


def test_a_hybrid_stacks_gke_and_cloud_run_servers_log_alike_and_share_one_metric_descriptor():
    values = copy.deepcopy(stack_config("hybrid-dev"))
    for service in values["mlinfra:services"][:2]:
        service["logging"] = {"drift": {"image": IMAGE}}
    values["mlinfra:services"][1]["image"] = "us-central1-docker.pkg.dev/acme-ml-dev/serve/embedder-logged:2.16"
    rec = run_config(values, stack="hybrid-dev")
    assert sorted(t.inputs["name"] for t in rec.of_type("gcp:pubsub/topic:Topic") if t.name.startswith("mlinfra-log-")) == [
        "embedder-hybrid-dev-requests", "ranker-hybrid-dev-requests"]
    assert sorted(j.inputs["name"] for j in rec.of_type("gcp:cloudrunv2/job:Job") if j.name.startswith("mlinfra-drift-")) == [
        "drift-embedder-hybrid-dev", "drift-ranker-hybrid-dev"]
    assert len(rec.of_type("gcp:monitoring/metricDescriptor:MetricDescriptor")) == 1
    cloud_run = rec.one("gcp:cloudrunv2/service:Service").inputs["template"]["containers"][0]["envs"]
    gke = container(rec, "stable", "ranker")["env"]
    names = ("REQUEST_LOG_TOPIC", "REQUEST_LOG_SAMPLE_RATE", "REQUEST_LOG_SERVICE")
    assert [e["name"] for e in cloud_run if e["name"] in names] == [e["name"] for e in gke if e["name"] in names] \
        == list(names)
