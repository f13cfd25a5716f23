"""services[].logging: the topic the server publishes to, the table a BigQuery subscription
writes, the drift job on its schedule with its grants, and the PSI alert (prod always, dev on
request); each bad value fails validation naming its key."""

from __future__ import annotations

import json

import pytest

from components.gcp.cloudrun.revisions import revision_name
from components.gcp.cloudrun.cloud_run_service_spec import CloudRunServiceSpec
from components.gcp.monitoring.metrics import aligner_issues
from components.gcp.monitoring.request_log import COLUMNS
from infra.errors import ConfigError, key_path
from tests.conftest import run_config
from tests.infra.test_config import CPU_SVC, errors, with_keys

IMAGE = "us-docker.pkg.dev/acme/jobs/drift:1"


def logged(logging: dict, **keys) -> dict:
    return with_keys(services=[{**CPU_SVC, "logging": logging}], **keys)


def only(rec, type_: str) -> dict:
    return rec.one(type_).inputs


def test_the_server_publishes_to_its_own_topic_which_a_bigquery_subscription_writes_to_the_table():
    rec = run_config(logged({"sampleRate": 0.25}))
    topic = rec.one("gcp:pubsub/topic:Topic")
    assert topic.inputs["name"] == "svc-test-requests"
    container = only(rec, "gcp:cloudrunv2/service:Service")["template"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["envs"]}
    assert env["REQUEST_LOG_TOPIC"] == "projects/acme-test/topics/svc-test-requests"
    assert env["REQUEST_LOG_SAMPLE_RATE"] == "0.25"
    assert env["REQUEST_LOG_SERVICE"] == "svc"  # services[].name, what the drift job selects by (not K_SERVICE)

    publish = only(rec, "gcp:pubsub/topicIAMMember:TopicIAMMember")
    account = rec.one("gcp:serviceaccount/account:Account")
    assert publish == {"project": "acme-test", "topic": "svc-test-requests", "role": "roles/pubsub.publisher",
                       "member": f"serviceAccount:{account.outputs['email']}"}

    dataset = only(rec, "gcp:bigquery/dataset:Dataset")
    assert (dataset["datasetId"], dataset["location"], dataset["deleteContentsOnDestroy"]) == (
        "requests_svc_test", "us-central1", True)
    table = rec.one("gcp:bigquery/table:Table")
    assert table.inputs["tableId"] == "records" and table.inputs["deletionProtection"] is False
    assert json.loads(table.inputs["schema"]) == COLUMNS
    assert [(c["name"], c["type"]) for c in json.loads(table.inputs["schema"])] == [
        ("subscription_name", "STRING"), ("message_id", "STRING"), ("publish_time", "TIMESTAMP"),
        ("attributes", "STRING"), ("service", "STRING"), ("revision", "STRING"), ("request_id", "STRING"),
        ("features", "STRING"), ("prediction", "STRING")]
    assert table.inputs["timePartitioning"] == {"type": "DAY", "field": "publish_time", "expirationMs": 90 * 86_400_000}

    sub = rec.one("gcp:pubsub/subscription:Subscription")
    assert sub.inputs["name"] == "svc-test-requests-bigquery"
    assert sub.inputs["bigqueryConfig"] == {"table": "acme-test.requests_svc_test.records", "useTableSchema": True,
                                            "dropUnknownFields": True, "writeMetadata": True}
    assert sub.inputs["expirationPolicy"] == {"ttl": ""}
    editor = rec.one("gcp:bigquery/iamMember:IamMember")
    assert editor.inputs["role"] == "roles/bigquery.dataEditor"
    assert editor.inputs["tableId"] == "records" and editor.inputs["datasetId"] == "requests_svc_test"
    assert editor.inputs["member"].startswith("serviceAccount:service-")
    assert editor.inputs["member"].endswith("@gcp-sa-pubsub.iam.gserviceaccount.com")
    assert editor.urn in sub.dependencies
    # No drift job, no alert without `drift`.
    assert rec.of_type("gcp:cloudrunv2/job:Job") == [] and rec.of_type("gcp:monitoring/alertPolicy:AlertPolicy") == []
    apis = {r.inputs["service"] for r in rec.of_type("gcp:projects/service:Service")}
    assert {"pubsub.googleapis.com", "bigquery.googleapis.com"} <= apis and "cloudscheduler.googleapis.com" not in apis


