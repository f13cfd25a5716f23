"""services[].logging on EKS servers: each track's pod gets the GKE path's variables with
REQUEST_LOG_STREAM for the topic and puts its records to a Firehose stream, which its Pod Identity
role may put to and nothing else; the stream writes GZIP'd JSON lines under the service's prefix
of the data lake, with the buckets' key, as a role that may write that prefix only; the lake
expires the prefix after retentionDays; the drift job is a CronJob on the cluster whose own role
reads the prefix and writes the drift namespace's metrics only, and in prod its alarm notifies the
alert topic; bad values fail naming their key, with the Google Cloud rules."""

from __future__ import annotations

import copy
import json

import kubernetes_validate
import pytest

from components.aws.monitoring import eks_request_logging_spec as spec
from components.gcp.monitoring import request_logging_spec as gcp_spec
from components.serving import request_logging_spec as neutral
from infra.errors import ConfigError, key_path
from infra import config
from infra.stackfile import to_engine_config
from tests.conftest import PROJECT, run_config, run_stack, stack_config

STREAM = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
POLICY, ALARM = "aws:iam/rolePolicy:RolePolicy", "aws:cloudwatch/metricAlarm:MetricAlarm"
DEPLOYMENT, CRONJOB = "kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:CronJob"
LAKE = "mlinfra-eks-prod-us-east-1-data-lake"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlinfra-eks-dev/drift:1"
OWN_VLLM = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlinfra-eks-dev/vllm-logged:0.8.5"


@pytest.fixture(scope="module")
def prod():
    return run_stack("eks-prod")


def statements(rec, name: str) -> list[dict]:
    return json.loads(rec.one(POLICY, name).inputs["policy"])["Statement"]


def container_env(rec, name: str, track: str) -> dict:
    pod = rec.one(DEPLOYMENT, f"mlinfra-svc-{name}-{track}").inputs["spec"]["template"]["spec"]
    return {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}


def eks_dev(logging: dict, **service) -> dict:
    values = copy.deepcopy(stack_config("eks-dev"))
    values["mlinfra:services"][0].update({"image": OWN_VLLM, **service}, logging=logging)
    return values


def errors_of(values: dict, stack: str = "eks-dev") -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        config.load(to_engine_config(values)[0], stack=stack, file=f"stacks/Pulumi.{stack}.yaml", root=PROJECT.root)
    return {key_path(i.path): i.message for i in caught.value.issues}


