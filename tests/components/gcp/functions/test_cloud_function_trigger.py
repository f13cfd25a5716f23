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
from components.core.spec import Context, validate
from components.gcp.functions.cloud_function_trigger import (CloudFunctionTrigger, CloudFunctionTriggerArgs,
                                                            storage_agent_publisher)
from components.gcp.iam.service_account import ServiceAccount
from components.gcp.network.network import Network, NetworkArgs
from components.gcp.network.network_spec import NetworkSpec
from components.gcp.storage.bucket import Bucket, BucketArgs, LifecycleRule
from infra.mocks import project_number
from tests.conftest import ROOT, run_component


def trigger(on: dict, **extra):
    spec = CloudFunctionSpec.model_validate({"name": "t", "source": "functions/on_upload", "on": on, **extra})

    def program():
        lake = Bucket("lake", BucketArgs(name="lake", location="US"))
        sources = Bucket("src", BucketArgs(name="src", location="US"))
        build = ServiceAccount("build")
        topic = __import__("pulumi_gcp").pubsub.Topic("topic", name="jobs")
        grant = storage_agent_publisher("agent-publisher", "acme-test", pulumi.ResourceOptions()) \
            if spec.on.storage is not None and spec.on.storage.delivery == "eventarc" else None
        CloudFunctionTrigger("fn", CloudFunctionTriggerArgs(
            spec=spec, function_name="t-dev", region="us-central1", project="acme-test", source_bucket=sources,
            source_root=ROOT, build_account=build, network_id="net", subnetwork_id="sub",
            buckets={"dataLake": lake}, topic=topic, storage_agent_grant=grant))
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


def test_storage_trigger_through_eventarc_takes_the_finalized_cloud_event_of_the_bucket_where_it_is():
    rec = trigger({"storage": {"bucket": "dataLake", "delivery": "eventarc"}}, retry=False)
    fn = rec.one("gcp:cloudfunctionsv2/function:Function")
    assert fn.inputs["eventTrigger"] == {
        # The lake is in the US multi-region: its events come from Eventarc's `us` location.
        "triggerRegion": "us", "eventType": "google.cloud.storage.object.v1.finalized",
        "eventFilters": [{"attribute": "bucket", "value": "lake"}], "retryPolicy": "RETRY_POLICY_DO_NOT_RETRY",
        "serviceAccountEmail": "fn-trigger@acme-test.iam.gserviceaccount.com"}
    assert rec.of_type("gcp:storage/notification:Notification") == []
    assert rec.of_type("gcp:pubsub/topic:Topic") == [rec.one("gcp:pubsub/topic:Topic", "topic")], "no topic of its own"
    roles = {(r.name, r.inputs["role"], r.inputs["member"]) for r in rec.of_type("gcp:projects/iAMMember:IAMMember")}
    agent = next(m for n, _, m in roles if n == "agent-publisher")
    assert agent.startswith("serviceAccount:service-") and agent.endswith("@gs-project-accounts.iam.gserviceaccount.com")
    assert roles == {("agent-publisher", "roles/pubsub.publisher", agent),
                     ("fn-trigger-eventarc-eventreceiver", "roles/eventarc.eventReceiver",
                      "serviceAccount:fn-trigger@acme-test.iam.gserviceaccount.com")}
    publisher = rec.one("gcp:projects/iAMMember:IAMMember", "agent-publisher")
    receiver = rec.one("gcp:projects/iAMMember:IAMMember", "fn-trigger-eventarc-eventreceiver")
    assert {publisher.urn, receiver.urn} <= set(fn.dependencies)
    assert rec.one("gcp:storage/bucketIAMMember:BucketIAMMember", "lake-fn-sa-read").inputs["role"] == \
        "roles/storage.objectViewer"


def test_storage_trigger_on_a_bucket_the_stack_does_not_own_reads_that_bucket_alone():
    rec = trigger({"storage": {"bucket": "gs://partner-drops", "prefix": "in/", "project": "partner-prod"}})
    note = rec.one("gcp:storage/notification:Notification")
    assert (note.inputs["bucket"], note.inputs["objectNamePrefix"]) == ("partner-drops", "in/")
    read = rec.one("gcp:storage/bucketIAMMember:BucketIAMMember")
    assert (read.name, read.inputs["bucket"], read.inputs["role"], read.inputs["member"]) == (
        "fn-bucket-fn-sa-read", "partner-drops", "roles/storage.objectViewer",
        "serviceAccount:" + rec.one("gcp:cloudfunctionsv2/function:Function").inputs["serviceConfig"]["serviceAccountEmail"])
    # The service agent of the bucket's project publishes its notifications.
    publisher = rec.one("gcp:pubsub/topicIAMMember:TopicIAMMember")
    assert publisher.inputs["member"] == \
        f"serviceAccount:service-{project_number('partner-prod')}@gs-project-accounts.iam.gserviceaccount.com"
    assert project_number("partner-prod") != project_number("acme-test")
    rec = trigger({"storage": {"bucket": "gs://partner-drops", "delivery": "eventarc", "location": "europe-west4"}})
    event = rec.one("gcp:cloudfunctionsv2/function:Function").inputs["eventTrigger"]
    assert (event["triggerRegion"], event["eventFilters"]) == ("europe-west4", [{"attribute": "bucket", "value": "partner-drops"}])


def storage_issues(storage: dict, **extra) -> dict[str, str]:
    spec = CloudFunctionSpec.model_validate({"name": "t", "source": "functions/on_upload", "on": {"storage": storage}, **extra})
    return {".".join(map(str, i.path)): i.message
            for i in validate(spec, Context(root=ROOT, extra={"bucket_roles": ("dataLake", "artifacts")}))}


@pytest.mark.parametrize("storage, key, fragment", [
    ({"bucket": "dataLake", "delivery": "eventarc", "prefix": "uploads/"}, "on.storage.prefix", "cannot filter Eventarc"),
    ({"bucket": "gs://partner-drops/in/"}, "on.storage.bucket", "the path inside it is the prefix"),
    ({"bucket": "gs://Partner_Drops"}, "on.storage.bucket", ""),
    ({"bucket": "lake"}, "on.storage.bucket", "is not one of the stack's buckets"),
    ({"bucket": "dataLake", "project": "partner-prod"}, "on.storage.project", "the stack's buckets are in its project"),
    ({"bucket": "gs://partner-drops", "delivery": "eventarc", "project": "partner-prod"}, "on.storage.project",
     "from buckets of the trigger's own project"),
    ({"bucket": "dataLake", "delivery": "eventarc", "location": "us"}, "on.storage.location", "a stack bucket's location is known"),
    ({"bucket": "gs://partner-drops", "delivery": "eventarc", "location": "mars-north1"}, "on.storage.location", ""),
])
def test_a_bad_storage_event_fails_naming_its_key(storage, key, fragment):
    found = storage_issues(storage)
    assert key in found, found
    assert fragment in found[key]


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