def test_a_service_without_logging_keeps_its_revision_names_and_gets_no_log():
    plain = CloudRunServiceSpec(**CPU_SVC)
    with_log = CloudRunServiceSpec(**CPU_SVC, logging={})
    assert revision_name("svc-test", plain) != revision_name("svc-test", with_log)
    assert revision_name("svc-test", with_log) == revision_name(
        "svc-test", CloudRunServiceSpec(**CPU_SVC, logging={"drift": {"image": IMAGE}}))
    rec = run_config(with_keys(services=[CPU_SVC]))
    assert rec.of_type("gcp:pubsub/topic:Topic") == [] and rec.of_type("gcp:bigquery/table:Table") == []


def test_the_drift_job_runs_on_its_schedule_reading_the_table_and_writing_the_metric_only():
    drift = {"image": IMAGE, "schedule": "30 5 * * *", "threshold": 0.25, "bins": 20, "baselineDays": 14,
             "currentDays": 2, "minCount": 500, "features": ["age", "income"]}
    rec = run_config(logged({"drift": drift}))
    job = rec.one("gcp:cloudrunv2/job:Job")
    assert job.inputs["name"] == "drift-svc-test"
    task = job.inputs["template"]["template"]
    assert (task["maxRetries"], task["timeout"]) == (1, "1800s")
    assert "vpcAccess" not in task
    assert {e["name"]: e["value"] for e in task["containers"][0]["envs"]} == {
        "DRIFT_PROJECT": "acme-test", "DRIFT_TABLE": "acme-test.requests_svc_test.records", "DRIFT_SERVICE": "svc",
        "DRIFT_THRESHOLD": "0.25", "DRIFT_BINS": "20", "DRIFT_BASELINE_DAYS": "14", "DRIFT_CURRENT_DAYS": "2",
        "DRIFT_MIN_COUNT": "500", "DRIFT_FEATURES": "age,income"}
    assert task["containers"][0]["image"] == IMAGE
    assert only(rec, "gcp:cloudscheduler/job:Job")["schedule"] == "30 5 * * *"

    account = next(r for r in rec.of_type("gcp:serviceaccount/account:Account")
                   if r.name == "mlinfra-drift-svc-job-sa")
    member = f"serviceAccount:{account.outputs['email']}"
    assert task["serviceAccount"] == account.outputs["email"]
    reads = rec.one("gcp:bigquery/iamMember:IamMember", "mlinfra-drift-svc-reads").inputs
    assert (reads["role"], reads["datasetId"], reads["tableId"], reads["member"]) == (
        "roles/bigquery.dataViewer", "requests_svc_test", "records", member)
    granted = sorted((r.inputs["role"], r.inputs["member"]) for r in rec.of_type("gcp:projects/iAMMember:IAMMember")
                     if r.inputs["member"] == member)
    assert granted == [("roles/bigquery.jobUser", member), ("roles/monitoring.metricWriter", member)]
    everything = [r for r in rec.registrations if isinstance(r.inputs.get("member"), str) and r.inputs["member"] == member]
    assert sorted(r.name for r in everything) == ["mlinfra-drift-svc-jobuser", "mlinfra-drift-svc-metricwriter",
                                                  "mlinfra-drift-svc-reads"]

    assert rec.outputs["request_logs"] == {"svc": {"topic": "projects/acme-test/topics/svc-test-requests",
                                                   "table": "acme-test.requests_svc_test.records",
                                                   "drift_job": "drift-svc-test"}}
    descriptor = only(rec, "gcp:monitoring/metricDescriptor:MetricDescriptor")
    assert (descriptor["type"], descriptor["metricKind"], descriptor["valueType"]) == (
        "custom.googleapis.com/mlinfra/drift/psi", "GAUGE", "DOUBLE")
    assert [l["key"] for l in descriptor["labels"]] == ["feature", "service"]
    # A dev stack alerts only when asked.
    assert rec.of_type("gcp:monitoring/alertPolicy:AlertPolicy") == []
    apis = {r.inputs["service"] for r in rec.of_type("gcp:projects/service:Service")}
    assert {"cloudscheduler.googleapis.com", "monitoring.googleapis.com"} <= apis