def test_the_stream_writes_gzipd_json_lines_under_the_services_day_partitions_with_the_buckets_key(prod):
    stream = prod.one(STREAM)
    key = prod.one("aws:kms/key:Key", "mlinfra-storage-key").outputs["arn"]
    assert (stream.inputs["name"], stream.inputs["destination"]) == ("mlinfra-eks-prod-ranker-requests", "extended_s3")
    s3 = stream.inputs["extendedS3Configuration"]
    assert s3["bucketArn"] == f"arn:aws:s3:::{LAKE}" and s3["kmsKeyArn"] == key
    assert s3["prefix"] == "request-logs/ranker/!{timestamp:yyyy/MM/dd}/"
    assert s3["errorOutputPrefix"] == "request-logs/ranker/errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"
    assert s3["compressionFormat"] == "GZIP"
    assert stream.inputs["serverSideEncryption"] == {"enabled": True, "keyType": "CUSTOMER_MANAGED_CMK", "keyArn": key}
    # A fixed name: the old stream goes before its replacement comes.
    assert stream.delete_before_replace is True
    role = prod.one("aws:iam/role:Role", "mlinfra-log-ranker-firehose")
    assert s3["roleArn"] == role.outputs["arn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert [(t["Principal"], list(t["Condition"]["StringEquals"])) for t in trust] == [
        ({"Service": "firehose.amazonaws.com"}, ["sts:ExternalId"])]
    # Firehose's role writes the service's prefix only, and uses the key through S3 only.
    written = statements(prod, "mlinfra-log-ranker-firehose")
    assert [s["Resource"] for s in written if "s3:PutObject" in s["Action"]] == [f"arn:aws:s3:::{LAKE}/request-logs/ranker/*"]
    assert [s.get("Condition") for s in written if s["Action"] == ["s3:ListBucket"]] == [
        {"StringLike": {"s3:prefix": ["request-logs/ranker/*"]}}]
    kms = [s for s in written if any(a.startswith("kms:") for a in s["Action"])]
    assert kms == [{"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": key,
                    "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}}]
    assert all(s["Resource"] in (f"arn:aws:s3:::{LAKE}", f"arn:aws:s3:::{LAKE}/request-logs/ranker/*", key)
               for s in written)


def test_the_lake_expires_the_log_after_retention_days_and_nothing_else_sooner(prod):
    rules = prod.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                     "mlinfra-storage-data-lake-lifecycle").inputs["rules"]
    assert [r["id"] for r in rules] == ["mlinfra", "expire-request-logs-ranker"]
    log = rules[1]
    assert (log["filter"], log["expiration"], log["status"]) == (
        {"prefix": "request-logs/ranker/"}, {"days": 90}, "Enabled")
    # The prod lake is versioned (Object Lock): the expired version goes a day after, once unlocked.
    assert log["noncurrentVersionExpiration"] == {"noncurrentDays": 1}
    artifacts = prod.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                         "mlinfra-storage-artifacts-lifecycle").inputs["rules"]
    assert [r["id"] for r in artifacts] == ["mlinfra"]


def test_each_track_puts_to_its_stream_as_its_pod_identity_role_and_nothing_else(prod):
    for track, version in (("stable", "12"), ("canary", "13")):
        env = container_env(prod, "ranker", track)
        assert {k: v for k, v in env.items() if k.startswith("REQUEST_LOG_") or k == "K_REVISION"} == {
            "REQUEST_LOG_STREAM": "mlinfra-eks-prod-ranker-requests", "REQUEST_LOG_SAMPLE_RATE": "0.1",
            "REQUEST_LOG_SERVICE": "ranker", "K_REVISION": f"ranker-{track}-v{version}"}
    stream_arn = prod.one(STREAM).outputs["arn"]
    held = statements(prod, "mlinfra-svc-ranker-role")
    puts = [s for s in held if any(a.startswith("firehose:") for a in s["Action"])]
    assert puts == [{"Effect": "Allow", "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
                     "Resource": stream_arn}]
    # Beside it only the model's read: no other service, no S3 write.
    assert {a for s in held for a in s["Action"]} == {"firehose:PutRecord", "firehose:PutRecordBatch", "s3:ListBucket",
                                                      "s3:GetObject", "s3:GetObjectVersion", "kms:Decrypt"}
    pod = prod.one(DEPLOYMENT, "mlinfra-svc-ranker-canary").inputs["spec"]["template"]
    assert [c["name"] for c in pod["spec"]["containers"]] == ["server"]  # the pod puts itself: no sidecar
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": pod["spec"]},
                                 "1.33", strict=True)


