"""Each component on its own, as any Pulumi program would use it: exact child inputs."""

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


def make_network() -> Network:
    return Network("net", NetworkArgs(spec=NetworkSpec(), region="us-central1"))


def test_network_is_private_with_secondary_ranges_nat_and_two_firewall_rules():
    rec = run_component(make_network)
    net = rec.one("gcp:compute/network:Network")
    assert net.inputs["autoCreateSubnetworks"] is False
    subnet = rec.one("gcp:compute/subnetwork:Subnetwork")
    assert subnet.inputs["privateIpGoogleAccess"] is True
    assert subnet.inputs["ipCidrRange"] == "10.10.0.0/20"
    assert subnet.inputs["secondaryIpRanges"] == [
        {"rangeName": "pods", "ipCidrRange": "10.20.0.0/14"},
        {"rangeName": "services", "ipCidrRange": "10.24.0.0/20"}]
    assert "logConfig" not in subnet.inputs
    nat = rec.one("gcp:compute/routerNat:RouterNat")
    assert nat.inputs["natIpAllocateOption"] == "AUTO_ONLY"
    assert nat.inputs["logConfig"] == {"enable": True, "filter": "ERRORS_ONLY"}
    rules = {r.name: r.inputs for r in rec.of_type("gcp:compute/firewall:Firewall")}
    assert rules["net-allow-internal"]["sourceRanges"] == ["10.10.0.0/20", "10.20.0.0/14", "10.24.0.0/20"]
    assert rules["net-allow-health-checks"]["sourceRanges"] == ["35.191.0.0/16", "130.211.0.0/22"]
    assert all(r.parent.endswith("mlinfra:gcp:Network::net") for r in rec.custom())


def test_fails_if_a_component_gets_overlapping_ranges_from_any_program():
    with pytest.raises(InputError, match="servicesCidr: overlaps subnetCidr"):
        run_component(lambda: Network("net", NetworkArgs(spec=NetworkSpec(services_cidr="10.10.1.0/24"), region="us-central1")))


def test_bucket_always_has_uniform_access_and_public_access_prevention():
    rec = run_component(lambda: Bucket("b", BucketArgs(name="acme-b", location="EU", versioning=True,
                                                      lifecycle=[LifecycleRule(noncurrent_versions=3)], protect=True)))
    b = rec.one("gcp:storage/bucket:Bucket")
    assert b.inputs["uniformBucketLevelAccess"] is True
    assert b.inputs["publicAccessPrevention"] == "enforced"
    assert b.inputs["versioning"] == {"enabled": True}
    assert b.inputs["forceDestroy"] is False
    assert b.inputs["lifecycleRules"] == [{"action": {"type": "Delete"},
                                           "condition": {"numNewerVersions": 3, "withState": "ARCHIVED"}}]
    assert b.protect and b.retain_on_delete