def test_the_alert_fires_above_the_threshold_notifying_the_stacks_channels():
    rec = run_config(logged({"drift": {"image": IMAGE, "threshold": 0.3}},
                            environment="prod", alerts={"emails": ["ml-oncall@acme.example"]}))
    policy = rec.one("gcp:monitoring/alertPolicy:AlertPolicy", "mlinfra-drift-svc-alert")
    (condition,) = policy.inputs["conditions"]
    threshold = condition["conditionThreshold"]
    assert threshold["filter"] == ('metric.type="custom.googleapis.com/mlinfra/drift/psi" resource.type="global" '
                                   'metric.label."service"="svc"')
    assert (threshold["comparison"], threshold["thresholdValue"], threshold["duration"]) == ("COMPARISON_GT", 0.3, "0s")
    (aggregation,) = threshold["aggregations"]
    assert aligner_issues("custom.googleapis.com/mlinfra/drift/psi", aggregation["perSeriesAligner"]) == []
    channel = rec.one("gcp:monitoring/notificationChannel:NotificationChannel")
    assert policy.inputs["notificationChannels"] == [channel.outputs["name"]]
    assert rec.one("gcp:monitoring/metricDescriptor:MetricDescriptor").urn in policy.dependencies
    assert "**drift-svc-test**" in policy.inputs["documentation"]["content"]
    # Prod: the table and dataset are protected, the job too.
    table = rec.one("gcp:bigquery/table:Table")
    assert table.inputs["deletionProtection"] is True and table.protect
    assert rec.one("gcp:cloudrunv2/job:Job").inputs["deletionProtection"] is True


def test_a_dev_service_alerts_when_asked_and_a_prod_one_can_opt_out():
    dev = run_config(logged({"drift": {"image": IMAGE, "alert": True}}))
    assert len(dev.of_type("gcp:monitoring/alertPolicy:AlertPolicy")) == 1
    prod = run_config(logged({"drift": {"image": IMAGE, "alert": False}}, environment="prod",
                             alerts={"emails": ["ml-oncall@acme.example"]}))
    assert [p.name for p in prod.of_type("gcp:monitoring/alertPolicy:AlertPolicy")
            if "drift" in p.name] == []


def test_two_logged_services_share_one_metric_descriptor():
    rec = run_config(with_keys(services=[{**CPU_SVC, "logging": {"drift": {"image": IMAGE}}},
                                         {**CPU_SVC, "name": "other", "logging": {"drift": {"image": IMAGE}}}]))
    assert len(rec.of_type("gcp:monitoring/metricDescriptor:MetricDescriptor")) == 1
    assert sorted(r.inputs["name"] for r in rec.of_type("gcp:cloudrunv2/job:Job")) == ["drift-other-test",
                                                                                       "drift-svc-test"]


@pytest.mark.parametrize("logging, key", [
    ({"sampleRate": 0}, "mlinfra:services[0].logging.sampleRate"),
    ({"sampleRate": 1.5}, "mlinfra:services[0].logging.sampleRate"),
    ({"retentionDays": 0}, "mlinfra:services[0].logging.retentionDays"),
    ({"table": "t"}, "mlinfra:services[0].logging.table"),
    ({"drift": {}}, "mlinfra:services[0].logging.drift.image"),
    ({"drift": {"image": "not an image"}}, "mlinfra:services[0].logging.drift.image"),
    ({"drift": {"image": IMAGE, "schedule": "61 * * * *"}}, "mlinfra:services[0].logging.drift.schedule"),
    ({"drift": {"image": IMAGE, "threshold": 0}}, "mlinfra:services[0].logging.drift.threshold"),
    ({"drift": {"image": IMAGE, "bins": 1}}, "mlinfra:services[0].logging.drift.bins"),
    ({"drift": {"image": IMAGE, "features": ["a", "a"]}}, "mlinfra:services[0].logging.drift.features[1]"),
    ({"drift": {"image": IMAGE, "features": ["a,b"]}}, "mlinfra:services[0].logging.drift.features[0]"),
    ({"retentionDays": 7, "drift": {"image": IMAGE}}, "mlinfra:services[0].logging.drift.baselineDays"),
])
def test_each_bad_value_fails_naming_its_key(logging, key):
    assert [path for path, _ in errors(logged(logging))] == [key]


def test_the_logging_variables_are_mlinfras():
    values = with_keys(services=[{**CPU_SVC, "env": {"REQUEST_LOG_TOPIC": "x"}, "logging": {}}])
    assert [path for path, _ in errors(values)] == ["mlinfra:services[0].env.REQUEST_LOG_TOPIC"]
    assert run_config(with_keys(services=[{**CPU_SVC, "env": {"REQUEST_LOG_TOPIC": "x"}}]))
