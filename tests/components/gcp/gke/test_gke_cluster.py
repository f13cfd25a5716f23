"""The GKE cluster, its node pools and the GPU rules: pure rules, then exact child inputs."""

from __future__ import annotations

import json

import pytest

from components.core.issues import InputError, format_path
from components.core.spec import Context, validate
from components.gcp.gke.cluster_spec import (KUBERNETES_MINOR, AutoProvisioningGpuSpec, AutoProvisioningSpec,
                                             ClusterSpec, MaintenanceSpec,
                                             maintenance_hours_per_32_days, maintenance_window, offered_gpus, spot_pools)
from components.gcp.gke.gke_cluster import GkeCluster, GkeClusterArgs, kubeconfig
from components.gcp.gke.gke_node_pool import GkeNodePool, GkeNodePoolArgs
from components.gcp.gke.gpus import KNOWN_GPU_TYPES, gpu_issues
from components.gcp.gke.node_pool_spec import NodePoolSpec, TaintSpec, location_policy, node_pool_issues, pool_taints


def cluster_issues(spec, region, environment):
    """Every rule of a cluster spec and its pools, as the stack-file pass runs them."""
    return validate(spec, Context(region=region, environment=environment))
from tests.conftest import run_component

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
IAM = "gcp:projects/iAMMember:IAMMember"
NODE_SA = "ml-nodes@acme-test.iam.gserviceaccount.com"


def where(issues) -> list[str]:
    return [format_path(i.path) for i in issues]


# --- GPU rules ---------------------------------------------------------------------------------

def test_rejects_an_l4_on_an_n1_machine_and_names_the_g2_machine_types():
    [issue] = gpu_issues("nvidia-l4", 1, "n1-standard-8", "us-central1")
    assert issue.path == ("machineType",)
    assert "nvidia-l4 does not attach to N1 machine types" in issue.message
    assert "g2-standard-4" in issue.allowed and "g2-standard-96" in issue.allowed
    assert issue.fix


def test_rejects_three_l4s_on_g2_standard_8_saying_it_carries_exactly_one_and_none_carries_three():
    [issue] = gpu_issues("nvidia-l4", 3, "g2-standard-8", "us-central1")
    assert issue.path == ("gpu", "count")
    assert issue.message == "g2-standard-8 carries exactly 1 nvidia-l4 GPU(s); no machine type carries 3"
    assert "2: g2-standard-24" in issue.allowed and "8: g2-standard-96" in issue.allowed
    assert issue.fix == "set gpu.count to 1"


def test_two_l4s_fit_g2_standard_24_and_the_fix_for_a_wrong_count_names_it():
    assert gpu_issues("nvidia-l4", 2, "g2-standard-24", "us-central1") == []
    [issue] = gpu_issues("nvidia-l4", 2, "g2-standard-8", "us-central1")
    assert issue.fix == "set gpu.count to 1, or use g2-standard-24 for 2"


def test_two_a100s_on_a2_highgpu_2g_are_valid():
    assert gpu_issues("nvidia-tesla-a100", 2, "a2-highgpu-2g", "us-central1") == []


def test_rejects_a_machine_type_that_carries_another_gpu():
    [issue] = gpu_issues("nvidia-tesla-a100", 1, "a2-ultragpu-1g", "us-central1")
    assert issue.path == ("machineType",)
    assert issue.message == "a2-ultragpu-1g comes with 1 nvidia-a100-80gb GPU(s), not nvidia-tesla-a100"


def test_rejects_an_n1_machine_with_more_vcpus_than_its_gpu_count_allows():
    assert gpu_issues("nvidia-tesla-t4", 1, "n1-standard-8", "us-central1") == []
    [issue] = gpu_issues("nvidia-tesla-t4", 1, "n1-standard-64", "us-central1")
    assert (issue.path, issue.allowed) == (("machineType",), "up to 48 vCPUs")
    assert issue.fix == "use a machine type with at most 48 vCPUs, or attach 4 GPUs"
    [issue] = gpu_issues("nvidia-tesla-t4", 3, "n1-standard-8", "us-central1")
    assert (issue.path, issue.allowed) == (("gpu", "count"), "1, 2, 4")


