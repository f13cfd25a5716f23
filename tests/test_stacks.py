"""Every stack file in stacks/ plans offline, and each shows what its users rely on."""

from __future__ import annotations

import importlib

import pytest

from components.core.labels import default_labels, label_argument
from tests.conftest import STACKS, run_stack, stack_config

RUN = "gcp:cloudrunv2/service:Service"
FUNCTION = "gcp:cloudfunctionsv2/function:Function"
BUCKET = "gcp:storage/bucket:Bucket"


def resource_class(type_token: str) -> type:
    """`gcp:cloudrunv2/service:Service` -> pulumi_gcp.cloudrunv2.Service."""
    package, module_and_name, class_name = type_token.split(":")
    module = module_and_name.split("/")[0]
    return getattr(importlib.import_module(f"pulumi_{package}.{module}"), class_name)


def test_stacks_directory_has_a_dev_and_a_prod_stack():
    assert {"dev", "prod"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_plans_offline(stack):
    rec = run_stack(stack)
    assert len(rec.custom()) > 20
    assert rec.outputs, "the program exports its outputs"


@pytest.mark.parametrize("stack", STACKS)
def test_every_labelled_resource_carries_the_default_labels(stack):
    rec = run_stack(stack)
    cfg = stack_config(stack)
    # The bootstrap stack has no mlinfra:environment: it is always treated as prod.
    expected = default_labels(cfg.get("mlinfra:environment", "prod"), stack, cfg["mlinfra:pattern"], cfg.get("mlinfra:labels"))
    labelled = set()
    for r in rec.custom():
        if not r.type.startswith(("gcp:", "aws:")):
            continue  # Kubernetes objects carry Kubernetes labels, set by their components
        arg = label_argument(resource_class(r.type), r.type)
        if arg is None:
            continue
        key = {"resource_labels": "resourceLabels", "user_labels": "userLabels"}.get(arg, arg)
        labelled.add(r.type)
        assert r.inputs.get(key, {}).items() >= expected.items(), f"{r.type} {r.name} lacks the default labels"
    if cfg.get("mlinfra:cloud") == "aws":
        assert {"aws:s3/bucket:Bucket", "aws:ecr/repository:Repository", "aws:eks/cluster:Cluster"} <= labelled
        return
    if cfg["mlinfra:pattern"] == "bootstrap":  # only the AWS roles, their policies and the OIDC provider take tags
        assert labelled == {"aws:iam/openIdConnectProvider:OpenIdConnectProvider", "aws:iam/role:Role",
                            "aws:iam/policy:Policy"}
        return
    assert {BUCKET, "gcp:artifactregistry/repository:Repository"} <= labelled
    if cfg["mlinfra:pattern"] == "kubernetes":
        assert "gcp:container/cluster:Cluster" in labelled, "GKE passes cluster labels on to its node VMs"


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_hangs_under_the_pattern_component(stack):
    rec = run_stack(stack)
    pattern, = [r for r in rec if r.type.startswith("mlinfra:pattern:")]
    below = {r.urn for r in rec.descendants_of(pattern)}
    strays = [r.name for r in rec if r.type != "pulumi:pulumi:Stack" and r is not pattern and r.urn not in below]
    assert strays == []


@pytest.mark.parametrize("stack", STACKS)
def test_nothing_is_public_unless_a_key_says_so(stack):
    rec = run_stack(stack)
    for r in rec.of_type("gcp:cloudrunv2/serviceIamMember:ServiceIamMember"):
        assert r.inputs["member"] not in ("allUsers", "allAuthenticatedUsers"), r.name
    for r in rec.of_type(BUCKET):
        assert r.inputs["uniformBucketLevelAccess"] is True
        assert r.inputs["publicAccessPrevention"] == "enforced"


def test_dev_stack_plans_its_gpu_service_with_scaling_and_a_canary_split():
    rec = run_stack("dev")
    svc = rec.one(RUN, "mlinfra-svc-summarizer")
    template = svc.inputs["template"]
    container = template["containers"][0]
    assert container["resources"]["limits"] == {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "1"}
    assert container["resources"]["cpuIdle"] is False
    assert template["nodeSelector"] == {"accelerator": "nvidia-l4"}
    assert template["gpuZonalRedundancyDisabled"] is True
    assert template["scaling"] == {"minInstanceCount": 0, "maxInstanceCount": 2}
    assert template["maxInstanceRequestConcurrency"] == 8
    traffic = [(t["revision"], t["percent"], t["tag"]) for t in svc.inputs["traffics"]]
    assert [(p, tag) for _, p, tag in traffic] == [(90, "stable"), (10, "canary")]
    assert traffic[0][0].startswith("summarizer-dev-v7-") and traffic[1][0].startswith("summarizer-dev-v8-")
    assert template["revision"] == traffic[1][0], "the template is the canary revision"
    assert template["volumes"][0]["gcs"] == {
        "bucket": "acme-ml-dev-dev-artifacts", "readOnly": True,
        "mountOptions": ["only-dir=models/summarizer/8", "implicit-dirs"]}
    assert svc.inputs["deletionProtection"] is False


def test_dev_stack_plans_its_cpu_service_as_model_in_image():
    rec = run_stack("dev")
    svc = rec.one(RUN, "mlinfra-svc-churn")
    container = svc.inputs["template"]["containers"][0]
    assert container["image"] == "us-central1-docker.pkg.dev/acme-ml-dev/mlinfra-dev/churn:3"
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    assert container["resources"]["cpuIdle"] is True
    assert "volumes" not in svc.inputs["template"]
    assert [(t["percent"], t["tag"]) for t in svc.inputs["traffics"]] == [(100, "stable")]


def test_dev_stack_plans_an_upload_trigger_and_a_scheduled_trigger():
    rec = run_stack("dev")
    upload = rec.one(FUNCTION, "mlinfra-fn-on-upload")
    assert upload.inputs["eventTrigger"]["eventType"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert upload.inputs["eventTrigger"]["retryPolicy"] == "RETRY_POLICY_RETRY"
    notification = rec.one("gcp:storage/notification:Notification")
    assert notification.inputs["objectNamePrefix"] == "uploads/"
    assert notification.inputs["bucket"] == "acme-ml-dev-dev-data-lake"
    assert notification.inputs["eventTypes"] == ["OBJECT_FINALIZE"]

    nightly = rec.one(FUNCTION, "mlinfra-fn-nightly-report")
    assert "eventTrigger" not in nightly.inputs
    job = rec.one("gcp:cloudscheduler/job:Job")
    assert (job.inputs["schedule"], job.inputs["timeZone"]) == ("0 3 * * *", "Europe/Berlin")
    assert job.inputs["httpTarget"]["uri"] == nightly.outputs["serviceConfig"]["uri"]


def test_dev_stack_has_its_buckets_network_and_one_account_per_workload():
    rec = run_stack("dev")
    assert sorted(b.inputs["name"] for b in rec.of_type(BUCKET)) == [
        "acme-ml-dev-dev-artifacts", "acme-ml-dev-dev-data-lake", "acme-ml-dev-dev-function-sources"]
    assert len(rec.of_type("gcp:compute/network:Network")) == 1
    assert len(rec.of_type("gcp:compute/routerNat:RouterNat")) == 1
    accounts = sorted(a.name for a in rec.of_type("gcp:serviceaccount/account:Account"))
    assert accounts == ["mlinfra-fn-build", "mlinfra-fn-nightly-report-sa", "mlinfra-fn-nightly-report-trigger",
                        "mlinfra-fn-on-upload-sa", "mlinfra-fn-on-upload-trigger",
                        "mlinfra-svc-churn-sa", "mlinfra-svc-summarizer-sa"]


def test_prod_stack_protects_and_retains_its_stateful_resources():
    rec = run_stack("prod")
    data = [b for b in rec.of_type(BUCKET) if not b.name.endswith("-sources")]
    assert len(data) == 2
    assert all(b.protect and b.retain_on_delete for b in data)
    assert rec.one("gcp:artifactregistry/repository:Repository").protect
    assert rec.one("gcp:artifactregistry/repository:Repository").inputs["dockerConfig"] == {"immutableTags": True}
    assert all(s.inputs["deletionProtection"] is True for s in rec.of_type(RUN))
    lake = rec.one(BUCKET, "mlinfra-storage-data-lake")
    assert lake.inputs["retentionPolicy"] == {"retentionPeriod": str(365 * 86400)}
    assert rec.one("gcp:compute/subnetwork:Subnetwork").inputs["logConfig"]["flowSampling"] == 0.5


def test_dev_stack_does_not_protect_anything():
    rec = run_stack("dev")
    assert not any(r.protect for r in rec)


def test_function_builds_may_read_only_googles_source_copies():
    rec = run_stack("dev")
    grants = {g.inputs["role"]: g.inputs for g in rec.of_type("gcp:projects/iAMMember:IAMMember")
              if g.name.startswith("mlinfra-fn-build-")}
    assert set(grants) == {"roles/logging.logWriter", "roles/artifactregistry.writer", "roles/storage.objectViewer"}
    assert grants["roles/storage.objectViewer"]["condition"]["expression"] == \
        'resource.name.startsWith("projects/_/buckets/gcf-v2-sources-")'


def test_stateful_children_depend_on_the_project_apis():
    rec = run_stack("dev")
    apis = {r.urn for r in rec.of_type("gcp:projects/service:Service")}
    for r in rec.of_type(RUN) + rec.of_type(BUCKET) + rec.of_type("gcp:compute/network:Network"):
        assert apis <= set(r.dependencies), f"{r.name} may be created before the APIs it needs"
