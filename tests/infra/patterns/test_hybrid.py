"""The hybrid pattern: services on the platform each names, a cluster only when a workload
runs on it, built by the same builders as the serverless and kubernetes patterns."""

from __future__ import annotations

import pytest

from infra.errors import ConfigError, key_path
from tests.conftest import BASE_CONFIG, run_config, run_stack
from tests.infra.test_config import load

CLUSTER = "gcp:container/cluster:Cluster"
EMBEDDER = {"name": "embedder", "platform": "cloudrun", "image": "us-docker.pkg.dev/acme/serve/embedder:4"}


def hybrid(**keys):
    return {**BASE_CONFIG, "mlinfra:pattern": "hybrid", **{f"mlinfra:{k}": v for k, v in keys.items()}}


def test_the_dev_stack_runs_each_service_on_its_platform_beside_a_job_and_its_event_chains():
    rec = run_stack("hybrid-dev")
    assert {r.name for r in rec.of_type("mlinfra:gcp:CloudRunModelServer")} == {"mlinfra-svc-embedder"}
    assert {r.name for r in rec.of_type("mlinfra:gcp:GkeModelServer")} == {"mlinfra-svc-ranker"}
    assert {r.name for r in rec.of_type("mlinfra:gcp:GkeJob")} == {"mlinfra-job-retrain-ranker"}
    assert {r.name for r in rec.of_type("mlinfra:gcp:EventWorkflow")} == {
        "mlinfra-chain-on-new-labels", "mlinfra-chain-on-new-ranker"}
    assert rec.of_type("gcp:cloudfunctionsv2/function:Function") == []  # no function: no source bucket, no builds
    assert rec.outputs["workflows"] == {"on-new-labels": "on-new-labels-hybrid-dev",
                                        "on-new-ranker": "on-new-ranker-hybrid-dev"}
    [cluster] = rec.of_type(CLUSTER)
    assert cluster.inputs["location"] == "us-central1-a"
    assert rec.outputs["service_urls"].keys() == {"embedder"}
    assert rec.outputs["services"].keys() == {"ranker"}


def test_a_hybrid_stack_without_a_cluster_workload_creates_no_cluster():
    rec = run_config(hybrid(services=[EMBEDDER]))
    assert rec.of_type(CLUSTER) == []
    assert not any(r.type.startswith("kubernetes:") for r in rec)
    assert {r.inputs["service"] for r in rec.of_type("gcp:projects/service:Service")}.isdisjoint(
        {"container.googleapis.com"})
    assert "cluster" not in rec.outputs


def test_a_service_defaults_to_gke_and_fails_without_a_cluster_naming_the_key():
    with pytest.raises(ConfigError) as caught:
        load(hybrid(services=[{k: v for k, v in EMBEDDER.items() if k != "platform"}]))
    assert [key_path(i.path) for i in caught.value.issues] == ["mlinfra:cluster"]
    assert "the hybrid pattern needs a cluster" in str(caught.value)


# Jobs on Cloud Run Jobs beside jobs on GKE.
SCORE = {"name": "score", "platform": "cloudrun", "image": "us-docker.pkg.dev/acme/batch/score:3"}
GPU_SCORE = {**SCORE, "resources": {"gpu": {"type": "nvidia-l4"}}}
RUN_JOB = "gcp:cloudrunv2/job:Job"