def test_the_drift_job_is_a_restricted_cronjob_with_a_role_that_reads_the_log_and_writes_its_metrics(prod):
    job = prod.one(CRONJOB, "mlinfra-drift-ranker-job")
    assert job.inputs["metadata"]["namespace"] == "mlinfra-jobs" and job.inputs["metadata"]["name"] == "drift-ranker"
    body = job.inputs["spec"]
    assert (body["schedule"], body["timeZone"], body["concurrencyPolicy"]) == ("0 6 * * *", "Etc/UTC", "Forbid")
    pod = body["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlinfra-eks-prod/drift:1"
    env = {e["name"]: e["value"] for e in container["env"] if e["name"].startswith(("DRIFT_", "AWS_"))}
    assert env == {"DRIFT_SOURCE": "s3", "DRIFT_BUCKET": LAKE, "DRIFT_PREFIX": "request-logs/ranker/",
                   "DRIFT_NAMESPACE": "mlinfra/drift", "DRIFT_SERVICE": "ranker", "AWS_REGION": "us-east-1",
                   "DRIFT_THRESHOLD": "0.2", "DRIFT_BINS": "10", "DRIFT_BASELINE_DAYS": "7",
                   "DRIFT_CURRENT_DAYS": "1", "DRIFT_MIN_COUNT": "100", "DRIFT_FEATURES": "price,position,query_length"}
    assert pod["serviceAccountName"] == "drift-ranker" and pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    kubernetes_validate.validate({"apiVersion": "batch/v1", "kind": "CronJob", **{
        "metadata": job.inputs["metadata"], "spec": body}}, "1.33", strict=True)
    association = prod.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", "mlinfra-drift-ranker-job-role")
    assert (association.inputs["namespace"], association.inputs["serviceAccount"]) == ("mlinfra-jobs", "drift-ranker")

    key = prod.one("aws:kms/key:Key", "mlinfra-storage-key").outputs["arn"]
    assert statements(prod, "mlinfra-drift-ranker-job-role") == [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": f"arn:aws:s3:::{LAKE}",
         "Condition": {"StringLike": {"s3:prefix": ["request-logs/ranker/*"]}}},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
         "Resource": f"arn:aws:s3:::{LAKE}/request-logs/ranker/*"},
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key,
         "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}},
        {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
         "Condition": {"StringEquals": {"cloudwatch:namespace": "mlinfra/drift"}}}]


def test_in_prod_the_max_psi_alarm_notifies_the_alert_topic_and_missing_data_is_not_breaching(prod):
    alarm = prod.one(ALARM, "mlinfra-drift-ranker-alarm").inputs
    assert (alarm["name"], alarm["namespace"], alarm["metricName"], alarm["dimensions"], alarm["statistic"]) == (
        "mlinfra-eks-prod-ranker-drift", "mlinfra/drift", "MaxPSI", {"Service": "ranker"}, "Maximum")
    assert (alarm["comparisonOperator"], alarm["threshold"], alarm["treatMissingData"]) == (
        "GreaterThanThreshold", 0.2, "notBreaching")
    assert alarm["alarmActions"] == [prod.one("aws:sns/topic:Topic").outputs["arn"]]
    assert "drift-ranker" in alarm["alarmDescription"] and "s3://" + LAKE in alarm["alarmDescription"]
    assert "kubectl -n mlinfra-jobs logs" in alarm["alarmDescription"]
    assert prod.outputs["request_logs"] == {"ranker": {
        "stream": "mlinfra-eks-prod-ranker-requests", "records": f"s3://{LAKE}/request-logs/ranker/",
        "drift_job": "drift-ranker"}}


def test_a_dev_server_logs_without_drift_and_its_drift_job_gets_no_alarm_by_default():
    rec = run_config(eks_dev({"retentionDays": 30}), stack="eks-dev")
    assert rec.one(STREAM).inputs["name"] == "mlinfra-eks-dev-summarizer-requests"
    assert rec.of_type(CRONJOB) == [] and rec.of_type(ALARM) == []
    assert rec.outputs["request_logs"]["summarizer"] == {
        "stream": "mlinfra-eks-dev-summarizer-requests",
        "records": "s3://mlinfra-eks-dev-us-east-1-data-lake/request-logs/summarizer/"}
    rules = rec.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                    "mlinfra-storage-data-lake-lifecycle").inputs["rules"]
    assert rules[1]["expiration"] == {"days": 30} and "noncurrentVersionExpiration" not in rules[1]

    rec = run_config(eks_dev({"drift": {"image": IMAGE}}), stack="eks-dev")
    assert [j.inputs["metadata"]["name"] for j in rec.of_type(CRONJOB)] == ["drift-summarizer"]
    assert rec.of_type(ALARM) == [] and rec.of_type("aws:sns/topic:Topic") == []
    rec = run_config(eks_dev({"drift": {"image": IMAGE, "alert": True, "schedule": "@hourly"}}), stack="eks-dev")
    assert rec.one(ALARM).inputs["name"] == "mlinfra-eks-dev-summarizer-drift"
    assert rec.one(CRONJOB).inputs["spec"]["schedule"] == "@hourly"