def test_bucket_grants_are_intent_level_roles_for_the_principal():
    def program():
        bucket = Bucket("b", BucketArgs(name="acme-b", location="EU"))
        sa = ServiceAccount("reader")
        bucket.grant_read(sa)
        bucket.grant_write(sa)
        bucket.grant_read_write(sa)
    rec = run_component(program)
    grants = {g.name: g.inputs for g in rec.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")}
    assert {n: g["role"] for n, g in grants.items()} == {
        "b-reader-read": "roles/storage.objectViewer", "b-reader-write": "roles/storage.objectCreator",
        "b-reader-readwrite": "roles/storage.objectUser"}
    assert all(g["member"] == "serviceAccount:reader@acme-test.iam.gserviceaccount.com" for g in grants.values())


def test_rejects_basic_roles_on_a_service_account():
    with pytest.raises(InputError, match="basic roles grant far more"):
        run_component(lambda: ServiceAccount("x").grant_project_role("roles/editor"))


def test_service_account_ids_fit_google_rules():
    for parts in [("a",), ("mlinfra-fn-nightly-report-trigger",), ("9lives",), ("x" * 80,)]:
        account = naming.account_id(*parts)
        assert 6 <= len(account) <= 30 and account[0].isalpha() and account == account.lower()
    assert naming.account_id("mlinfra-fn-nightly-report-trigger") != naming.account_id("mlinfra-fn-nightly-report-trigger2")


def test_dns_names_are_cut_with_a_hash_so_long_names_never_collide():
    a, b = naming.dns_name("x" * 70, "a"), naming.dns_name("x" * 70, "b")
    assert len(a) == len(b) == 63 and a != b
    assert naming.dns_name("Acme_ML", "Dev") == "acme-ml-dev"


def test_units_parse_memory_and_format_cpu():
    assert memory_mib("16Gi") == 16384 and memory_mib("512Mi") == 512
    assert cpu_string(4) == "4" and cpu_string(0.5) == "500m"
    with pytest.raises(ValueError):
        memory_mib("16 GB")


def test_labels_transformation_merges_under_a_resources_own_labels_and_skips_unlabelled_types():
    import pulumi_gcp as gcp

    def program():
        parent = pulumi.ComponentResource("test:index:Parent", "p", None,
                                          pulumi.ResourceOptions(transformations=[labels_transformation({"team": "a", "env": "dev"})]))
        gcp.pubsub.Topic("t", labels={"team": "b"}, opts=pulumi.ResourceOptions(parent=parent))
        gcp.pubsub.TopicIAMMember("m", topic="t", role="roles/pubsub.publisher", member="user:x@y.z",
                                  opts=pulumi.ResourceOptions(parent=parent))
    rec = run_component(program)
    assert rec.one("gcp:pubsub/topic:Topic").inputs["labels"] == {"team": "b", "env": "dev"}
    assert "labels" not in rec.one("gcp:pubsub/topicIAMMember:TopicIAMMember").inputs


GPU = CloudRunServiceSpec.model_validate({
    "name": "llm", "runtime": "vllm", "model": {"uri": "gs://art/models/llm", "version": "7"},
    "resources": {"cpu": 8, "memory": "32Gi", "gpu": {"type": "nvidia-l4"}}, "scaling": {"maxReplicas": 3},
    "rollout": {"canary": {"version": "8", "percent": 25}}, "invokers": ["group:ml@acme.example"]})


def test_revision_names_follow_version_and_settings_so_the_stable_revision_is_found_again():
    before_canary = GPU.model_copy(update={"rollout": GPU.rollout.model_copy(update={"canary": None})})
    stable_then = traffic_split("llm-dev", before_canary)
    stable_now, canary_now = traffic_split("llm-dev", GPU)
    assert stable_then == [(stable_now[0], 100, "stable")]
    assert (stable_now[1], stable_now[2], canary_now[1], canary_now[2]) == (75, "stable", 25, "canary")
    assert stable_now[0].startswith("llm-dev-v7-") and canary_now[0].startswith("llm-dev-v8-")
    promoted = GPU.model_copy(update={"model": GPU.model.model_copy(update={"version": "8"}), "rollout": before_canary.rollout})
    assert traffic_split("llm-dev", promoted) == [(canary_now[0], 100, "stable")]
    changed = before_canary.model_copy(update={"env": {"LOG_LEVEL": "debug"}})
    assert revision_name("llm-dev", changed) != stable_now[0], "new settings make a new revision"
    assert revision_name("llm-dev", before_canary, {"egress": "allTraffic"}) != stable_now[0], \
        "so do settings outside the spec that shape the template"
    pinned = GPU.model_copy(update={"rollout": GPU.rollout.model_copy(update={"stable_revision": "llm-dev-v7-abc123"})})
    assert traffic_split("llm-dev", pinned)[0] == ("llm-dev-v7-abc123", 75, "stable")


def serve(spec: CloudRunServiceSpec, region: str = "us-central1"):
    def program():
        art = Bucket("art", BucketArgs(name="art", location="US"))
        CloudRunModelServer("srv", CloudRunModelServerArgs(
            spec=spec, service_name="llm-dev", region=region, project="acme-test", network_id="net", subnetwork_id="sub",
            model_bucket=art))
    return run_component(program)


def test_model_server_runs_vllm_on_an_l4_with_the_model_mounted_read_only():
    rec = serve(GPU)
    svc = rec.one("gcp:cloudrunv2/service:Service")
    container = svc.inputs["template"]["containers"][0]
    assert container["image"] == "vllm/vllm-openai:v0.8.5"
    assert container["args"] == ["--model", "/models/llm/8", "--served-model-name", "llm", "--port", "8000"]
    assert container["volumeMounts"] == [{"name": "model", "mountPath": "/models/llm/8"}]
    assert container["startupProbe"] == {"httpGet": {"path": "/health", "port": 8000}, "failureThreshold": 60,
                                         "periodSeconds": 10, "initialDelaySeconds": 0, "timeoutSeconds": 5}
    assert container["resources"] == {"limits": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "1"},
                                      "cpuIdle": False, "startupCpuBoost": True}
    assert svc.inputs["template"]["vpcAccess"] == {
        "egress": "PRIVATE_RANGES_ONLY", "networkInterfaces": [{"network": "net", "subnetwork": "sub"}]}
    assert svc.inputs["template"]["serviceAccount"] == "srv-sa@acme-test.iam.gserviceaccount.com"
    assert svc.inputs["scaling"] == {"minInstanceCount": 0, "maxInstanceCount": 3}
    read = rec.one("gcp:storage/bucketIAMMember:BucketIAMMember")
    assert (read.inputs["role"], read.inputs["member"]) == (
        "roles/storage.objectViewer", "serviceAccount:srv-sa@acme-test.iam.gserviceaccount.com")
    assert read.urn in svc.dependencies, "the service starts only once it may read its model"
    invoker = rec.one("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
    assert (invoker.inputs["role"], invoker.inputs["member"]) == ("roles/run.invoker", "group:ml@acme.example")


def test_public_service_grants_all_users_only_when_the_spec_says_public():
    spec = CloudRunServiceSpec.model_validate({"name": "web", "image": "x/web:1", "public": True})
    rec = serve(spec)
    assert [m.inputs["member"] for m in rec.of_type("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")] == ["allUsers"]
    rec = serve(spec.model_copy(update={"public": False}))
    assert rec.of_type("gcp:cloudrunv2/serviceIamMember:ServiceIamMember") == []


def test_secrets_are_referenced_and_only_those_secrets_are_readable():
    spec = CloudRunServiceSpec.model_validate({"name": "web", "image": "x/web:1",
                                               "secrets": [{"env": "TOKEN", "secret": "api-token", "version": "3"}]})
    rec = serve(spec)
    env = rec.one("gcp:cloudrunv2/service:Service").inputs["template"]["containers"][0]["envs"]
    assert env == [{"name": "TOKEN", "valueSource": {"secretKeyRef": {"secret": "api-token", "version": "3"}}}]
    grant = rec.one("gcp:secretmanager/secretIamMember:SecretIamMember")
    assert (grant.inputs["secretId"], grant.inputs["role"]) == ("api-token", "roles/secretmanager.secretAccessor")


def test_fails_if_a_model_server_asks_for_a_gpu_where_cloud_run_has_none():
    with pytest.raises(InputError, match="no nvidia-l4 GPU in region us-west2"):
        serve(GPU, region="us-west2")


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
    rec = trigger({"http": {"invokers": ["serviceAccount:ci@acme-test.iam.gserviceaccount.com"]}})
    fn = rec.one("gcp:cloudfunctionsv2/function:Function")
    assert "eventTrigger" not in fn.inputs
    assert fn.inputs["serviceConfig"]["ingressSettings"] == "ALLOW_ALL"
    assert sorted(a.name for a in rec.of_type("gcp:serviceaccount/account:Account")) == ["build", "fn-sa"]
    invokers = rec.of_type("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
    assert [(i.inputs["name"], i.inputs["member"]) for i in invokers] == [
        ("t-dev", "serviceAccount:ci@acme-test.iam.gserviceaccount.com")]


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