def test_rejects_an_unknown_gpu_type_with_the_known_ones():
    [issue] = gpu_issues("nvidia-rtx-9090", 1, "g2-standard-8", "us-central1")
    assert issue.path == ("gpu", "type")
    assert issue.allowed == ", ".join(KNOWN_GPU_TYPES)


def test_rejects_a_gpu_in_a_region_without_it():
    [issue] = gpu_issues("nvidia-tesla-v100", 1, "n1-standard-8", "us-east4")
    assert issue.path == ("gpu", "type")
    assert issue.message == "no nvidia-tesla-v100 GPUs in region us-east4"
    assert "us-central1" in issue.allowed


def test_mig_partitions_exist_only_on_a100_and_h100_and_only_in_their_sizes():
    assert gpu_issues("nvidia-tesla-a100", 1, "a2-highgpu-1g", "us-central1", partition_size="1g.5gb") == []
    [issue] = gpu_issues("nvidia-tesla-a100", 1, "a2-highgpu-1g", "us-central1", partition_size="1g.10gb")
    assert (issue.path, issue.allowed) == (("gpu", "partitionSize"), "1g.5gb, 2g.10gb, 3g.20gb, 7g.40gb")
    [issue] = gpu_issues("nvidia-l4", 1, "g2-standard-8", "us-central1", partition_size="1g.5gb")
    assert issue.message == "nvidia-l4 has no multi-instance GPU partitions"


def test_rejects_gpu_sharing_out_of_range_and_mps_on_partitions():
    assert gpu_issues("nvidia-l4", 1, "g2-standard-8", "us-central1", sharing=("MPS", 48)) == []
    assert where(gpu_issues("nvidia-l4", 1, "g2-standard-8", "us-central1", sharing=("MPS", 49))) == [
        "gpu.sharing.maxSharedClients"]
    issues = gpu_issues("nvidia-tesla-a100", 1, "a2-highgpu-1g", "us-central1", "1g.5gb", ("MPS", 4))
    assert where(issues) == ["gpu.sharing.strategy"]


def test_rejects_gpus_on_machine_types_that_take_none():
    [issue] = gpu_issues("nvidia-tesla-t4", 1, "e2-standard-4", "us-central1")
    assert issue.message == "e2-standard-4 cannot have GPUs attached"


# --- node pool rules ---------------------------------------------------------------------------

def pool(**values) -> NodePoolSpec:
    return NodePoolSpec.model_validate({"name": "p", **values})


def test_rejects_autoscaling_min_above_max_on_max():
    [issue] = node_pool_issues(pool(autoscaling={"min": 4, "max": 2}), "us-central1")
    assert (issue.path, issue.message, issue.value) == (("autoscaling", "max"), "is below autoscaling.min (4)", 2)


def test_rejects_reserved_label_and_taint_prefixes_and_a_declared_spot_taint():
    spec = pool(labels={"cloud.google.com/gke-nodepool": "x", "node.kubernetes.io/role": "y", "team": "ml"},
                taints=[{"key": "cloud.google.com/gke-spot", "value": "true"}, {"key": "k8s.io/x", "value": "1"}])
    issues = node_pool_issues(spec, "us-central1")
    assert where(issues) == ["labels.cloud.google.com/gke-nodepool", "labels.node.kubernetes.io/role",
                             "taints[0].key", "taints[1].key"]
    assert issues[0].message == "uses the cloud.google.com/ prefix, which GKE keeps for itself"
    assert issues[2].fix == "remove it and set `spot: true`"


def test_rejects_a3_machine_types_sold_only_as_spot_in_an_on_demand_pool():
    spec = pool(machineType="a3-highgpu-1g", gpu={"type": "nvidia-h100-80gb"})
    assert where(node_pool_issues(spec, "us-central1")) == ["spot"]
    assert node_pool_issues(spec.model_copy(update={"spot": True}), "us-central1") == []


