"""The Feast feature store (`mlinfra:featureStore`): exactly what it creates on each online store,
dev against prod, the roles of its identities, the materialization job and its schedule, and the
feature_store.yaml it exports, built from the plan's own resources."""

from __future__ import annotations

import yaml

from components.gcp.cloudrun.cloud_run_job import RUN_API
from components.gcp.featurestore.feature_store_spec import ENTRY_POINT
from tests.conftest import ROOT, run_config, run_stack, stack_config

TOP = "mlinfra-features"
IMAGE = "us-central1-docker.pkg.dev/acme-ml-dev/mlinfra-hybrid-dev/feast-materialize:1"
MATERIALIZER = "serviceAccount:mlinfra-features-materialize@acme-ml-dev.iam.gserviceaccount.com"
READER = "serviceAccount:mlinfra-features-reader@acme-ml-dev.iam.gserviceaccount.com"
RUNNER = "serviceAccount:mlinfra-features-job-scheduler@acme-ml-dev.iam.gserviceaccount.com"
DEV_TYPES = {
    ("gcp:bigquery/dataset:Dataset", "mlinfra-features-offline"),
    ("gcp:bigquery/datasetIamMember:DatasetIamMember", "mlinfra-features-offline-mlinfra-features-materialize-dataeditor"),
    ("gcp:storage/bucket:Bucket", "mlinfra-features-registry"),
    ("gcp:storage/bucketIAMMember:BucketIAMMember", "mlinfra-features-registry-mlinfra-features-materialize-readwrite"),
    ("gcp:storage/bucketIAMMember:BucketIAMMember", "mlinfra-features-registry-mlinfra-features-reader-read"),
    ("gcp:serviceaccount/account:Account", "mlinfra-features-materialize"),
    ("gcp:serviceaccount/account:Account", "mlinfra-features-reader"),
    ("gcp:serviceaccount/account:Account", "mlinfra-features-job-scheduler"),
    ("gcp:projects/iAMMember:IAMMember", "mlinfra-features-materialize-bigquery-jobuser"),
    ("gcp:projects/iAMMember:IAMMember", "mlinfra-features-materialize-bigquery-readsessionuser"),
    ("gcp:memorystore/instance:Instance", "mlinfra-features-online"),
    ("gcp:cloudrunv2/job:Job", "mlinfra-features-job"),
    ("gcp:cloudrunv2/jobIamMember:JobIamMember", "mlinfra-features-job-scheduler-runs"),
    ("gcp:cloudscheduler/job:Job", "mlinfra-features-job-schedule"),
}


def store_resources(rec):
    [top] = [r for r in rec if r.name == TOP and r.type == "mlinfra:gcp:FeastFeatureStore"]
    return {(r.type, r.name): r for r in rec.descendants_of(top) if r.custom}


def hybrid(environment: str = "dev", **store):
    """A hybrid stack of nothing but hybrid-dev's feature store (with `store`'s keys over it)."""
    return {"gcp:project": "acme-ml-dev", "gcp:region": "us-central1", "mlinfra:pattern": "hybrid",
            "mlinfra:environment": environment,
            "mlinfra:featureStore": {**stack_config("hybrid-dev")["mlinfra:featureStore"], **store}}


def bigtable(environment: str = "dev", **online):
    return run_config(hybrid(environment, online={"type": "bigtable", **online}), stack="hybrid-dev")


def test_the_dev_stack_creates_exactly_the_feature_store_resources():
    assert set(store_resources(run_stack("hybrid-dev"))) == DEV_TYPES


