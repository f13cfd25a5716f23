"""The kubernetes pattern end to end: both GKE stacks plan, their manifests pass strict schema
validation, the cluster and pools carry their GPU, spot, autoscaling and taints, and the
mistakes GKE only reports after minutes of apply fail at once with one message each."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from components.gcp.gke.cluster_spec import KUBERNETES_MINOR
from infra.errors import ConfigError, key_path
from infra.plan import Plan, kubernetes_objects, write_manifests
from tests.conftest import ROOT, run_stack, stack_config
from tests.infra.test_config import load

K8S_STACKS = ["k8s-dev", "k8s-prod"]
# Custom resources have no schema in kubernetes-validate; their fields are asserted below.
CUSTOM_KINDS = {"Gateway", "HTTPRoute", "PodMonitoring", "HealthCheckPolicy", "ProvisioningRequest"}
POOL = "gcp:container/nodePool:NodePool"


def plan(stack: str) -> Plan:
    return Plan(stack, f"stacks/Pulumi.{stack}.yaml", stack_config(stack), run_stack(stack), 0.0, [])


def objects(stack: str, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in kubernetes_objects(plan(stack)) if o["kind"] == kind}


@pytest.mark.parametrize("stack", K8S_STACKS)
def test_rendered_manifests_pass_strict_schema_validation_for_the_clusters_kubernetes(stack, tmp_path):
    minor = KUBERNETES_MINOR[stack_config(stack)["mlinfra:cluster"].get("releaseChannel", "REGULAR")]
    files = write_manifests(plan(stack), tmp_path)
    assert len(files) == len(kubernetes_objects(plan(stack))) > 10
    validated = 0
    for path in files:
        obj = yaml.safe_load(path.read_text())
        if obj["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(obj, f"{minor}.0", strict=True)
        validated += 1
    assert validated >= 10


def test_cli_writes_one_manifest_file_per_object(cli_plan):
    done = cli_plan("k8s-dev")
    assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in done.manifests.iterdir())
    assert "deployment-ml-summarizer-summarizer-stable.yaml" in files
    assert f"wrote {len(files)} Kubernetes manifests" in done.stdout


def test_prod_cluster_is_regional_private_and_protected():
    rec = run_stack("k8s-prod")
    cluster = rec.one("gcp:container/cluster:Cluster")
    assert cluster.inputs["location"] == "us-central1"
    assert cluster.inputs["privateClusterConfig"]["enablePrivateNodes"] is True
    assert cluster.inputs["workloadIdentityConfig"] == {"workloadPool": "acme-ml-prod.svc.id.goog"}
    assert cluster.inputs["releaseChannel"] == {"channel": "STABLE"}
    assert cluster.inputs["deletionProtection"] is True and cluster.protect
    assert cluster.inputs["masterAuthorizedNetworksConfig"]["cidrBlocks"] == [
        {"cidrBlock": "203.0.113.0/24", "displayName": "corp-egress"}]


def test_control_plane_may_reach_the_metrics_adapter_through_the_private_cluster_firewall():
    rec = run_stack("k8s-prod")
    rule = rec.one("gcp:compute/firewall:Firewall", "mlinfra-control-plane-to-metrics-adapter")
    assert rule.inputs["sourceRanges"] == ["172.16.0.0/28"]
    assert rule.inputs["allows"] == [{"protocol": "tcp", "ports": ["8443"]}]
    assert rule.inputs["targetServiceAccounts"] == ["mlinfra-gke-nodes@acme-ml-prod.iam.gserviceaccount.com"]


def test_dev_cluster_is_zonal_and_unprotected():
    cluster = run_stack("k8s-dev").one("gcp:container/cluster:Cluster")
    assert cluster.inputs["location"] == "us-central1-a"
    assert cluster.inputs["deletionProtection"] is False and not cluster.protect


def test_prod_pools_carry_their_gpu_spot_autoscaling_and_taints():
    pools = {p.name: p.inputs for p in run_stack("k8s-prod").of_type(POOL)}
    general, l4, spot = pools["mlinfra-gke-general"], pools["mlinfra-gke-l4"], pools["mlinfra-gke-spot-l4"]
    assert general["nodeConfig"]["machineType"] == "n2-standard-8" and "guestAccelerators" not in general["nodeConfig"]
    assert general["autoscaling"]["locationPolicy"] == "BALANCED"
    assert l4["nodeConfig"]["guestAccelerators"][0]["type"] == "nvidia-l4"
    assert l4["nodeConfig"]["guestAccelerators"][0]["gpuDriverInstallationConfig"] == {"gpuDriverVersion": "DEFAULT"}
    assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"} in l4["nodeConfig"]["taints"]
    assert l4["nodeConfig"].get("spot") is not True
    assert spot["nodeConfig"]["spot"] is True
    assert spot["autoscaling"]["locationPolicy"] == "ANY"
    assert {"key": "cloud.google.com/gke-spot", "value": "true", "effect": "NO_SCHEDULE"} in spot["nodeConfig"]["taints"]
    assert (spot["autoscaling"]["minNodeCount"], spot["autoscaling"]["maxNodeCount"]) == (0, 16)
    for name, pool in pools.items():
        # GKE requires auto-repair off on flex-start pools; the queued pool is one.
        assert pool["management"] == {"autoRepair": name != "mlinfra-gke-dws-l4", "autoUpgrade": True}
        assert pool["nodeConfig"]["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}


def test_prod_fine_tuning_waits_for_both_of_its_queued_l4_nodes_at_once():
    rec = run_stack("k8s-prod")
    pool = rec.one(POOL, "mlinfra-gke-dws-l4")
    assert pool.inputs["queuedProvisioning"] == {"enabled": True}
    assert pool.inputs["nodeConfig"]["flexStart"] is True
    [request] = objects("k8s-prod", "ProvisioningRequest").values()
    assert request["metadata"]["name"].startswith("finetune-ranker-")
    assert request["spec"] == {"provisioningClassName": "queued-provisioning.gke.io",
                               "parameters": {"maxRunDurationSeconds": "86400"},
                               "podSets": [{"count": 2, "podTemplateRef": {"name": request["metadata"]["name"]}}]}
    [template] = objects("k8s-prod", "PodTemplate").values()
    job = objects("k8s-prod", "Job")["finetune-ranker"]
    pod = job["spec"]["template"]
    assert pod["metadata"]["annotations"]["autoscaling.x-k8s.io/consume-provisioning-request"] == request["metadata"]["name"]
    assert pod["spec"]["nodeSelector"] == {"cloud.google.com/gke-nodepool": pool.outputs["name"]}
    assert template["template"]["spec"] == pod["spec"]


def test_prod_ranker_splits_traffic_between_its_stable_and_canary_model_versions():
    route = objects("k8s-prod", "HTTPRoute")["ranker"]
    assert [(b["name"], b["weight"]) for b in route["spec"]["rules"][0]["backendRefs"]] == [
        ("ranker-stable", 90), ("ranker-canary", 10)]
    assert route["spec"]["parentRefs"] == [{"name": "mlinfra", "namespace": "mlinfra-gateway"}]
    deployments = objects("k8s-prod", "Deployment")
    env = {t: {e["name"]: e.get("value") for e in deployments[f"ranker-{t}"]["spec"]["template"]["spec"]["containers"][0]["env"]}
           for t in ("stable", "canary")}
    assert (env["stable"]["MODEL_VERSION"], env["canary"]["MODEL_VERSION"]) == ("12", "13")


def test_prod_ranker_prefers_spot_l4s_and_falls_back_to_on_demand():
    pod = objects("k8s-prod", "Deployment")["ranker-stable"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in pod["tolerations"]
    affinity = pod["affinity"]["nodeAffinity"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in affinity
    assert affinity["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"] == 100
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_prod_ranker_replicas_spread_over_zones_and_nodes():
    pod = objects("k8s-prod", "Deployment")["ranker-stable"]["spec"]["template"]["spec"]
    selector = {"matchLabels": objects("k8s-prod", "Deployment")["ranker-stable"]["spec"]["selector"]["matchLabels"]}
    assert pod["topologySpreadConstraints"] == [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": selector},
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": selector}]


def test_prod_retraining_runs_weekly_on_spot_only():
    cron = objects("k8s-prod", "CronJob")["retrain-ranker"]
    assert cron["spec"]["schedule"] == "0 4 * * 0"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    required = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert required["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "cloud.google.com/gke-spot", "operator": "In", "values": ["true"]}]
    assert pod["restartPolicy"] == "Never"


def test_prod_embedder_never_lands_on_spot_and_scales_on_cpu():
    pod = objects("k8s-prod", "Deployment")["embedder-stable"]["spec"]["template"]["spec"]
    assert not any(t.get("key") == "cloud.google.com/gke-spot" for t in pod.get("tolerations", []))
    hpa = objects("k8s-prod", "HorizontalPodAutoscaler")["embedder-stable"]
    assert hpa["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]


def k8s_errors(mutate) -> list[tuple[str, str]]:
    values = stack_config("k8s-prod")
    mutate(values)
    with pytest.raises(ConfigError) as caught:
        load(values)
    return [(key_path(i.path), str(caught.value)) for i in caught.value.issues]


def pool(values, i):
    return values["mlinfra:cluster"]["nodePools"][i]


@pytest.mark.parametrize("mutate,key,fragment", [
    (lambda v: pool(v, 1).update(machineType="n1-standard-8"), "mlinfra:cluster.nodePools[1]", "g2-standard-8"),
    (lambda v: pool(v, 1)["gpu"].update(count=3), "mlinfra:cluster.nodePools[1].gpu.count", "g2-standard-8"),
    (lambda v: pool(v, 0)["autoscaling"].update(min=9, max=2), "mlinfra:cluster.nodePools[0].autoscaling", "min"),
    (lambda v: [pool(v, 2).update(spot=False), v["mlinfra:services"][0].update(placement={"spot": "require"}),
                v["mlinfra:jobs"][0].update(placement={"spot": "prefer"})],
     "mlinfra:services[0].placement.spot", "no node pool is spot"),
    (lambda v: v["mlinfra:services"][1]["resources"].update(gpu={"type": "nvidia-tesla-t4"}),
     "mlinfra:services[1].resources.gpu.type", "no node pool (nor auto-provisioning) offers this GPU"),
    (lambda v: v["mlinfra:cluster"]["nodePools"].append(copy.deepcopy(pool(v, 0))),
     "mlinfra:cluster.nodePools[4].name", "general"),
    (lambda v: v["mlinfra:cluster"].update(zone="us-central1-a"), "mlinfra:cluster.zone", "dev"),
    (lambda v: v["mlinfra:services"].append({"name": "web", "platform": "cloudrun", "image": "x/web:1"}),
     "mlinfra:services[2].platform",
     "the kubernetes pattern runs services on gke"),
    (lambda v: v["mlinfra:jobs"].append({"name": "score", "platform": "cloudrun", "image": "x/score:1"}),
     "mlinfra:jobs[2].platform",
     "runs jobs on gke (got 'cloudrun')\n    allowed: gke\n    fix: remove the key, or use the hybrid pattern for cloudrun"),
    (lambda v: v.pop("mlinfra:cluster"), "mlinfra:cluster", "the kubernetes pattern needs a cluster"),
    (lambda v: pool(v, 0).update(name="general-purpose-pool-xyz"), "mlinfra:cluster.nodePools[0].name",
     "over GKE's 40 characters"),
    (lambda v: pool(v, 0).update(machineType="n2-standard-7"), "mlinfra:cluster.nodePools[0].machineType",
     "n2-standard-8"),
    (lambda v: pool(v, 0).update(machineType="n2-standrd-8"), "mlinfra:cluster.nodePools[0].machineType",
     "did you mean"),
    (lambda v: pool(v, 0).update(machineType="c4-standard-8"), "mlinfra:cluster.nodePools[0].diskType",
     "hyperdisk-balanced"),
    (lambda v: pool(v, 2).update(zones=["us-central1-q"]), "mlinfra:cluster.nodePools[2].zones[0]", "us-central1-a"),
    (lambda v: v["mlinfra:cluster"]["maintenance"].update(recurrence="FREQ=WEEKLY;BYDAY=SATURDAY")
     if "maintenance" in v["mlinfra:cluster"] else v["mlinfra:cluster"].update(
         maintenance={"recurrence": "FREQ=WEEKLY;BYDAY=SATURDAY"}),
     "mlinfra:cluster.maintenance.recurrence", "SATURDAY"),
    (lambda v: v["mlinfra:jobs"][0].update(schedule="0 4 * * 7"), "mlinfra:jobs[0].schedule", "outside 0-6"),
    (lambda v: v["mlinfra:jobs"][0].update(timeZone="Europe/Berln"), "mlinfra:jobs[0].timeZone", "Europe/Berlin"),
    (lambda v: v["mlinfra:jobs"][0].update(image="us-central1-docker.pkg.dev/acme/Train/x:5"), "mlinfra:jobs[0].image",
     "lowercase"),
    (lambda v: v["mlinfra:cluster"].update(privateEndpoint=True), "mlinfra:cluster.privateEndpoint",
     "fix: set deployerInVpc: true if the deploy runs inside the VPC"),
    (lambda v: v["mlinfra:cluster"].update(deployerInVpc=True), "mlinfra:cluster.deployerInVpc",
     "only matters with privateEndpoint: true"),
    # What cannot run: pods that fit no node they may be placed on.
    (lambda v: v["mlinfra:services"][0]["resources"].update(memory="30Gi"), "mlinfra:services[0].resources.memory",
     "g2-standard-8 (l4) offers pods 28.34Gi"),
    (lambda v: v["mlinfra:services"][1]["resources"].update(cpu=8), "mlinfra:services[1].resources.cpu",
     "fix: set cpu to 7 or less, or use a larger machineType in pool general"),
    (lambda v: v["mlinfra:jobs"][0]["resources"]["gpu"].update(count=2), "mlinfra:jobs[0].resources.gpu.count",
     "no node pool this pod may run on has 2 nvidia-l4 GPUs per node"),
    (lambda v: [v["mlinfra:cluster"]["nodePools"].pop(1), v["mlinfra:services"][0].update(placement={"spot": "never"})],
     "mlinfra:services[0].placement.spot", "no on-demand node pool has nvidia-l4 GPUs"),
    (lambda v: [pool(v, 1).update(gpu={"type": "nvidia-tesla-t4"}, machineType="n1-standard-8"),
                v["mlinfra:services"][0]["resources"]["gpu"].update(count=1),
                v["mlinfra:jobs"][0]["resources"]["gpu"].update(type="nvidia-tesla-t4")],
     "mlinfra:jobs[0].placement.spot", "no spot node pool has nvidia-tesla-t4 GPUs"),
    (lambda v: v["mlinfra:jobs"][0]["resources"].update(cpu=4, memory="29Gi"), "mlinfra:jobs[0].resources.memory",
     "29Gi fits no node pool"),
], ids=["L4 on an n1 machine", "three L4s on g2-standard-8", "min above max", "spot-only service without spot pool",
        "GPU no pool offers", "duplicate pool name", "zonal prod cluster", "cloudrun service in kubernetes",
        "cloudrun job in kubernetes", "no cluster", "pool name over GKE's limit", "a size the family lacks", "a typo in the family",
        "persistent disk on a hyperdisk-only family", "a zone the region lacks", "a recurrence GKE rejects",
        "day of week 7 in a CronJob", "a time zone typo", "an uppercase image repository",
        "private endpoint deployed from outside", "deployerInVpc without a private endpoint",
        "memory above the node's allocatable", "CPU of a whole node", "two GPUs on one-GPU nodes",
        "never-spot GPU service with only spot L4s", "spot-only T4 job with only an on-demand T4 pool",
        "a spot job asking for all of a node's memory"])
def test_rejects_gke_mistakes_with_one_message_naming_the_key(mutate, key, fragment):
    found = k8s_errors(mutate)
    assert len(found) == 1, [p for p, _ in found]
    path, text = found[0]
    assert path.startswith(key), path
    assert fragment in text


def test_a_cluster_whose_every_pool_is_tainted_has_nowhere_for_system_pods():
    found = k8s_errors(lambda v: pool(v, 0).update(taints=[{"key": "dedicated", "value": "embedder"}]))
    paths = sorted(p for p, _ in found)
    assert paths == ["mlinfra:cluster.nodePools", "mlinfra:services[1].resources"], paths
    text = dict(found)["mlinfra:cluster.nodePools"]
    assert "every node pool is tainted, so GKE's system pods" in text and "name: system" in text
    assert "general (dedicated=embedder:NoSchedule)" in dict(found)["mlinfra:services[1].resources"]


def test_cli_reports_a_gke_mistake_without_traceback(tmp_path):
    import shutil

    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    (tmp_path / "infra").symlink_to(ROOT / "infra")
    (tmp_path / "stacks").mkdir()
    text = (ROOT / "stacks/Pulumi.k8s-prod.yaml").read_text().replace("machineType: g2-standard-8\n        gpu",
                                                                      "machineType: n1-standard-8\n        gpu", 1)
    (tmp_path / "stacks/Pulumi.bad.yaml").write_text(text)
    done = subprocess.run([sys.executable, "-m", "infra.cli", "--project-dir", str(tmp_path), "plan", "--stack", "bad"],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 1
    assert "mlinfra:cluster.nodePools[1]" in done.stderr and "Traceback" not in done.stderr


def test_plan_tree_shows_each_pools_gpu_spot_autoscaling_and_taints():
    from infra.plan import render_tree

    text = render_tree(plan("k8s-prod"))
    assert ("gcp:container/nodePool:NodePool  mlinfra-gke-spot-l4  (g2-standard-8, 1x nvidia-l4, spot, "
            "0-16 per zone (0-48 in 3 zones), taints nvidia.com/gpu, cloud.google.com/gke-spot)") in text
    assert "mlinfra-gke-general  (n2-standard-8, 1-6 per zone (3-18 in 3 zones))" in text