def test_rejects_upgrades_that_could_never_replace_a_node():
    assert where(node_pool_issues(pool(maxSurge=0, maxUnavailable=0), "us-central1")) == ["maxSurge"]


def test_node_pool_gpu_issues_sit_under_the_pool_and_zones_must_be_in_the_region():
    spec = pool(machineType="n1-standard-8", gpu={"type": "nvidia-l4"}, zones=["europe-west4-a"])
    assert where(node_pool_issues(spec, "us-central1")) == ["zones[0]", "machineType"]


def test_pool_taints_add_gke_gpu_taint_once_even_when_declared():
    spec = pool(machineType="g2-standard-8", gpu={"type": "nvidia-l4"},
                taints=[{"key": "nvidia.com/gpu", "value": "present"}, {"key": "dedicated", "value": "llm"}])
    assert pool_taints(spec) == [TaintSpec(key="nvidia.com/gpu", value="present", effect="NoSchedule"),
                                 TaintSpec(key="dedicated", value="llm", effect="NoSchedule")]


def test_spot_pools_get_the_spot_taint_and_scale_anywhere():
    spec = pool(spot=True)
    assert pool_taints(spec) == [TaintSpec(key="cloud.google.com/gke-spot", value="true", effect="NoSchedule")]
    assert (location_policy(spec), location_policy(pool())) == ("ANY", "BALANCED")
    assert pool_taints(pool()) == []


def test_a_gpu_spot_pool_has_both_taints_in_order():
    spec = pool(spot=True, machineType="g2-standard-8", gpu={"type": "nvidia-l4"})
    assert [(t.key, t.value) for t in pool_taints(spec)] == [("nvidia.com/gpu", "present"),
                                                             ("cloud.google.com/gke-spot", "true")]


# --- cluster rules -----------------------------------------------------------------------------

def cluster(**values) -> ClusterSpec:
    return ClusterSpec.model_validate({"nodePools": [{"name": "cpu"}], **values})


def test_rejects_a_zonal_cluster_outside_dev_and_a_zone_outside_the_region():
    assert cluster_issues(cluster(zone="us-central1-a"), "us-central1", "dev") == []
    [issue] = cluster_issues(cluster(zone="us-central1-a"), "us-central1", "prod")
    assert (issue.path, issue.fix) == (("zone",), "remove zone to get a regional cluster")
    [issue] = cluster_issues(cluster(zone="europe-west4-a"), "us-central1", "dev")
    assert issue.message == "is a zone of europe-west4, not of region us-central1"


def test_rejects_duplicate_pool_names_on_the_second_one():
    spec = cluster(nodePools=[{"name": "cpu"}, {"name": "gpu", "machineType": "g2-standard-8",
                                                "gpu": {"type": "nvidia-l4"}}, {"name": "cpu"}])
    [issue] = cluster_issues(spec, "us-central1", "dev")
    assert (issue.path, issue.message) == (("nodePools", 2, "name"), "is also the name of nodePools[0]")


def test_cluster_issues_carry_each_pools_issues_under_its_index():
    spec = cluster(nodePools=[{"name": "cpu"}, {"name": "l4", "gpu": {"type": "nvidia-l4", "count": 3},
                                                "machineType": "g2-standard-8"}])
    assert where(cluster_issues(spec, "us-central1", "dev")) == ["nodePools[1].gpu.count"]


def test_rejects_a_cluster_where_nothing_could_run_and_bad_auto_provisioning_gpus():
    assert where(cluster_issues(cluster(nodePools=[]), "us-central1", "dev")) == ["nodePools"]
    spec = cluster(nodePools=[], autoProvisioning={"enabled": True, "gpus": [{"type": "nvidia-l4", "max": 4},
                                                                            {"type": "nvidia-x", "max": 1}]})
    assert where(cluster_issues(spec, "us-central1", "dev")) == ["autoProvisioning.gpus[1].type"]


