"""A Cloud Run job on its own: its task template, its identity and grants, the schedule and the
scheduler's identity, the GPU, VPC egress, and deletion protection."""

from __future__ import annotations

from typing import Any

import pytest

from components.core.issues import InputError
from components.gcp.cloudrun.cloud_run_job import RUN_API, SCHEDULER_ROLE, CloudRunJob, CloudRunJobArgs
from components.gcp.cloudrun.cloud_run_job_spec import CloudRunJobSpec
from components.gcp.storage.bucket import Bucket, BucketArgs
from tests.conftest import run_component

JOB = "gcp:cloudrunv2/job:Job"
SA = "score-sa@acme-test.iam.gserviceaccount.com"
SCHEDULER_SA = "score-scheduler@acme-test.iam.gserviceaccount.com"
SCORE = {"name": "score", "image": "us-docker.pkg.dev/acme/batch/score:3", "args": ["--shard-by-task"],
         "env": {"MODE": "nightly"}, "secrets": [{"env": "API_KEY", "secret": "scoring-key"}],
         "resources": {"cpu": 2, "memory": "4Gi"}, "tasks": 4, "parallelism": 2, "maxRetries": 1,
         "timeoutSeconds": 3600, "schedule": "0 2 * * *", "timeZone": "Europe/Berlin"}


def run(spec: dict[str, Any], *, network: bool = True, region: str = "us-central1", protect: bool = False):
    def program():
        lake = Bucket("lake", BucketArgs(name="lake", location="US"))
        art = Bucket("art", BucketArgs(name="art", location="US"))
        CloudRunJob("score", CloudRunJobArgs(
            spec=CloudRunJobSpec.model_validate(spec), job_name="score-dev", region=region, project="acme-test",
            network_id="net" if network else None, subnetwork_id="sub" if network else None,
            read_buckets=[lake], write_buckets=[art], deletion_protection=protect))
    return run_component(program)


def test_job_runs_its_tasks_as_its_own_account_with_retries_timeout_and_secrets():
    rec = run(SCORE)
    job = rec.one(JOB)
    assert job.inputs["name"] == "score-dev" and job.inputs["location"] == "us-central1"
    assert job.inputs["deletionProtection"] is False, "the provider defaults it on: dev must turn it off"
    assert job.delete_before_replace, "the job's name is fixed"
    assert job.inputs["labels"] == {"mlinfra-job": "score"}
    execution = job.inputs["template"]
    assert (execution["taskCount"], execution["parallelism"], execution["labels"]) == (4, 2, {"mlinfra-job": "score"})
    task = execution["template"]
    assert task["serviceAccount"] == SA
    assert (task["maxRetries"], task["timeout"], task["executionEnvironment"]) == (1, "3600s", "EXECUTION_ENVIRONMENT_GEN2")
    assert "nodeSelector" not in task and "gpuZonalRedundancyDisabled" not in task
    assert task["vpcAccess"] == {"egress": "PRIVATE_RANGES_ONLY", "networkInterfaces": [{"network": "net", "subnetwork": "sub"}]}
    [container] = task["containers"]
    assert container == {
        "name": "job", "image": "us-docker.pkg.dev/acme/batch/score:3", "args": ["--shard-by-task"],
        "envs": [{"name": "MODE", "value": "nightly"},
                 {"name": "API_KEY", "valueSource": {"secretKeyRef": {"secret": "scoring-key", "version": "latest"}}}],
        "resources": {"limits": {"cpu": "2", "memory": "4Gi"}}}
    assert job.id == "projects/acme-test/locations/us-central1/jobs/score-dev"