def test_a_server_without_logging_gets_no_stream_and_may_name_k_revision():
    values = copy.deepcopy(stack_config("eks-dev"))
    values["mlinfra:services"][0]["env"] = {"K_REVISION": "mine"}
    rec = run_config(values, stack="eks-dev")
    assert container_env(rec, "summarizer", "stable")["K_REVISION"] == "mine"
    assert rec.of_type(STREAM) == [] and "request_logs" not in rec.outputs


@pytest.mark.parametrize("logging, service, key", [
    ({"sampleRate": 0}, {}, "mlinfra:services[0].logging.sampleRate"),
    ({"sink": "logging"}, {}, "mlinfra:services[0].logging.sink"),
    ({"drift": {}}, {}, "mlinfra:services[0].logging.drift.image"),
    ({"drift": {"image": IMAGE, "features": ["a", "a"]}}, {}, "mlinfra:services[0].logging.drift.features[1]"),
    ({"retentionDays": 7, "drift": {"image": IMAGE}}, {}, "mlinfra:services[0].logging.drift.baselineDays"),
    ({"drift": {"image": IMAGE, "schedule": "0 6 * *"}}, {}, "mlinfra:services[0].logging.drift.schedule"),
    ({"drift": {"image": IMAGE, "threshold": 0}}, {}, "mlinfra:services[0].logging.drift.threshold"),
    ({}, {"env": {"REQUEST_LOG_STREAM": "other"}}, "mlinfra:services[0].env.REQUEST_LOG_STREAM"),
    ({}, {"env": {"K_REVISION": "mine"}}, "mlinfra:services[0].env.K_REVISION"),
])
def test_each_bad_value_fails_naming_its_key_as_on_google_cloud(logging, service, key):
    assert list(errors_of(eks_dev(logging, **service))) == [key]


def test_the_stock_vllm_image_cannot_log_and_your_own_image_may():
    values = copy.deepcopy(stack_config("eks-dev"))
    values["mlinfra:services"][0]["logging"] = {}
    [(key, message)] = errors_of(values).items()
    assert key == "mlinfra:services[0].logging" and "the stock vllm image publishes no request log" in message
    values["mlinfra:services"][0]["image"] = OWN_VLLM
    loaded = config.load(to_engine_config(values)[0], stack="eks-dev", file="stacks/Pulumi.eks-dev.yaml",
                         root=PROJECT.root)
    assert loaded.mlinfra.services[0].logging is not None


def test_a_job_may_not_take_a_drift_jobs_name():
    values = eks_dev({"drift": {"image": IMAGE}})
    values["mlinfra:jobs"][0]["name"] = "drift-summarizer"
    errors = errors_of(values)
    assert list(errors) == ["mlinfra:jobs[0].name"] and "services[0]'s drift job" in errors["mlinfra:jobs[0].name"]


def test_the_clouds_share_the_rules_and_the_keys():
    # The same keys on both clouds, and the same rules' code (the cloud-neutral module's).
    for field in ("sample_rate", "retention_days", "drift"):
        assert field in spec.EksRequestLoggingSpec.model_fields and field in gcp_spec.RequestLoggingSpec.model_fields
    assert list(spec.EksDriftSpec.model_fields) == list(gcp_spec.DriftSpec.model_fields)
    assert issubclass(spec.EksDriftSpec, neutral.DriftSpec) and issubclass(gcp_spec.DriftSpec, neutral.DriftSpec)
    assert spec.ENV_NAMES[1:] == gcp_spec.GKE_ENV_NAMES[1:]