def test_rejects_a_master_cidr_that_is_not_a_private_slash_28_and_bad_authorized_networks():
    spec = cluster(masterCidr="172.16.0.0/24", authorizedNetworks=[{"cidr": "203.0.113.7/24", "name": "office"}])
    issues = cluster_issues(spec, "us-central1", "dev")
    assert where(issues) == ["masterCidr", "authorizedNetworks[0].cidr"]
    assert issues[0].message == "the control plane range must be a /28"
    assert where(cluster_issues(cluster(masterCidr="8.8.8.0/28"), "us-central1", "dev")) == ["masterCidr"]


def test_maintenance_windows_must_give_gke_48_hours_in_any_32_days():
    assert maintenance_hours_per_32_days(MaintenanceSpec(hours=4)) == 32
    assert maintenance_hours_per_32_days(MaintenanceSpec()) == 64
    assert maintenance_hours_per_32_days(MaintenanceSpec(recurrence="FREQ=DAILY", hours=4)) == 128
    [issue] = cluster_issues(cluster(maintenance={"hours": 4}), "us-central1", "dev")
    assert issue.path == ("maintenance", "hours")
    assert maintenance_window(MaintenanceSpec(start="22:30", hours=8)) == ("2026-01-03T22:30:00Z",
                                                                           "2026-01-04T06:30:00Z")


def test_offered_gpus_and_spot_pools_come_from_pools_and_auto_provisioning():
    spec = ClusterSpec.model_validate({
        "nodePools": [{"name": "cpu"}, {"name": "t4", "spot": True, "machineType": "n1-standard-8",
                                        "gpu": {"type": "nvidia-tesla-t4"}}],
        "autoProvisioning": {"enabled": True, "gpus": [{"type": "nvidia-l4", "max": 8}]}})
    assert offered_gpus(spec) == {"nvidia-tesla-t4", "nvidia-l4"}
    assert [p.name for p in spot_pools(spec)] == ["t4"]
    off = spec.model_copy(update={"auto_provisioning": spec.auto_provisioning.model_copy(update={"enabled": False})})
    assert offered_gpus(off) == {"nvidia-tesla-t4"}


def test_kubernetes_minor_is_within_the_schemas_kubernetes_validate_ships():
    for minor in KUBERNETES_MINOR.values():
        assert 25 <= int(minor.split(".")[1]) <= 37


def test_kubeconfig_authenticates_with_the_gke_auth_plugin():
    config = json.loads(kubeconfig("gke_p_r_c", "10.0.0.2", "Q0E="))
    assert config["clusters"] == [{"name": "gke_p_r_c", "cluster": {"server": "https://10.0.0.2",
                                                                    "certificate-authority-data": "Q0E="}}]
    assert config["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert config["users"][0]["user"]["exec"]["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert config["current-context"] == "gke_p_r_c"


# --- components --------------------------------------------------------------------------------

SPEC = ClusterSpec.model_validate({
    "releaseChannel": "STABLE",
    "authorizedNetworks": [{"cidr": "203.0.113.0/24", "name": "office"}],
    "nodePools": [
        {"name": "cpu", "autoscaling": {"min": 1, "max": 5}, "labels": {"team": "ml"}},
        {"name": "l4", "machineType": "g2-standard-8", "diskSizeGb": 200,
         "gpu": {"type": "nvidia-l4", "sharing": {"strategy": "TIME_SHARING", "maxSharedClients": 4}},
         "autoscaling": {"min": 0, "max": 6, "perZone": False}, "zones": ["us-central1-a", "us-central1-b"]},
        {"name": "spot", "machineType": "e2-standard-8", "spot": True,
         "taints": [{"key": "acme.dev/batch", "value": "true", "effect": "NoExecute"}]},
    ],
})


def make_cluster(spec: ClusterSpec = SPEC, environment: str = "dev"):
    return run_component(lambda: GkeCluster("ml", GkeClusterArgs(
        spec=spec, project="acme-test", region="us-central1", environment=environment, network_id="net",
        subnetwork_id="sub", pods_range="pods", services_range="services")))


SAFE_NODE_CONFIG = {
    "serviceAccount": NODE_SA,
    "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"],
    "workloadMetadataConfig": {"mode": "GKE_METADATA"},
    "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
    "metadata": {"disable-legacy-endpoints": "true"},
}