def test_the_dev_stack_scores_nightly_on_cloud_run_jobs_beside_the_gke_retraining_job():
    rec = run_stack("hybrid-dev")
    job = rec.one(RUN_JOB, "mlinfra-job-batch-score")  # beside the feature store's materialization job
    assert (job.name, job.inputs["name"]) == ("mlinfra-job-batch-score", "batch-score-hybrid-dev")
    assert (job.inputs["template"]["taskCount"], job.inputs["template"]["parallelism"]) == (4, 2)
    task = job.inputs["template"]["template"]
    assert (task["maxRetries"], task["timeout"]) == (1, "3600s")
    assert task["serviceAccount"] == "mlinfra-job-batch-score-sa@acme-ml-dev.iam.gserviceaccount.com"
    [network] = rec.of_type("gcp:compute/network:Network")
    subnet = rec.one("gcp:compute/subnetwork:Subnetwork", "mlinfra-network-subnet")
    assert task["vpcAccess"] == {"egress": "PRIVATE_RANGES_ONLY",
                                 "networkInterfaces": [{"network": network.id, "subnetwork": subnet.id}]}
    assert job.inputs["deletionProtection"] is False
    assert job.inputs["labels"]["stack"] == "hybrid-dev", "the stack's labels reach the job"
    [schedule] = [s for s in rec.of_type("gcp:cloudscheduler/job:Job") if "jobs/batch-score" in s.inputs["httpTarget"]["uri"]]
    assert schedule.inputs["schedule"] == "0 2 * * *"
    grants = {(g.inputs["bucket"], g.inputs["role"]) for g in rec.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
              if g.inputs["member"] == f"serviceAccount:{task['serviceAccount']}"}
    assert grants == {("acme-ml-dev-hybrid-dev-data-lake", "roles/storage.objectViewer"),
                      ("acme-ml-dev-hybrid-dev-artifacts", "roles/storage.objectUser")}
    assert {r.name for r in rec.of_type("mlinfra:gcp:GkeJob")} == {"mlinfra-job-retrain-ranker"}
    assert rec.outputs["jobs"] == ["batch-score", "retrain-ranker"]
    assert rec.outputs["cloud_run_jobs"] == {"batch-score": {
        "job": "batch-score-hybrid-dev", "service_account": task["serviceAccount"]}}
    apis = {r.inputs["service"] for r in rec.of_type("gcp:projects/service:Service")}
    assert {"run.googleapis.com", "cloudscheduler.googleapis.com", "container.googleapis.com"} <= apis


def test_a_hybrid_stack_whose_services_and_jobs_are_all_on_cloud_run_creates_no_cluster():
    rec = run_config(hybrid(services=[EMBEDDER], jobs=[GPU_SCORE, {**SCORE, "name": "export", "schedule": "0 3 * * *"}]))
    assert rec.of_type(CLUSTER) == []
    assert not any(r.type.startswith("kubernetes:") for r in rec)
    assert {r.inputs["name"] for r in rec.of_type(RUN_JOB)} == {"score-test", "export-test"}
    apis = {r.inputs["service"] for r in rec.of_type("gcp:projects/service:Service")}
    assert "container.googleapis.com" not in apis and "cloudscheduler.googleapis.com" in apis
    assert "cluster" not in rec.outputs and rec.outputs["jobs"] == ["export", "score"]


def test_a_cloud_run_job_in_prod_is_protected_from_deletion():
    rec = run_config(hybrid(environment="prod", jobs=[SCORE]))
    assert rec.one(RUN_JOB).inputs["deletionProtection"] is True


def test_a_job_defaults_to_gke_and_fails_without_a_cluster_naming_the_key():
    with pytest.raises(ConfigError) as caught:
        load(hybrid(jobs=[{k: v for k, v in SCORE.items() if k != "platform"}]))
    assert [key_path(i.path) for i in caught.value.issues] == ["mlinfra:cluster"]
    assert "needs a cluster for its services and jobs on gke" in str(caught.value)
    assert "or set `platform: cloudrun` on them (the default is gke)" in str(caught.value)


CPU_CLUSTER = {"zone": "us-central1-a", "nodePools": [{"name": "general", "machineType": "e2-standard-4"}]}


def test_a_gpu_job_on_cloud_run_needs_no_gpu_pool_on_the_cluster():
    gke_job = {"name": "etl", "image": "us-docker.pkg.dev/acme/batch/etl:1"}
    stack = load(hybrid(cluster=CPU_CLUSTER, jobs=[gke_job, GPU_SCORE]))
    assert [j.platform for j in stack.mlinfra.jobs] == ["gke", "cloudrun"]


def job(**keys):
    return hybrid(jobs=[{**SCORE, **keys}])


