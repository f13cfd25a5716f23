"""Queued provisioning (Dynamic Workload Scheduler's ProvisioningRequest API): a queued pool as
GKE creates it, a job on it as the PodTemplate, ProvisioningRequest and Job it becomes, and the
settings GKE (or the request's one-shot nature) would refuse, each naming its key."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from components.gcp.gke import queued
from infra import config
from infra.errors import ConfigError, key_path
from infra.stackfile import to_engine_config
from tests.conftest import PROJECT, run_config, stack_config

POOL = "gcp:container/nodePool:NodePool"
JOB = "kubernetes:batch/v1:Job"
PODTEMPLATE = "kubernetes:core/v1:PodTemplate"
REQUEST = "kubernetes:autoscaling.x-k8s.io/v1:ProvisioningRequest"
QUEUED_POOL = {"name": "dws-l4", "machineType": "g2-standard-24", "gpu": {"type": "nvidia-l4", "count": 2},
               "flexStart": True, "queuedProvisioning": True, "autoscaling": {"min": 0, "max": 4, "perZone": False}}
QUEUED_JOB = {"name": "finetune", "image": "us-central1-docker.pkg.dev/acme-ml-dev/mlinfra-k8s-dev/finetune:1",
              "resources": {"cpu": 20, "memory": "80Gi", "gpu": {"type": "nvidia-l4", "count": 2}},
              "parallelism": 2, "completions": 2, "queued": {"pool": "dws-l4", "maxRunHours": 12}}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
QUEUED_TOLERATION = {"key": "cloud.google.com/gke-queued", "operator": "Equal", "value": "true", "effect": "NoSchedule"}


def with_queued(pool: dict | None = None, job: dict | None = None, **top) -> dict:
    values = copy.deepcopy(stack_config("k8s-dev"))
    values["mlinfra:cluster"]["nodePools"].append(pool or QUEUED_POOL)
    values["mlinfra:jobs"].append(job or QUEUED_JOB)
    values.update(top)
    return values


def test_a_queued_pool_is_a_flex_start_pool_whose_nodes_come_only_from_provisioning_requests():
    rec = run_config(with_queued(), stack="k8s-dev")
    pool = rec.one(POOL, "mlinfra-gke-dws-l4").inputs
    assert pool["queuedProvisioning"] == {"enabled": True}
    assert pool["initialNodeCount"] == 0
    assert pool["autoscaling"] == {"totalMinNodeCount": 0, "totalMaxNodeCount": 4, "locationPolicy": "ANY"}
    assert pool["management"] == {"autoRepair": False, "autoUpgrade": True}
    assert "upgradeSettings" not in pool  # GKE's short-lived upgrades: surge settings do not apply
    node = pool["nodeConfig"]
    assert node["flexStart"] is True and "maxRunDuration" not in node
    assert node["reservationAffinity"] == {"consumeReservationType": "NO_RESERVATION"}
    assert node["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"},
                              {"key": "cloud.google.com/gke-queued", "value": "true", "effect": "NO_SCHEDULE"}]
    others = [p.inputs for p in rec.of_type(POOL) if p.name != "mlinfra-gke-dws-l4"]
    assert others and all("queuedProvisioning" not in p for p in others)


def test_a_queued_job_asks_for_all_its_nodes_at_once_and_its_pods_consume_the_request():
    rec = run_config(with_queued(), stack="k8s-dev")
    pool_name = rec.one(POOL, "mlinfra-gke-dws-l4").outputs["name"]
    request = rec.one(REQUEST)
    template = rec.one(PODTEMPLATE)
    job = rec.one(JOB, "mlinfra-job-finetune")
    name = request.inputs["metadata"]["name"]
    assert name.startswith("finetune-") and len(name) == len("finetune-") + 8
    assert request.inputs["metadata"]["namespace"] == "mlinfra-jobs"
    assert request.inputs["spec"] == {
        "provisioningClassName": "queued-provisioning.gke.io",
        "parameters": {"maxRunDurationSeconds": "43200"},
        "podSets": [{"count": 2, "podTemplateRef": {"name": name}}]}
    assert template.inputs["metadata"]["name"] == name
    pod = job.inputs["spec"]["template"]
    assert pod["metadata"]["annotations"] == {
        "autoscaling.x-k8s.io/consume-provisioning-request": name,
        "autoscaling.x-k8s.io/provisioning-class-name": "queued-provisioning.gke.io"}
    assert pod["spec"]["nodeSelector"] == {"cloud.google.com/gke-nodepool": pool_name}
    assert pod["spec"]["tolerations"] == [GPU_TOLERATION, QUEUED_TOLERATION]
    assert "affinity" not in pod["spec"]
    assert (job.inputs["spec"]["parallelism"], job.inputs["spec"]["completions"]) == (2, 2)
    assert "suspend" not in job.inputs["spec"]
    # A pod that loses its node fails the Job: a replacement would wait for nodes no request brings.
    assert job.inputs["spec"]["podFailurePolicy"] == {"rules": [{"action": "FailJob", "onPodConditions": [
        {"type": "DisruptionTarget", "status": "True"}]}]}
    # The PodTemplate is the Job's pods (what the autoscaler fits), without the request's annotations.
    assert template.inputs["template"]["spec"] == pod["spec"]
    assert template.inputs["template"]["metadata"] == {"labels": pod["metadata"]["labels"]}
    assert job.inputs["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "2"
    # The Job waits for the request, the request for its template.
    assert request.urn in job.dependencies and template.urn in request.dependencies
    for obj in (job.inputs, template.inputs):
        kubernetes_validate.validate(obj, "1.35", strict=True)


def test_any_change_to_the_job_names_a_new_request_and_an_unchanged_job_keeps_its_own():
    first = run_config(with_queued(), stack="k8s-dev").one(REQUEST).inputs["metadata"]["name"]
    again = run_config(with_queued(), stack="k8s-dev").one(REQUEST).inputs["metadata"]["name"]
    changed = run_config(with_queued(job={**QUEUED_JOB, "args": ["--epochs", "3"]}),
                         stack="k8s-dev").one(REQUEST).inputs["metadata"]["name"]
    longer = run_config(with_queued(job={**QUEUED_JOB, "queued": {"pool": "dws-l4", "maxRunHours": 24}}),
                        stack="k8s-dev").one(REQUEST).inputs["metadata"]["name"]
    assert first == again and len({first, changed, longer}) == 3


def test_other_workloads_never_land_on_a_queued_pool():
    rec = run_config(with_queued(), stack="k8s-dev")
    for r in rec.of_type(JOB):
        if r.name != "mlinfra-job-finetune":
            pod = r.inputs["spec"]["template"]
            assert QUEUED_TOLERATION not in pod["spec"].get("tolerations", [])
            assert "annotations" not in pod.get("metadata", {})


def test_request_names_fingerprint_the_pods_the_pool_the_count_and_the_duration():
    pods = {"spec": {"containers": [{"name": "job", "image": "x:1"}]}}
    name = queued.request_name("train", pods, "mlinfra-gke-q-abc1234", 2, 24)
    assert name == queued.request_name("train", copy.deepcopy(pods), "mlinfra-gke-q-abc1234", 2, 24)
    assert len({name, queued.request_name("train", pods, "mlinfra-gke-q-def5678", 2, 24),
                queued.request_name("train", pods, "mlinfra-gke-q-abc1234", 3, 24),
                queued.request_name("train", pods, "mlinfra-gke-q-abc1234", 2, 12)}) == 4


def _issues(values: dict) -> list[tuple[str, str]]:
    engine_values, _ = to_engine_config(values)
    with pytest.raises(ConfigError) as caught:
        config.load(engine_values, stack="k8s-dev", file="stacks/Pulumi.k8s-dev.yaml", root=PROJECT.root)
    return [(key_path(i.path), i.message) for i in caught.value.issues]


@pytest.mark.parametrize("pool, key, fragment", [
    ({**QUEUED_POOL, "flexStart": False}, "nodePools[2].queuedProvisioning", "as a flex-start pool"),
    ({**QUEUED_POOL, "maxRunHours": 24}, "nodePools[2].maxRunHours", "as long as the job's ProvisioningRequest"),
    ({**QUEUED_POOL, "autoscaling": {"min": 1, "max": 4}}, "nodePools[2].autoscaling.min", "must be 0"),
    ({**QUEUED_POOL, "spot": True}, "nodePools[2].flexStart", "two provisioning models"),
    ({**QUEUED_POOL, "maxSurge": 0}, "nodePools[2].maxSurge", "short-lived upgrades"),
    ({**QUEUED_POOL, "maxUnavailable": 1}, "nodePools[2].maxUnavailable", "short-lived upgrades"),
])
def test_each_pool_setting_gke_refuses_on_a_queued_pool_fails_naming_its_key(pool, key, fragment):
    issues = _issues(with_queued(pool=pool))
    assert [k for k, _ in issues] == [f"mlinfra:cluster.{key}"], issues
    assert fragment in issues[0][1]


@pytest.mark.parametrize("job, key, fragment", [
    ({**QUEUED_JOB, "schedule": "0 4 * * 0"}, "schedule", "a CronJob's runs would each need a request"),
    ({**QUEUED_JOB, "completions": 4}, "completions", "a second wave would find them gone"),
    ({**QUEUED_JOB, "placement": {"spot": "require"}}, "placement.spot", "flex-start, not spot"),
    ({**QUEUED_JOB, "queued": {"pool": "spot-l4"}}, "queued.pool", "is not a queued pool"),
    ({**QUEUED_JOB, "queued": {"pool": "h100"}}, "queued.pool", "is not a node pool of the cluster"),
    ({**QUEUED_JOB, "resources": {"cpu": 20, "memory": "80Gi", "gpu": {"type": "nvidia-tesla-t4", "count": 2}}},
     "resources.gpu.type", "pool dws-l4 has nvidia-l4 GPUs"),
    ({**QUEUED_JOB, "resources": {"cpu": 30, "memory": "80Gi", "gpu": {"type": "nvidia-l4", "count": 2}}},
     "resources.cpu", "fit no node pool"),
    ({**QUEUED_JOB, "parallelism": 5, "completions": 5}, "parallelism", "5 pods need 5 nodes of pool dws-l4 at once"),
    ({**QUEUED_JOB, "parallelism": 9, "completions": 9,
      "resources": {"cpu": 10, "memory": "40Gi", "gpu": {"type": "nvidia-l4", "count": 1}}},
     "parallelism", "9 pods need 5 nodes of pool dws-l4 at once (2 per node)"),
])
def test_each_job_setting_a_queued_pool_cannot_serve_fails_naming_its_key(job, key, fragment):
    issues = _issues(with_queued(job=job))
    assert [k for k, _ in issues] == [f"mlinfra:jobs[1].{key}"], issues
    assert fragment in issues[0][1]


def test_pods_that_share_nodes_fit_under_the_pools_node_limit():
    job = {**QUEUED_JOB, "parallelism": 8, "completions": 8,
           "resources": {"cpu": 10, "memory": "40Gi", "gpu": {"type": "nvidia-l4", "count": 1}}}
    request = run_config(with_queued(job=job), stack="k8s-dev").one(REQUEST)
    assert request.inputs["spec"]["podSets"][0]["count"] == 8


def test_a_job_without_a_gpu_cannot_be_queued():
    job = {k: v for k, v in QUEUED_JOB.items() if k != "resources"}
    assert _issues(with_queued(job=job)) == [
        ("mlinfra:jobs[1].resources.gpu", "is needed: a queued pool provisions GPU nodes")]


def test_a_workload_asking_for_a_gpu_only_a_queued_pool_has_is_refused():
    values = with_queued()
    values["mlinfra:services"][0]["resources"]["gpu"] = {"type": "nvidia-l4", "count": 2}
    values["mlinfra:cluster"]["nodePools"] = [p for p in values["mlinfra:cluster"]["nodePools"] if p["name"] != "spot-l4"]
    values["mlinfra:services"][0]["placement"] = {"spot": "never"}
    issues = dict(_issues(values))
    assert issues["mlinfra:services[0].resources.gpu.type"] == (
        "no node pool (nor auto-provisioning) offers this GPU (queued pool dws-l4 takes only jobs with `queued`)")


def test_a_trigger_cannot_start_a_queued_job():
    values = with_queued()
    values["mlinfra:triggers"] = [{"name": "on-data", "on": {"storage": {"bucket": "dataLake", "prefix": "ft/"}},
                                   "run": {"job": "finetune"}}]
    issues = _issues(values)
    assert [k for k, _ in issues] == ["mlinfra:triggers[0].run.job"], issues
    assert "a trigger's workflow does not create" in issues[0][1]


def run_queued_job(**args):
    import pulumi_kubernetes as k8s

    from components.gcp.gke.gke_job import GkeJob, GkeJobArgs
    from components.gcp.gke.gke_job_spec import GkeJobSpec
    from tests.conftest import run_component

    def program():
        GkeJob("ft", GkeJobArgs(spec=GkeJobSpec.model_validate(QUEUED_JOB), project="acme-test",
                                namespace="mlinfra-jobs", provider=k8s.Provider("k8s", kubeconfig="{}"),
                                workload_pool="acme-test.svc.id.goog", **args))
    return run_component(program)


def test_the_job_component_refuses_a_queued_job_without_its_pool_or_started_by_a_trigger():
    from components.core.issues import InputError

    with pytest.raises(InputError, match="queued.pool: needs the GKE name of the queued pool"):
        run_queued_job()
    with pytest.raises(InputError, match="a trigger's runs cannot create the ProvisioningRequest"):
        run_queued_job(queued_pool="mlinfra-gke-dws-l4-abc1234", on_events=True)
    rec = run_queued_job(queued_pool="mlinfra-gke-dws-l4-abc1234")
    pod = rec.one(JOB).inputs["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"cloud.google.com/gke-nodepool": "mlinfra-gke-dws-l4-abc1234"}
    name = rec.one(REQUEST).inputs["metadata"]["name"]
    assert name.startswith("finetune-") and rec.one(PODTEMPLATE).inputs["metadata"]["name"] == name