def test_cluster_is_private_with_workload_identity_shielded_nodes_and_no_legacy_auth():
    rec = make_cluster()
    c = rec.one(CLUSTER).inputs
    assert c["location"] == "us-central1"
    assert (c["network"], c["subnetwork"], c["networkingMode"]) == ("net", "sub", "VPC_NATIVE")
    assert c["ipAllocationPolicy"] == {"clusterSecondaryRangeName": "pods", "servicesSecondaryRangeName": "services"}
    assert c["privateClusterConfig"] == {"enablePrivateNodes": True, "enablePrivateEndpoint": False,
                                         "masterIpv4CidrBlock": "172.16.0.0/28"}
    assert c["masterAuthorizedNetworksConfig"] == {"cidrBlocks": [{"cidrBlock": "203.0.113.0/24",
                                                                   "displayName": "office"}]}
    assert c["workloadIdentityConfig"] == {"workloadPool": "acme-test.svc.id.goog"}
    assert c["enableShieldedNodes"] is True
    assert c["releaseChannel"] == {"channel": "STABLE"}
    assert c["enableLegacyAbac"] is False
    assert c["masterAuth"] == {"clientCertificateConfig": {"issueClientCertificate": False}}
    assert c["datapathProvider"] == "ADVANCED_DATAPATH"
    assert c["verticalPodAutoscaling"] == {"enabled": True}


def test_dcgm_metrics_follow_the_gpus_a_pool_or_auto_provisioning_may_bring():
    cpu_only = SPEC.model_copy(update={"node_pools": [p for p in SPEC.node_pools if p.gpu is None]})
    assert cpu_only.node_pools and len(cpu_only.node_pools) < len(SPEC.node_pools)
    assert make_cluster(cpu_only).one(CLUSTER).inputs["monitoringConfig"]["enableComponents"] == ["SYSTEM_COMPONENTS"]
    nap = cpu_only.model_copy(update={"auto_provisioning": AutoProvisioningSpec(
        enabled=True, gpus=[AutoProvisioningGpuSpec(type="nvidia-l4", max=4)])})
    assert make_cluster(nap).one(CLUSTER).inputs["monitoringConfig"]["enableComponents"] == [
        "SYSTEM_COMPONENTS", "DCGM"]


def test_the_default_pool_is_removed_and_safe_while_it_lives():
    c = make_cluster().one(CLUSTER)
    assert (c.inputs["removeDefaultNodePool"], c.inputs["initialNodeCount"]) == (True, 1)
    assert c.inputs["nodeConfig"] == SAFE_NODE_CONFIG
    assert c.ignore_changes == ["nodeConfig"]


def test_cluster_addons_monitoring_gateway_image_streaming_and_maintenance():
    c = make_cluster().one(CLUSTER).inputs
    assert c["addonsConfig"] == {"gcsFuseCsiDriverConfig": {"enabled": True},
                                 "gcePersistentDiskCsiDriverConfig": {"enabled": True},
                                 "httpLoadBalancing": {"disabled": False}}
    # SPEC has a GPU pool: GKE's managed DCGM metrics too.
    assert c["monitoringConfig"] == {"enableComponents": ["SYSTEM_COMPONENTS", "DCGM"],
                                     "managedPrometheus": {"enabled": True}}
    assert c["gatewayApiConfig"] == {"channel": "CHANNEL_STANDARD"}
    assert c["nodePoolDefaults"] == {"nodeConfigDefaults": {"gcfsConfig": {"enabled": True}}}
    assert c["maintenancePolicy"] == {"recurringWindow": {
        "startTime": "2026-01-03T03:00:00Z", "endTime": "2026-01-03T11:00:00Z", "recurrence": "FREQ=WEEKLY;BYDAY=SA,SU"}}
    assert c["clusterAutoscaling"] == {"enabled": False, "autoscalingProfile": "OPTIMIZE_UTILIZATION"}


