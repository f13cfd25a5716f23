"""A Cloud Functions trigger on its own: each event kind, its accounts and its source."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from components.core import naming
from components.core.issues import InputError
from components.core.labels import labels_transformation
from components.core.units import cpu_string, memory_mib
from components.gcp.cloudrun.cloud_run_model_server import CloudRunModelServer, CloudRunModelServerArgs
from components.gcp.cloudrun.cloud_run_service_spec import CloudRunServiceSpec
from components.gcp.cloudrun.revisions import revision_name, traffic_split
from components.gcp.functions.cloud_function_spec import CloudFunctionSpec, source_digest
from components.gcp.functions.cloud_function_trigger import CloudFunctionTrigger, CloudFunctionTriggerArgs
from components.gcp.iam.service_account import ServiceAccount
from components.gcp.network.network import Network, NetworkArgs
from components.gcp.network.network_spec import NetworkSpec
from components.gcp.storage.bucket import Bucket, BucketArgs, LifecycleRule
from tests.conftest import ROOT, run_component


def trigger(on: dict, **extra):
    spec = CloudFunctionSpec.model_validate({"name": "t", "source": "functions/on_upload", "on": on, **extra})

    def program():
        lake = Bucket("lake", BucketArgs(name="lake", location="US"))
        sources = Bucket("src", BucketArgs(name="src", location="US"))
        build = ServiceAccount("build")
        topic = __import__("pulumi_gcp").pubsub.Topic("topic", name="jobs")
        CloudFunctionTrigger("fn", CloudFunctionTriggerArgs(
            spec=spec, function_name="t-dev", region="us-central1", project="acme-test", source_bucket=sources,
            source_root=ROOT, build_account=build, network_id="net", subnetwork_id="sub",
            buckets={"dataLake": lake}, topic=topic))
    return run_component(program)


def test_http_trigger_has_no_trigger_account_and_only_named_invokers():
    rec = trigger({"http": {"invokers": ["serviceAccount:ci-runner@acme-test.iam.gserviceaccount.com"]}})
    fn = rec.one("gcp:cloudfunctionsv2/function:Function")
    assert "eventTrigger" not in fn.inputs
    assert fn.inputs["serviceConfig"]["ingressSettings"] == "ALLOW_ALL"
    assert sorted(a.name for a in rec.of_type("gcp:serviceaccount/account:Account")) == ["build", "fn-sa"]
    invokers = rec.of_type("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
    assert [(i.inputs["name"], i.inputs["member"]) for i in invokers] == [
        ("t-dev", "serviceAccount:ci-runner@acme-test.iam.gserviceaccount.com")]


def test_pubsub_trigger_is_invoked_by_its_own_trigger_account_with_retries():
    rec = trigger({"pubsub": {"topic": "jobs"}}, retry=False)
    fn = rec.one("gcp:cloudfunctionsv2/function:Function")
    assert fn.inputs["eventTrigger"] == {
        "triggerRegion": "us-central1", "eventType": "google.cloud.pubsub.topic.v1.messagePublished",
        "pubsubTopic": "projects/acme-test/topics/jobs", "retryPolicy": "RETRY_POLICY_DO_NOT_RETRY",
        "serviceAccountEmail": "fn-trigger@acme-test.iam.gserviceaccount.com"}
    assert fn.inputs["serviceConfig"]["ingressSettings"] == "ALLOW_INTERNAL_ONLY"
    invoker = rec.one("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
    assert invoker.inputs["member"] == "serviceAccount:fn-trigger@acme-test.iam.gserviceaccount.com"
    assert rec.of_type("gcp:projects/iAMMember:IAMMember") == [], "a Pub/Sub trigger needs no project role"
    assert rec.of_type("gcp:storage/notification:Notification") == []


def test_storage_trigger_filters_by_prefix_at_the_bucket_and_reads_that_bucket():
    rec = trigger({"storage": {"bucket": "dataLake", "prefix": "labels/"}})
    note = rec.one("gcp:storage/notification:Notification")
    assert (note.inputs["bucket"], note.inputs["objectNamePrefix"], note.inputs["payloadFormat"]) == (
        "lake", "labels/", "JSON_API_V1")
    publisher = rec.one("gcp:pubsub/topicIAMMember:TopicIAMMember")
    assert publisher.inputs["member"].startswith("serviceAccount:service-") and publisher.urn in note.dependencies
    assert "gcp:storage/getProjectServiceAccount:getProjectServiceAccount" in rec.invokes
    read = rec.one("gcp:storage/bucketIAMMember:BucketIAMMember", "lake-fn-sa-read")
    assert read.inputs["role"] == "roles/storage.objectViewer"


def test_scheduled_trigger_calls_the_function_with_an_oidc_token_of_its_trigger_account():
    rec = trigger({"schedule": {"cron": "*/15 * * * *"}})
    job = rec.one("gcp:cloudscheduler/job:Job")
    fn = rec.one("gcp:cloudfunctionsv2/function:Function")
    run_uri = fn.outputs["serviceConfig"]["uri"]
    assert job.inputs["httpTarget"]["uri"] == run_uri
    assert job.inputs["httpTarget"]["oidcToken"] == {
        "serviceAccountEmail": "fn-trigger@acme-test.iam.gserviceaccount.com", "audience": run_uri}
    assert job.inputs["retryConfig"] == {"retryCount": 3}


def test_function_source_object_is_named_by_the_sources_content(tmp_path: Path):
    (tmp_path / "main.py").write_text("def handle(e): pass\n")
    first = source_digest(tmp_path)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    assert source_digest(tmp_path) == first, "build leftovers do not trigger a rebuild"
    (tmp_path / "main.py").write_text("def handle(e): return 1\n")
    assert source_digest(tmp_path) != first
    rec = trigger({"http": {}})
    obj = rec.one("gcp:storage/bucketObject:BucketObject")
    assert obj.inputs["name"] == f"t/{source_digest(ROOT / 'functions/on_upload')[:16]}.zip"