def test_the_online_store_is_its_own_valkey_instance_that_never_evicts():
    rec = run_stack("hybrid-dev")
    online = store_resources(rec)[("gcp:memorystore/instance:Instance", "mlinfra-features-online")]
    assert online.inputs["engineConfigs"] == {"maxmemory-policy": "noeviction"}
    assert online.inputs["instanceId"] == "mlinfra-hybrid-dev-feast"
    assert online.inputs["transitEncryptionMode"] == "SERVER_AUTHENTICATION"
    assert (online.inputs["nodeType"], online.inputs["replicaCount"]) == ("SHARED_CORE_NANO", 0)
    assert online.inputs["deletionProtectionEnabled"] is False and not online.protect
    assert online.delete_before_replace
    # The prediction cache beside it is another instance, which may evict.
    cache = rec.one("gcp:memorystore/instance:Instance", "mlinfra-cache")
    assert cache.inputs["instanceId"] != online.inputs["instanceId"]
    assert cache.inputs["engineConfigs"]["maxmemory-policy"] != "noeviction"
    # Both reach the VPC through its one PSC policy for Memorystore, created first.
    policy = rec.one("gcp:networkconnectivity/serviceConnectionPolicy:ServiceConnectionPolicy")
    assert policy.urn in online.dependencies


def test_a_redis_engine_online_store_gets_private_services_access_beside_the_caches_psc():
    rec = run_config(hybrid(online={"type": "redis", "engine": "redis"}) | {
        "mlinfra:cache": {}}, stack="hybrid-dev")
    online = store_resources(rec)[("gcp:redis/instance:Instance", "mlinfra-features-online")]
    peering = rec.one("gcp:servicenetworking/connection:Connection")
    address = rec.one("gcp:compute/globalAddress:GlobalAddress")
    assert peering.urn in online.dependencies
    assert online.inputs["redisConfigs"] == {"maxmemory-policy": "noeviction"}
    assert (online.inputs["tier"], online.inputs["connectMode"], online.inputs["reservedIpRange"]) == (
        "BASIC", "PRIVATE_SERVICE_ACCESS", address.outputs["name"])
    assert len(rec.of_type("gcp:networkconnectivity/serviceConnectionPolicy:ServiceConnectionPolicy")) == 1
    assert yaml.safe_load(rec.outputs["feature_store_yaml"])["online_store"]["connection_string"].startswith(
        f"{online.outputs['host']}:6378,ssl=true")


def test_dev_leaves_everything_deletable():
    found = store_resources(run_stack("hybrid-dev"))
    dataset = found[("gcp:bigquery/dataset:Dataset", "mlinfra-features-offline")]
    assert dataset.inputs["deleteContentsOnDestroy"] is True and not dataset.protect
    assert not found[("gcp:storage/bucket:Bucket", "mlinfra-features-registry")].protect
    assert found[("gcp:cloudrunv2/job:Job", "mlinfra-features-job")].inputs["deletionProtection"] is False


def test_prod_protects_the_stateful_resources_and_turns_deletion_protection_on():
    found = store_resources(run_config(hybrid("prod"), stack="hybrid-dev"))
    dataset = found[("gcp:bigquery/dataset:Dataset", "mlinfra-features-offline")]
    assert dataset.inputs["deleteContentsOnDestroy"] is False and dataset.protect and dataset.retain_on_delete
    bucket = found[("gcp:storage/bucket:Bucket", "mlinfra-features-registry")]
    assert bucket.protect and bucket.retain_on_delete
    online = found[("gcp:memorystore/instance:Instance", "mlinfra-features-online")]
    assert online.inputs["deletionProtectionEnabled"] is True and online.protect
    assert (online.inputs["nodeType"], online.inputs["replicaCount"]) == ("STANDARD_SMALL", 1)
    assert found[("gcp:cloudrunv2/job:Job", "mlinfra-features-job")].inputs["deletionProtection"] is True


def test_the_registry_bucket_is_private_versioned_and_keeps_ten_old_versions():
    bucket = store_resources(run_stack("hybrid-dev"))[("gcp:storage/bucket:Bucket", "mlinfra-features-registry")]
    assert bucket.inputs["name"] == "acme-ml-dev-hybrid-dev-feast-registry"
    assert bucket.inputs["uniformBucketLevelAccess"] is True
    assert bucket.inputs["publicAccessPrevention"] == "enforced"
    assert bucket.inputs["versioning"] == {"enabled": True}
    assert bucket.inputs["lifecycleRules"] == [
        {"action": {"type": "Delete"}, "condition": {"numNewerVersions": 10, "withState": "ARCHIVED"}}]