def test_node_service_account_gets_only_the_node_role_image_pulls_and_streaming_before_the_cluster_exists():
    rec = make_cluster()
    grants = rec.of_type(IAM)
    assert sorted((g.inputs["role"], g.inputs["member"], g.inputs["project"]) for g in grants) == [
        ("roles/artifactregistry.reader", f"serviceAccount:{NODE_SA}", "acme-test"),
        ("roles/container.defaultNodeServiceAccount", f"serviceAccount:{NODE_SA}", "acme-test"),
        ("roles/serviceusage.serviceUsageConsumer", f"serviceAccount:{NODE_SA}", "acme-test")]
    cluster = rec.one(CLUSTER)
    assert all(g.urn in cluster.dependencies for g in grants)


def test_deletion_protection_and_protect_only_in_prod():
    dev = make_cluster().one(CLUSTER)
    assert (dev.inputs["deletionProtection"], dev.protect) == (False, False)
    prod = make_cluster(environment="prod").one(CLUSTER)
    assert (prod.inputs["deletionProtection"], prod.protect) == (True, True)


def test_every_pool_is_auto_repaired_upgraded_and_hides_the_node_metadata():
    rec = make_cluster()
    pools = {p.name: p for p in rec.of_type(NODE_POOL)}
    assert sorted(pools) == ["ml-cpu", "ml-l4", "ml-spot"]
    for p in pools.values():
        config = p.inputs["nodeConfig"]
        assert {k: config[k] for k in SAFE_NODE_CONFIG} == SAFE_NODE_CONFIG
        assert (config["imageType"], config["gcfsConfig"]) == ("COS_CONTAINERD", {"enabled": True})
        assert p.inputs["management"] == {"autoRepair": True, "autoUpgrade": True}
        assert (p.inputs["location"], p.inputs["project"]) == ("us-central1", "acme-test")
        assert p.ignore_changes == ["initialNodeCount"]
        assert p.parent.endswith("mlinfra:gcp:GkeCluster$mlinfra:gcp:GkeNodePool::" + p.name)
    cpu = pools["ml-cpu"].inputs
    assert cpu["autoscaling"] == {"minNodeCount": 1, "maxNodeCount": 5, "locationPolicy": "BALANCED"}
    assert cpu["initialNodeCount"] == 1
    assert cpu["upgradeSettings"] == {"strategy": "SURGE", "maxSurge": 1, "maxUnavailable": 0}
    assert cpu["nodeConfig"]["labels"] == {"team": "ml", "mlinfra.dev/pool": "cpu"}
    assert cpu["nodeConfig"]["taints"] == [] and "guestAccelerators" not in cpu["nodeConfig"]
    assert cpu["nodeConfig"]["spot"] is False