@pytest.mark.parametrize("values,key,fragment", [
    (job(tasks=2, parallelism=3), "mlinfra:jobs[0].parallelism", "is above tasks (2)"),
    (job(tasks=0), "mlinfra:jobs[0].tasks", "at least 1"),
    (job(tasks=10001), "mlinfra:jobs[0].tasks", "at most 10000"),
    (job(maxRetries=11), "mlinfra:jobs[0].maxRetries", "at most 10"),
    (job(timeoutSeconds=700000), "mlinfra:jobs[0].timeoutSeconds", "task timeout (604800 seconds)"),
    (job(timeoutSeconds=0), "mlinfra:jobs[0].timeoutSeconds", "at least 1"),
    (job(timeoutSeconds=7200, resources={"gpu": {}}), "mlinfra:jobs[0].timeoutSeconds", "with a GPU (3600 seconds)"),
    (job(resources={"cpu": 2, "memory": "16Gi", "gpu": {}}), "mlinfra:jobs[0].resources.cpu",
     "an nvidia-l4 GPU needs at least 4 CPUs"),
    (job(resources={"cpu": 4, "memory": "8Gi", "gpu": {}}), "mlinfra:jobs[0].resources.memory", "needs at least 16Gi"),
    ({**job(resources={"gpu": {}}), "gcp:region": "us-west1"}, "mlinfra:jobs[0].resources.gpu.type",
     "Cloud Run offers no nvidia-l4 GPU in region us-west1"),
    (job(resources={"gpu": {"count": 2}}), "mlinfra:jobs[0].resources.gpu.count", "allowed: 1"),
    (job(resources={"cpu": 2, "memory": "12Gi"}), "mlinfra:jobs[0].resources.cpu", "memory above 8Gi needs at least 4 CPUs"),
    (job(resources={"cpu": 4, "memory": "1Gi"}), "mlinfra:jobs[0].resources.memory", "4 CPUs need at least 2Gi"),
    (job(resources={"cpu": 3, "memory": "4Gi"}), "mlinfra:jobs[0].resources.cpu", "allowed: 1, 2, 4, 6, 8"),
    (job(resources={"cpu": 8, "memory": "64Gi"}), "mlinfra:jobs[0].resources.memory", "allowed: 512Mi to 32Gi"),
    (job(resources={"memory": "lots"}), "mlinfra:jobs[0].resources.memory", "is not a memory quantity"),
    (job(schedule="0 2 * *"), "mlinfra:jobs[0].schedule", "has 4 fields"),
    (job(schedule="@daily"), "mlinfra:jobs[0].schedule", "not a schedule macro Cloud Scheduler accepts"),
    (job(schedule="0 2 * * *", timeZone="Europe/Berln"), "mlinfra:jobs[0].timeZone", "Europe/Berlin"),
    (job(timeZone="Europe/Berlin"), "mlinfra:jobs[0].timeZone", "only applies to a schedule"),
    (job(image="us-docker.pkg.dev/acme/Batch/score:3"), "mlinfra:jobs[0].image", "lowercase"),
    (job(env={"CLOUD_RUN_TASK_INDEX": "0"}), "mlinfra:jobs[0].env.CLOUD_RUN_TASK_INDEX",
     "Cloud Run sets CLOUD_RUN_TASK_INDEX itself"),
    (job(env={"KEY": "x"}, secrets=[{"env": "KEY", "secret": "k"}]), "mlinfra:jobs[0].secrets[0].env",
     "is also set by env.KEY"),
    (job(backoffLimit=2), "mlinfra:jobs[0].backoffLimit", "is a key of gke jobs; this one runs on cloudrun"),
    (job(platform="lambda"), "mlinfra:jobs[0].platform", "allowed: cloudrun, gke"),
    (hybrid(cluster=CPU_CLUSTER, jobs=[SCORE, {**SCORE, "platform": "gke"}]), "mlinfra:jobs[1].name",
     "is already used by jobs[0]"),
], ids=["parallelism above tasks", "no tasks", "tasks above 10000", "retries above 10", "timeout above 7 days",
        "zero timeout", "GPU timeout above an hour", "L4 with 2 CPUs", "L4 with 8Gi", "GPU in a region without",
        "two GPUs", "memory too large for the CPUs", "4 CPUs with 1Gi", "CPU count Cloud Run lacks", "memory above 32Gi",
        "memory that is not a quantity", "four cron fields", "a macro Cloud Scheduler lacks", "a time zone typo",
        "a time zone without schedule", "an uppercase image repository", "a reserved variable",
        "a variable set twice", "a GKE key on a Cloud Run job", "an unknown platform", "a name used on both platforms"])
def test_a_cloud_run_job_mistake_fails_with_one_message_naming_the_key(values, key, fragment):
    with pytest.raises(ConfigError) as caught:
        load(values)
    found = [key_path(i.path) for i in caught.value.issues]
    assert found == [key], found
    assert fragment in str(caught.value)


def test_jobs_in_a_pattern_without_jobs_are_one_mistake_whatever_their_platform():
    for platform in ("gke", "cloudrun"):
        with pytest.raises(ConfigError) as caught:
            load({**BASE_CONFIG, "mlinfra:jobs": [{**SCORE, "platform": platform}]})
        assert [key_path(i.path) for i in caught.value.issues] == ["mlinfra:jobs"]
        assert "the serverless pattern has no jobs" in str(caught.value)