def grants(found) -> set[tuple[str, str, str]]:
    """(resource kind, role, member) of every IAM binding the feature store makes."""
    kinds = {"gcp:bigquery/datasetIamMember:DatasetIamMember": "dataset", "gcp:projects/iAMMember:IAMMember": "project",
             "gcp:storage/bucketIAMMember:BucketIAMMember": "bucket", "gcp:bigtable/instanceIamMember:InstanceIamMember":
             "bigtable", "gcp:cloudrunv2/jobIamMember:JobIamMember": "job"}
    return {(kinds[t], r.inputs["role"], r.inputs["member"]) for (t, _), r in found.items() if t in kinds}


def test_each_identity_holds_only_the_roles_feast_uses_on_the_narrowest_resource():
    assert grants(store_resources(run_stack("hybrid-dev"))) == {
        ("dataset", "roles/bigquery.dataEditor", MATERIALIZER),
        ("project", "roles/bigquery.jobUser", MATERIALIZER),
        ("project", "roles/bigquery.readSessionUser", MATERIALIZER),
        ("bucket", "roles/storage.objectUser", MATERIALIZER),
        ("bucket", "roles/storage.objectViewer", READER),
        ("job", "roles/run.jobsExecutor", RUNNER),
    }


def test_bigtable_grants_read_write_to_the_materializer_and_read_to_the_reader_on_the_instance():
    found = store_resources(bigtable())
    assert {g for g in grants(found) if g[0] == "bigtable"} == {
        ("bigtable", "roles/bigtable.user", MATERIALIZER), ("bigtable", "roles/bigtable.reader", READER)}
    assert all(r.inputs["instance"] == "mlinfra-hybrid-dev-feast" for (t, _), r in found.items()
               if t == "gcp:bigtable/instanceIamMember:InstanceIamMember")


def test_bigtable_autoscales_in_one_zone_with_deletion_protection_only_in_prod():
    dev = store_resources(bigtable(minNodes=1, maxNodes=4, cpuTarget=50))
    assert not any(t.startswith("gcp:memorystore") for t, _ in dev)
    instance = dev[("gcp:bigtable/instance:Instance", "mlinfra-features-online")]
    assert instance.inputs["name"] == "mlinfra-hybrid-dev-feast"
    assert instance.inputs["deletionProtection"] is False and not instance.protect
    assert instance.inputs["clusters"] == [{
        "clusterId": "mlinfra-hybrid-dev-feast-c1", "zone": "us-central1-a", "storageType": "SSD",
        "autoscalingConfig": {"minNodes": 1, "maxNodes": 4, "cpuTarget": 50}}]
    prod = store_resources(bigtable("prod"))[("gcp:bigtable/instance:Instance", "mlinfra-features-online")]
    assert prod.inputs["deletionProtection"] is True and prod.protect and prod.retain_on_delete