def test_gpu_pool_has_the_accelerator_with_default_driver_sharing_and_the_gpu_taint():
    l4 = {p.name: p for p in make_cluster().of_type(NODE_POOL)}["ml-l4"].inputs
    assert l4["nodeConfig"]["machineType"] == "g2-standard-8"
    assert l4["nodeConfig"]["diskSizeGb"] == 200
    assert l4["nodeConfig"]["guestAccelerators"] == [{
        "type": "nvidia-l4", "count": 1,
        "gpuDriverInstallationConfig": {"gpuDriverVersion": "DEFAULT"},
        "gpuSharingConfig": {"gpuSharingStrategy": "TIME_SHARING", "maxSharedClientsPerGpu": 4}}]
    assert l4["nodeConfig"]["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
    assert l4["autoscaling"] == {"totalMinNodeCount": 0, "totalMaxNodeCount": 6, "locationPolicy": "BALANCED"}
    assert l4["nodeLocations"] == ["us-central1-a", "us-central1-b"]


def test_spot_pool_is_spot_tainted_and_scales_wherever_capacity_is():
    spot = {p.name: p for p in make_cluster().of_type(NODE_POOL)}["ml-spot"].inputs
    assert spot["nodeConfig"]["spot"] is True
    assert spot["nodeConfig"]["taints"] == [
        {"key": "acme.dev/batch", "value": "true", "effect": "NO_EXECUTE"},
        {"key": "cloud.google.com/gke-spot", "value": "true", "effect": "NO_SCHEDULE"}]
    assert spot["autoscaling"]["locationPolicy"] == "ANY"


def test_auto_provisioning_limits_resources_and_provisions_safe_nodes():
    spec = ClusterSpec.model_validate({"autoProvisioning": {
        "enabled": True, "maxCpu": 32, "maxMemoryGb": 128, "gpus": [{"type": "nvidia-l4", "max": 4}]}})
    rec = make_cluster(spec)
    assert rec.of_type(NODE_POOL) == []
    assert rec.one(CLUSTER).inputs["clusterAutoscaling"] == {
        "enabled": True,
        "autoscalingProfile": "OPTIMIZE_UTILIZATION",
        "resourceLimits": [{"resourceType": "cpu", "maximum": 32}, {"resourceType": "memory", "maximum": 128},
                           {"resourceType": "nvidia-l4", "maximum": 4}],
        "autoProvisioningDefaults": {
            "serviceAccount": NODE_SA,
            "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"],
            "imageType": "COS_CONTAINERD",
            "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
            "management": {"autoRepair": True, "autoUpgrade": True}},
    }


def test_a_zonal_dev_cluster_puts_cluster_and_pools_in_the_zone():
    rec = make_cluster(ClusterSpec.model_validate({"zone": "us-central1-c", "nodePools": [{"name": "cpu"}]}))
    assert rec.one(CLUSTER).inputs["location"] == "us-central1-c"
    assert rec.one(NODE_POOL).inputs["location"] == "us-central1-c"


def test_kubernetes_provider_uses_server_side_apply_and_waits_for_the_node_pools():
    rec = make_cluster()
    provider = rec.one("pulumi:providers:kubernetes", "ml-k8s")
    assert provider.inputs["enableServerSideApply"] == "true"
    assert json.loads(provider.inputs["kubeconfig"])["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert {p.urn for p in rec.of_type(NODE_POOL)} <= set(provider.dependencies)


def test_fails_if_a_cluster_component_gets_a_zonal_prod_cluster_from_any_program():
    with pytest.raises(InputError, match=r"zone: a zonal cluster has one control plane zone"):
        make_cluster(ClusterSpec.model_validate({"zone": "us-central1-a", "nodePools": [{"name": "cpu"}]}), "prod")


def test_fails_if_a_node_pool_component_gets_an_l4_on_an_n1_machine():
    spec = NodePoolSpec.model_validate({"name": "gpu", "machineType": "n1-standard-8", "gpu": {"type": "nvidia-l4"}})
    with pytest.raises(InputError, match=r"machineType: nvidia-l4 does not attach to N1 machine types"):
        run_component(lambda: GkeNodePool("gpu", GkeNodePoolArgs(
            spec=spec, cluster="c", location="us-central1", project="acme-test", service_account=NODE_SA)))


def test_fails_if_a_pool_name_would_exceed_gkes_40_characters_once_auto_named():
    spec = ClusterSpec.model_validate({"nodePools": [{"name": "cpu"}, {"name": "x" * 30}]})
    with pytest.raises(InputError) as error:
        run_component(lambda: GkeCluster("mlinfra-dev-gke", GkeClusterArgs(
            spec=spec, project="acme-test", region="us-central1", environment="dev", network_id="net",
            subnetwork_id="sub", pods_range="pods", services_range="services")))
    [issue] = error.value.issues
    assert issue.path == ("nodePools", 1, "name")
    assert issue.fix == "shorten it by 14 characters"


def test_rejects_unknown_keys_in_a_pool_spec():
    with pytest.raises(ValueError, match="machinetype"):
        NodePoolSpec.model_validate({"name": "p", "machinetype": "e2-standard-4"})