def test_the_jobs_account_reads_the_lake_writes_artifacts_and_its_own_secret_and_nothing_project_wide():
    rec = run(SCORE)
    grants = {(g.inputs["bucket"], g.inputs["role"]) for g in rec.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
              if g.inputs["member"] == f"serviceAccount:{SA}"}
    assert grants == {("lake", "roles/storage.objectViewer"), ("art", "roles/storage.objectUser")}
    secret = rec.one("gcp:secretmanager/secretIamMember:SecretIamMember")
    assert (secret.inputs["secretId"], secret.inputs["role"], secret.inputs["member"]) == (
        "scoring-key", "roles/secretmanager.secretAccessor", f"serviceAccount:{SA}")
    assert rec.of_type("gcp:projects/iAMMember:IAMMember") == []
    job = rec.one(JOB)
    assert {secret.urn} | {g.urn for g in rec.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")} <= set(job.dependencies), \
        "the job exists only once its account may read and write what it needs"


def test_the_schedule_runs_the_job_through_the_run_api_as_an_account_that_may_run_only_this_job():
    rec = run(SCORE)
    schedule = rec.one("gcp:cloudscheduler/job:Job")
    assert (schedule.inputs["schedule"], schedule.inputs["timeZone"], schedule.inputs["region"]) == (
        "0 2 * * *", "Europe/Berlin", "us-central1")
    target = schedule.inputs["httpTarget"]
    assert target["uri"] == "https://run.googleapis.com/v2/projects/acme-test/locations/us-central1/jobs/score-dev:run"
    assert target["uri"] == RUN_API.format(project="acme-test", region="us-central1", job="score-dev")
    assert target["httpMethod"] == "POST"
    assert target["oauthToken"] == {"serviceAccountEmail": SCHEDULER_SA,
                                    "scope": "https://www.googleapis.com/auth/cloud-platform"}
    assert "oidcToken" not in target, "Google APIs take OAuth access tokens, not OIDC identity tokens"
    runs = rec.one("gcp:cloudrunv2/jobIamMember:JobIamMember")
    assert (runs.inputs["name"], runs.inputs["location"], runs.inputs["role"], runs.inputs["member"]) == (
        "score-dev", "us-central1", "roles/run.jobsExecutor", f"serviceAccount:{SCHEDULER_SA}")
    assert SCHEDULER_ROLE == "roles/run.jobsExecutor"
    assert runs.urn in schedule.dependencies, "the first scheduled call may already run the job"
    scheduler_grants = [g for g in rec.registrations if g.inputs.get("member") == f"serviceAccount:{SCHEDULER_SA}"]
    assert scheduler_grants == [runs], "the scheduler's account holds one role, on this job"


def test_a_job_without_schedule_has_no_scheduler_and_no_scheduler_account():
    rec = run({k: v for k, v in SCORE.items() if k not in ("schedule", "timeZone")})
    assert rec.of_type("gcp:cloudscheduler/job:Job") == []
    assert rec.of_type("gcp:cloudrunv2/jobIamMember:JobIamMember") == []
    assert [a.inputs["accountId"] for a in rec.of_type("gcp:serviceaccount/account:Account")] == ["score-sa"]


def test_a_gpu_job_gets_an_l4_without_zonal_redundancy_and_cloud_runs_gpu_minimums():
    rec = run({"name": "embed", "image": "us-docker.pkg.dev/acme/batch/embed:1", "resources": {"gpu": {}},
               "timeoutSeconds": 3600})
    task = rec.one(JOB).inputs["template"]["template"]
    assert task["nodeSelector"] == {"accelerator": "nvidia-l4"}
    assert task["gpuZonalRedundancyDisabled"] is True
    assert task["containers"][0]["resources"] == {"limits": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}}
    redundant = run({"name": "embed", "image": "x/embed:1", "resources": {"gpu": {"zonalRedundancy": True}}})
    assert redundant.one(JOB).inputs["template"]["template"]["gpuZonalRedundancyDisabled"] is False


def test_without_a_network_the_job_has_no_vpc_egress_and_prod_protects_it():
    rec = run(SCORE, network=False, protect=True)
    job = rec.one(JOB)
    assert "vpcAccess" not in job.inputs["template"]["template"]
    assert job.inputs["deletionProtection"] is True


def test_the_component_refuses_a_spec_cloud_run_would_reject_in_its_region():
    with pytest.raises(InputError) as caught:
        run({"name": "embed", "image": "x/embed:1", "resources": {"gpu": {}}}, region="us-west1")
    assert "Cloud Run offers no nvidia-l4 GPU in region us-west1" in str(caught.value)