def test_the_materialization_job_runs_the_entry_point_as_the_materializer_on_the_vpc():
    rec = run_stack("hybrid-dev")
    job = store_resources(rec)[("gcp:cloudrunv2/job:Job", "mlinfra-features-job")]
    assert job.inputs["name"] == "mlinfra-hybrid-dev-feast-materialize" and job.delete_before_replace
    task = job.inputs["template"]["template"]
    [container] = task["containers"]
    assert container["image"] == IMAGE and container["commands"] == list(ENTRY_POINT) == ["python", "-m", "materialize.main"]
    assert "args" not in container
    assert container["resources"] == {"limits": {"cpu": "1", "memory": "2Gi"}}
    env = {e["name"]: e["value"] for e in container["envs"]}
    assert env == {"FEAST_FEATURE_STORE_YAML": rec.outputs["feature_store_yaml"],
                   "FEAST_REDIS_CA_PEM": rec.outputs["feature_store"]["ca_cert"]}
    assert task["serviceAccount"] == MATERIALIZER.split(":", 1)[1]
    assert (task["timeout"], task["maxRetries"]) == ("3600s", 1)
    online = store_resources(rec)[("gcp:memorystore/instance:Instance", "mlinfra-features-online")]
    [nic] = task["vpcAccess"]["networkInterfaces"]
    assert task["vpcAccess"]["egress"] == "PRIVATE_RANGES_ONLY"
    # The same VPC Memorystore's endpoint is in, through the stack's subnet.
    assert nic["network"] == online.inputs["desiredAutoCreatedEndpoints"][0]["network"]
    assert nic["subnetwork"].startswith("projects/acme-ml-dev/regions/us-central1/subnetworks/")


def test_a_bigtable_job_needs_no_vpc_and_named_views_become_arguments():
    config = hybrid(online={"type": "bigtable"})
    config["mlinfra:featureStore"]["materialize"] = {"image": IMAGE, "featureViews": ["driver_rates", "driver_trips"],
                                                     "timeoutSeconds": 900, "maxRetries": 0}
    job = store_resources(run_config(config, stack="hybrid-dev"))[("gcp:cloudrunv2/job:Job", "mlinfra-features-job")]
    task = job.inputs["template"]["template"]
    assert "vpcAccess" not in task
    assert task["containers"][0]["args"] == ["--feature-view", "driver_rates", "--feature-view", "driver_trips"]
    assert {e["name"] for e in task["containers"][0]["envs"]} == {"FEAST_FEATURE_STORE_YAML"}
    assert (task["timeout"], task["maxRetries"]) == ("900s", 0)


def test_the_schedule_starts_the_job_through_the_run_api_as_the_runner():
    found = store_resources(run_stack("hybrid-dev"))
    schedule = found[("gcp:cloudscheduler/job:Job", "mlinfra-features-job-schedule")]
    target = schedule.inputs["httpTarget"]
    assert target["uri"] == RUN_API.format(project="acme-ml-dev", region="us-central1",
                                           job="mlinfra-hybrid-dev-feast-materialize")
    assert target["httpMethod"] == "POST"
    assert target["oauthToken"]["serviceAccountEmail"] == RUNNER.split(":", 1)[1]
    assert (schedule.inputs["schedule"], schedule.inputs["timeZone"]) == ("15 * * * *", "Etc/UTC")
    runner = found[("gcp:cloudrunv2/jobIamMember:JobIamMember", "mlinfra-features-job-scheduler-runs")]
    assert runner.inputs["name"] == "mlinfra-hybrid-dev-feast-materialize"


def test_no_materialize_section_means_no_job_and_no_schedule():
    config = hybrid()
    del config["mlinfra:featureStore"]["materialize"]
    rec = run_config(config, stack="hybrid-dev")
    found = store_resources(rec)
    assert set(found) == {k for k in DEV_TYPES if not k[1].startswith("mlinfra-features-job")}
    assert "materialize_job" not in rec.outputs["feature_store"]


def test_the_exported_feature_store_yaml_points_at_the_planned_resources():
    rec = run_stack("hybrid-dev")
    found = store_resources(rec)
    online = found[("gcp:memorystore/instance:Instance", "mlinfra-features-online")]
    endpoint = online.outputs["endpoints"][0]["connections"][0]["pscAutoConnection"]
    assert yaml.safe_load(rec.outputs["feature_store_yaml"]) == {
        "project": "ranking",
        "provider": "gcp",
        "registry": {"registry_type": "file", "path": "gs://acme-ml-dev-hybrid-dev-feast-registry/registry.pb",
                     "cache_ttl_seconds": 60},
        "offline_store": {"type": "bigquery", "project_id": "acme-ml-dev", "dataset": "feast_hybrid_dev",
                          "location": "us-central1"},
        "online_store": {"type": "redis", "redis_type": "redis", "connection_string":
                         f"{endpoint['ipAddress']}:{endpoint['port']},ssl=true,ssl_ca_certs=${{FEAST_REDIS_CA_FILE}}"},
        "entity_key_serialization_version": 3,
    }
    assert rec.outputs["feature_store"]["registry_path"] == "gs://acme-ml-dev-hybrid-dev-feast-registry/registry.pb"
    assert rec.outputs["feature_store"]["reader_email"] == READER.split(":", 1)[1]


