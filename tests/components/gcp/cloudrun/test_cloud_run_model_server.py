"""A Cloud Run model server on its own: revisions, traffic, the GPU, secrets and invokers."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from components.core import naming
from components.core.issues import InputError
from components.core.labels import labels_transformation
from components.core.spec import Context, validate
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


def with_rollout(spec: CloudRunServiceSpec, **rollout) -> CloudRunServiceSpec:
    return CloudRunServiceSpec.model_validate({**spec.model_dump(by_alias=True, exclude_defaults=True),
                                               "rollout": rollout})


def test_tagged_revisions_join_the_split_and_stable_keeps_the_rest():
    spec = with_rollout(GPU, canary={"version": "8", "percent": 20},
                        tags=[{"tag": "previous", "revision": "llm-dev-v6-0a1b2c", "percent": 5},
                              {"tag": "shadow", "revision": "llm-dev-v5-3d4e5f"}])
    # The revisions the service without tags runs: tags do not shape a revision, so no name changes.
    stable, canary = (t["revision"] for t in serve(GPU).one("gcp:cloudrunv2/service:Service").inputs["traffics"])
    svc = serve(spec).one("gcp:cloudrunv2/service:Service")
    assert svc.inputs["traffics"] == [
        {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": stable, "percent": 75, "tag": "stable"},
        {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": canary, "percent": 20, "tag": "canary"},
        {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": "llm-dev-v6-0a1b2c", "percent": 5, "tag": "previous"},
        {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": "llm-dev-v5-3d4e5f", "percent": 0, "tag": "shadow"}]
    assert svc.inputs["template"]["revision"] == canary, "the template is the canary's, never a tagged revision"
    alone = with_rollout(GPU, tags=[{"tag": "previous", "revision": "llm-dev-v6-0a1b2c", "percent": 10}])
    svc = serve(alone).one("gcp:cloudrunv2/service:Service")
    assert [(t["revision"], t["percent"], t["tag"]) for t in svc.inputs["traffics"]] == [
        (stable, 90, "stable"), ("llm-dev-v6-0a1b2c", 10, "previous")]
    assert svc.inputs["template"]["revision"] == stable


def traffic_of(spec: CloudRunServiceSpec) -> list[tuple[str, int, str]]:
    return [(t["revision"], t["percent"], t["tag"]) for t in serve(spec).one("gcp:cloudrunv2/service:Service").inputs["traffics"]]


def test_a_same_image_canary_runs_changed_settings_as_a_new_revision_beside_the_pinned_stable():
    [(deployed, _, _)] = traffic_of(with_rollout(GPU))
    changed = CloudRunServiceSpec.model_validate({**GPU.model_dump(by_alias=True, exclude_defaults=True),
                                                  "env": {"VLLM_LOGGING_LEVEL": "DEBUG"},
                                                  "rollout": {"stableRevision": deployed, "canary": {"percent": 10}}})
    assert validate(changed, Context()) == []
    (stable, s_pct, _), (canary, c_pct, tag) = traffic_of(changed)
    assert (stable, s_pct, c_pct, tag) == (deployed, 90, 10, "canary")
    assert canary.startswith("llm-dev-v7-") and canary != deployed, "same version, new settings, new revision name"
    # Unchanged settings would make the canary the pinned revision itself: refused at plan.
    with pytest.raises(InputError, match="names one revision twice"):
        serve(with_rollout(GPU, stableRevision=deployed, canary={"percent": 10}))
    # Without a pinned stable revision a canary still needs its version.
    found = {".".join(map(str, i.path)): i.message for i in validate(with_rollout(GPU, canary={"percent": 10}), Context())}
    assert "needs the new model version" in found["rollout.canary.version"]


@pytest.mark.parametrize("rollout, key, fragment", [
    ({"tags": [{"tag": "canary", "revision": "llm-dev-v6-0a1b2c"}]}, "rollout.tags.0.tag", "the tag mlinfra gives"),
    ({"tags": [{"tag": "old", "revision": "llm-dev-v6-0a1b2c"}, {"tag": "old", "revision": "llm-dev-v5-0a1b2c"}]},
     "rollout.tags.1.tag", "also the tag of an earlier entry"),
    ({"tags": [{"tag": "a-very-long-tag-name-x", "revision": "llm-dev-v6-0a1b2c"}]}, "rollout.tags.0.tag",
     "Cloud Run refuses a tag and service name longer than 46"),
    ({"tags": [{"tag": "old", "revision": "llm-dev-v6-0a1b2c"}, {"tag": "older", "revision": "llm-dev-v6-0a1b2c"}]},
     "rollout.tags.1.revision", "is already in the traffic split"),
    ({"canary": {"version": "8", "percent": 60}, "tags": [{"tag": "old", "revision": "llm-dev-v6-0a1b2c", "percent": 50}]},
     "rollout.tags", "take 110 % with the canary"),
])
def test_a_bad_tagged_revision_fails_naming_its_key(rollout, key, fragment):
    spec = with_rollout(GPU.model_copy(update={"name": "llm-summarizer-service"}), **rollout)
    found = {".".join(map(str, i.path)): i.message for i in validate(spec, Context(stack="dev"))}
    assert key in found, found
    assert fragment in found[key]
    with pytest.raises(ValueError, match="at least 3"):
        with_rollout(GPU, tags=[{"tag": "v1", "revision": "llm-dev-v6-0a1b2c"}])


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