def test_the_feature_store_enables_its_apis():
    apis = {r.inputs["service"] for r in run_stack("hybrid-dev").of_type("gcp:projects/service:Service")}
    assert {"bigquery.googleapis.com", "bigquerystorage.googleapis.com", "memorystore.googleapis.com",
            "cloudscheduler.googleapis.com", "run.googleapis.com"} <= apis
    big = {r.inputs["service"] for r in bigtable().of_type("gcp:projects/service:Service")}
    assert {"bigtable.googleapis.com", "bigtableadmin.googleapis.com"} <= big and "memorystore.googleapis.com" not in big


def test_the_feast_fixtures_are_what_the_program_exports_now():
    from tests import feast_fixtures

    assert feast_fixtures.main(["--check"]) == 0


def test_the_image_runs_the_entry_point_the_job_names_and_ships_the_pinned_requirements():
    dockerfile = (ROOT / "featurestore" / "materialize" / "Dockerfile").read_text()
    assert f'ENTRYPOINT {str(list(ENTRY_POINT)).replace(chr(39), chr(34))}' in dockerfile
    assert "COPY requirements.txt constraints.txt ./" in dockerfile and "COPY materialize/ materialize/" in dockerfile
    assert "-r requirements.txt -c constraints.txt" in dockerfile


def test_the_entry_point_reads_the_variables_the_component_sets():
    import ast

    from components.gcp.featurestore import feature_store_yaml as fsy
    from components.gcp.featurestore.feast_feature_store import YAML_ENV

    tree = ast.parse((ROOT / "featurestore" / "materialize" / "main.py").read_text())
    constants = {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                 for t in node.targets if isinstance(t, ast.Name) and isinstance(node.value, ast.Constant)}
    assert constants["YAML_ENV"] == YAML_ENV
    assert constants["CA_PEM_ENV"] == fsy.CA_PEM_ENV and constants["CA_FILE_ENV"] == fsy.CA_FILE_ENV



def test_the_shared_job_runs_as_a_given_account_and_refuses_an_env_name_set_twice():
    import pulumi
    import pytest

    from components.core.issues import InputError
    from components.gcp.cloudrun.cloud_run_job import CloudRunJob, CloudRunJobArgs
    from components.gcp.cloudrun.cloud_run_job_spec import CloudRunJobSpec
    from components.gcp.iam.service_account import ServiceAccount
    from tests.conftest import run_component

    spec = CloudRunJobSpec(name="j", image=IMAGE, env={"A": "1"})

    def program(output_env):
        def build():
            account = ServiceAccount("own")
            outputs = {k: pulumi.Output.from_input(v) for k, v in output_env.items()}
            CloudRunJob("j", CloudRunJobArgs(spec=spec, job_name="j", region="us-central1", project="acme-test",
                                             account=account, output_env=outputs))
        return build

    rec = run_component(program({"B": "2"}))
    assert [r.name for r in rec.of_type("gcp:serviceaccount/account:Account")] == ["own"]
    task = rec.one("gcp:cloudrunv2/job:Job").inputs["template"]["template"]
    assert task["serviceAccount"] == rec.one("gcp:serviceaccount/account:Account").outputs["email"]
    assert task["containers"][0]["envs"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    with pytest.raises(InputError, match="output_env.A: is in the spec's env too"):
        run_component(program({"A": "again"}))
