"""Karpenter on EKS (eks-prod): the controller's charts, role and policy, the interruption queue and
its rules, the node role and its access entry, the discovery tags, the EC2NodeClass and NodePools
(strictly against the vendored CRD schemas of the karpenter.sh/v1 and karpenter.k8s.aws/v1 APIs,
and field by field where their CEL rules go further), the workloads'
placement on Karpenter's labels, and the stack-file rules of a Karpenter cluster, by key."""

from __future__ import annotations

import copy
import json
import re

import pytest

from components.aws.eks.karpenter_manifests import node_pool
from components.aws.eks.karpenter_spec import KarpenterSpec
from components.aws.eks.node_group_spec import EksNodePoolSpec
from components.aws.eks.node_labels import KARPENTER_NODES
from components.kubernetes.pods import PlacementSpec, scheduling
from infra.errors import ConfigError, key_path
from infra.plan import Plan, kubernetes_objects
from tests.conftest import run_config, run_stack, stack_config
from tests.crd_schemas import errors as crd_errors
from tests.infra.test_config import load

STACK, CLUSTER = "eks-prod", "mlinfra-eks-prod"
ACCOUNT, REGION = "123456789012", "us-east-1"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{CLUSTER}"
RELEASE = "kubernetes:helm.sh/v3:Release"


def objects(kind: str, stack: str = STACK) -> dict[str, dict]:
    plan = Plan(stack, f"stacks/Pulumi.{stack}.yaml", stack_config(stack), run_stack(stack), 0.0, [])
    return {o["metadata"]["name"]: o for o in kubernetes_objects(plan) if o["kind"] == kind}


def one(type_: str, name: str) -> dict:
    return run_stack(STACK).one(type_, name).inputs


def errors_of(cluster: dict) -> dict[str, str]:
    values = stack_config(STACK)
    values["mlinfra:cluster"] = cluster
    with pytest.raises(ConfigError) as caught:
        load(values)
    return {key_path(i.path): i.message for i in caught.value.issues}


def cluster(**changes) -> dict:
    spec = copy.deepcopy(stack_config(STACK)["mlinfra:cluster"])
    spec.update(changes)
    return spec


# --- the v1 APIs: the CRDs' schemas of Karpenter 1.14.1, vendored (tests/data/crds/), strictly; and, checked by
# hand, what their CEL rules (which the schema validation does not evaluate) and Karpenter's docs add ---
DURATION = re.compile(r"^(([0-9]+(s|m|h))+|Never)$")
BUDGET_NODES = re.compile(r"^((100|[0-9]{1,2})%|[0-9]+)$")
QUANTITY = re.compile(r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
VOLUME_SIZE = re.compile(r"^[1-9][0-9]{0,4}Gi$")
NODE_POOL_SPEC = {"template", "disruption", "limits", "weight", "replicas"}
TEMPLATE_SPEC = {"nodeClassRef", "requirements", "taints", "startupTaints", "expireAfter", "terminationGracePeriod"}
DISRUPTION = {"consolidationPolicy", "consolidateAfter", "budgets"}
OPERATORS = {"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt", "Gte", "Lte"}
EFFECTS = {"NoSchedule", "PreferNoSchedule", "NoExecute"}
# Requirement keys of Karpenter's own domains the API allows (the CRD's CEL rules list them).
KARPENTER_KEYS = {"karpenter.sh/capacity-type", "karpenter.k8s.aws/instance-family", "karpenter.k8s.aws/instance-gpu-count",
                  "karpenter.k8s.aws/instance-gpu-name", "karpenter.k8s.aws/instance-size"}
NODE_CLASS_SPEC = {"role", "instanceProfile", "amiFamily", "amiSelectorTerms", "subnetSelectorTerms",
                   "securityGroupSelectorTerms", "metadataOptions", "blockDeviceMappings", "tags", "userData", "kubelet",
                   "associatePublicIPAddress", "detailedMonitoring", "instanceStorePolicy", "context", "capacityReservationSelectorTerms"}
RESTRICTED_TAGS = {"eks:eks-cluster-name", "karpenter.sh/nodepool", "karpenter.sh/nodeclaim", "karpenter.k8s.aws/ec2nodeclass"}


def assert_v1_node_pool(obj: dict) -> None:
    assert obj["apiVersion"] == "karpenter.sh/v1" and obj["kind"] == "NodePool"
    assert crd_errors(obj) == []
    spec = obj["spec"]
    assert set(spec) <= NODE_POOL_SPEC
    assert set(spec["template"]) <= {"metadata", "spec"} and set(spec["template"]["metadata"]) <= {"labels", "annotations"}
    for key, value in spec["template"]["metadata"].get("labels", {}).items():
        assert LABEL_VALUE.match(value) and len(value) <= 63
        assert not key.split("/")[0].endswith(("karpenter.sh", "karpenter.k8s.aws")) and key != "kubernetes.io/hostname"
    template = spec["template"]["spec"]
    assert set(template) <= TEMPLATE_SPEC and {"nodeClassRef", "requirements"} <= set(template)
    assert template["nodeClassRef"] == {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "mlinfra"}
    for req in template["requirements"]:
        assert set(req) <= {"key", "operator", "values", "minValues"} and req["operator"] in OPERATORS
        assert req["values"] and all(LABEL_VALUE.match(v) and len(v) <= 63 for v in req["values"])
        domain = req["key"].split("/")[0]
        if domain.endswith(("karpenter.sh", "karpenter.k8s.aws")):
            assert req["key"] in KARPENTER_KEYS, req["key"]
        assert req["key"] not in ("karpenter.sh/nodepool", "kubernetes.io/hostname")
    for taint in template.get("taints", []):
        assert set(taint) <= {"key", "value", "effect"} and taint["effect"] in EFFECTS and taint["key"]
    assert DURATION.match(template["expireAfter"])
    assert set(spec["disruption"]) <= DISRUPTION
    assert spec["disruption"]["consolidationPolicy"] in ("WhenEmpty", "WhenEmptyOrUnderutilized", "Balanced")
    assert DURATION.match(spec["disruption"]["consolidateAfter"])  # required by the API
    for budget in spec["disruption"]["budgets"]:
        assert set(budget) <= {"nodes", "schedule", "duration", "reasons"} and BUDGET_NODES.match(budget["nodes"])
    assert all(isinstance(v, str) and QUANTITY.match(v) for v in spec["limits"].values())


def assert_v1_node_class(obj: dict) -> None:
    assert obj["apiVersion"] == "karpenter.k8s.aws/v1" and obj["kind"] == "EC2NodeClass"
    assert crd_errors(obj) == []
    spec = obj["spec"]
    assert set(spec) <= NODE_CLASS_SPEC
    assert {"amiSelectorTerms", "subnetSelectorTerms", "securityGroupSelectorTerms"} <= set(spec)
    assert ("role" in spec) != ("instanceProfile" in spec)
    terms = spec["amiSelectorTerms"]
    assert len(terms) == 1 and set(terms[0]) == {"alias"}, "an alias stands alone"
    assert re.match(r"^al2023@(latest|v[0-9]{8})$", terms[0]["alias"]) and len(terms[0]["alias"]) <= 30
    for selector in ("subnetSelectorTerms", "securityGroupSelectorTerms"):
        assert spec[selector] and all(set(t) == {"tags"} and all(k and v for k, v in t["tags"].items())
                                      for t in spec[selector])
    assert set(spec["metadataOptions"]) <= {"httpEndpoint", "httpProtocolIPv6", "httpPutResponseHopLimit", "httpTokens"}
    assert 1 <= spec["metadataOptions"]["httpPutResponseHopLimit"] <= 64
    roots = [m for m in spec["blockDeviceMappings"] if m.get("rootVolume")]
    assert len(roots) == 1
    for mapping in spec["blockDeviceMappings"]:
        assert set(mapping) <= {"deviceName", "ebs", "rootVolume"}
        assert set(mapping["ebs"]) <= {"deleteOnTermination", "encrypted", "iops", "kmsKeyID", "snapshotID", "throughput",
                                       "volumeSize", "volumeType"}
        assert VOLUME_SIZE.match(mapping["ebs"]["volumeSize"]) and mapping["ebs"]["volumeType"] in ("gp2", "gp3", "io1", "io2")
    assert not (set(spec["tags"]) & RESTRICTED_TAGS) and not any(k.startswith("kubernetes.io/cluster") for k in spec["tags"])


def test_the_vendored_schemas_are_strict_unknown_fields_wrong_types_and_missing_required_fields_fail():
    pool = objects("NodePool")["general"]
    assert crd_errors(pool) == []
    typo = copy.deepcopy(pool)
    typo["spec"]["disruption"]["consolidateAfterr"] = "5m"
    assert crd_errors(typo) == ["spec.disruption: Additional properties are not allowed ('consolidateAfterr' was unexpected)"]
    wrong = copy.deepcopy(pool)
    wrong["spec"]["template"]["spec"]["requirements"][0]["operator"] = "Within"
    assert len(crd_errors(wrong)) == 1 and "Within" in crd_errors(wrong)[0]
    node_class = objects("EC2NodeClass")["mlinfra"]
    missing = copy.deepcopy(node_class)
    del missing["spec"]["amiSelectorTerms"]
    assert crd_errors(missing) == ["spec: 'amiSelectorTerms' is a required property"]


# --- what eks-prod plans ---

def test_the_node_class_is_al2023_imdsv2_only_encrypted_gp3_and_found_by_discovery_tags():
    node_class = objects("EC2NodeClass")["mlinfra"]
    assert_v1_node_class(node_class)
    role = run_stack(STACK).one("aws:iam/role:Role", "mlinfra-eks-karpenter-nodes").outputs["name"]
    assert node_class["spec"] == {
        "role": role,
        "amiSelectorTerms": [{"alias": "al2023@latest"}],
        "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": CLUSTER}}],
        "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": CLUSTER}}],
        "metadataOptions": {"httpEndpoint": "enabled", "httpProtocolIPv6": "disabled", "httpPutResponseHopLimit": 1,
                            "httpTokens": "required"},
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "rootVolume": True, "ebs": {
            "volumeSize": "100Gi", "volumeType": "gp3", "encrypted": True, "deleteOnTermination": True}}],
        "tags": {"managed-by": "mlinfra", "cost-center": "4711", "stack": "eks-prod", "environment": "prod",
                 "team": "ml-platform", "pattern": "kubernetes"},
    }


def test_one_node_pool_per_stack_pool_with_its_types_capacity_taints_expiry_consolidation_and_limits():
    pools = objects("NodePool")
    assert set(pools) == {"general", "l4"}
    for pool in pools.values():
        assert_v1_node_pool(pool)
        assert pool["spec"]["disruption"] == {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "5m",
                                              "budgets": [{"nodes": "1"}]}
        assert pool["spec"]["template"]["spec"]["expireAfter"] == "336h"
    l4 = pools["l4"]["spec"]
    assert l4["template"]["metadata"]["labels"] == {"mlinfra.dev/node-pool": "l4", "mlinfra.dev/accelerator": "nvidia-l4"}
    assert l4["template"]["spec"]["requirements"] == [
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot", "on-demand"]},
        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["g6.2xlarge", "g6.4xlarge", "g6.8xlarge"]}]
    # A pool of spot and on-demand nodes carries no spot taint: placement keeps `never` off spot.
    assert l4["template"]["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    assert l4["limits"] == {"nodes": "24", "nvidia.com/gpu": "24"}
    general = pools["general"]["spec"]
    assert general["template"]["spec"]["requirements"][0]["values"] == ["on-demand"]
    assert "taints" not in general["template"]["spec"] and general["limits"] == {"nodes": "6"}


def test_a_spot_only_pool_is_tainted_with_karpenters_capacity_label_and_gpu_limits_count_gpus():
    pool = EksNodePoolSpec(name="spot-a10g", instance_types=["g5.12xlarge", "g5.24xlarge"], spot=True,
                           gpu={"type": "nvidia-a10g", "count": 4}, autoscaling={"max": 3})
    body = node_pool(pool, KarpenterSpec())
    assert_v1_node_pool(body)
    spec = body["spec"]["template"]["spec"]
    assert spec["requirements"][0] == {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}
    assert spec["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},
                              {"key": "karpenter.sh/capacity-type", "value": "spot", "effect": "NoSchedule"}]
    assert body["spec"]["limits"] == {"nodes": "3", "nvidia.com/gpu": "12"}
    assert spec["expireAfter"] == "720h" and body["spec"]["disruption"]["budgets"] == [{"nodes": "10%"}]


def test_the_charts_are_pinned_and_the_controller_reads_the_interruption_queue():
    rec = run_stack(STACK)
    crds, controller = rec.one(RELEASE, "mlinfra-eks-karpenter-crd"), rec.one(RELEASE, "mlinfra-eks-karpenter")
    assert crds.inputs == {"name": "karpenter-crd", "chart": "oci://public.ecr.aws/karpenter/karpenter-crd",
                           "version": "1.14.1", "namespace": "karpenter", "compat": "true"}
    assert controller.inputs["chart"] == "oci://public.ecr.aws/karpenter/karpenter"
    assert controller.inputs["version"] == "1.14.1" and controller.inputs["skipCrds"] is True
    assert crds.urn in controller.dependencies
    values = controller.inputs["values"]
    assert values["settings"] == {"clusterName": CLUSTER, "interruptionQueue": CLUSTER}
    assert values["serviceAccount"] == {"name": "karpenter"}
    # On the system node group (the chart's own affinity keeps it off karpenter.sh/nodepool nodes).
    assert values["nodeSelector"] == {"kubernetes.io/os": "linux", "mlinfra.dev/node-pool": "system"}
    assert values["tolerations"] == [{"key": "CriticalAddonsOnly", "operator": "Exists"}]
    association = one("aws:eks/podIdentityAssociation:PodIdentityAssociation", "mlinfra-eks-karpenter-controller")
    assert (association["namespace"], association["serviceAccount"]) == ("karpenter", "karpenter")
    namespace = objects("Namespace")["karpenter"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_controller_policy_is_scoped_to_this_clusters_tags_its_queue_and_its_node_role():
    statements = json.loads(one("aws:iam/rolePolicy:RolePolicy", "mlinfra-eks-karpenter-controller")["policy"])["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    assert len(by_sid) == len(statements) == 17
    owned = f"aws:ResourceTag/kubernetes.io/cluster/{CLUSTER}"
    for sid in ("AllowScopedEC2LaunchTemplateAccessActions", "AllowScopedResourceTagging", "AllowScopedDeletion",
                "AllowScopedInstanceProfileActions", "AllowScopedInstanceProfileTagActions"):
        assert by_sid[sid]["Condition"]["StringEquals"][owned] == "owned", sid
    for sid in ("AllowScopedEC2InstanceActionsWithTags", "AllowScopedResourceCreationTagging",
                "AllowScopedInstanceProfileCreationActions"):
        condition = by_sid[sid]["Condition"]["StringEquals"]
        assert condition[f"aws:RequestTag/kubernetes.io/cluster/{CLUSTER}"] == "owned"
        assert condition["aws:RequestTag/eks:eks-cluster-name"] == CLUSTER
    assert by_sid["AllowScopedDeletion"]["Action"] == ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"]
    node_role = run_stack(STACK).one("aws:iam/role:Role", "mlinfra-eks-karpenter-nodes").outputs["arn"]
    assert by_sid["AllowPassingInstanceRole"]["Resource"] == node_role
    assert by_sid["AllowInterruptionQueueActions"] == {
        "Sid": "AllowInterruptionQueueActions", "Effect": "Allow", "Resource": QUEUE_ARN,
        "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"]}
    assert by_sid["AllowAPIServerEndpointDiscovery"]["Resource"] == f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"
    # `*` only where the docs leave it: regional reads (region-bound), pricing, listing instance profiles.
    unscoped = {s["Sid"] for s in statements if s["Resource"] == "*"}
    assert unscoped == {"AllowRegionalReadActions", "AllowPricingReadActions", "AllowUnscopedInstanceProfileListAction"}
    assert by_sid["AllowRegionalReadActions"]["Condition"] == {"StringEquals": {"aws:RequestedRegion": REGION}}
    assert all(a.split(":")[1].startswith("Describe") for a in by_sid["AllowRegionalReadActions"]["Action"])


def test_the_interruption_queue_is_encrypted_tls_only_and_fed_by_the_five_eventbridge_rules():
    rec = run_stack(STACK)
    queue = one("aws:sqs/queue:Queue", "mlinfra-eks-karpenter-interruptions")
    assert (queue["name"], queue["sqsManagedSseEnabled"], queue["messageRetentionSeconds"]) == (CLUSTER, True, 300)
    assert rec.one("aws:sqs/queue:Queue", "mlinfra-eks-karpenter-interruptions").delete_before_replace
    policy = json.loads(one("aws:sqs/queuePolicy:QueuePolicy", "mlinfra-eks-karpenter-interruptions")["policy"])
    allow, deny = policy["Statement"]
    assert allow == {"Effect": "Allow", "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
                     "Action": "sqs:SendMessage", "Resource": QUEUE_ARN}
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    patterns = {json.dumps(json.loads(r.inputs["eventPattern"]), sort_keys=True): r.outputs["name"]
                for r in rec.of_type("aws:cloudwatch/eventRule:EventRule")}
    assert set(patterns) == {json.dumps({"detail-type": [t], "source": [s]}, sort_keys=True) for s, t in (
        ("aws.ec2", "EC2 Spot Instance Interruption Warning"), ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
        ("aws.ec2", "EC2 Instance State-change Notification"), ("aws.health", "AWS Health Event"),
        ("aws.ec2", "EC2 Capacity Reservation Instance Interruption Warning"))}
    targets = rec.of_type("aws:cloudwatch/eventTarget:EventTarget")
    assert {t.inputs["rule"] for t in targets} == set(patterns.values())
    assert {t.inputs["arn"] for t in targets} == {QUEUE_ARN}


def test_the_nodes_role_joins_by_an_ec2_linux_access_entry_and_the_discovery_tags_are_set():
    rec = run_stack(STACK)
    role = rec.one("aws:iam/role:Role", "mlinfra-eks-karpenter-nodes")
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    attached = {a.inputs["policyArn"].rsplit("/", 1)[-1] for a in rec.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if a.name.startswith("mlinfra-eks-karpenter-nodes-")}
    assert attached == {"AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly"}
    entry = one("aws:eks/accessEntry:AccessEntry", "mlinfra-eks-karpenter-nodes")
    assert (entry["type"], entry["principalArn"]) == ("EC2_LINUX", role.outputs["arn"])
    private = [s for s in rec.of_type("aws:ec2/subnet:Subnet") if "private" in s.name]
    assert len(private) == 3 and all(s.inputs["tags"]["karpenter.sh/discovery"] == CLUSTER for s in private)
    assert not any("karpenter.sh/discovery" in s.inputs["tags"] for s in rec.of_type("aws:ec2/subnet:Subnet")
                   if "public" in s.name)
    tag = one("aws:ec2/tag:Tag", "mlinfra-eks-cluster-sg-discovery")
    assert tag["key"] == "karpenter.sh/discovery" and tag["value"] == CLUSTER
    assert tag["resourceId"] == rec.one("aws:eks/cluster:Cluster").outputs["vpcConfig"]["clusterSecurityGroupId"]


def test_karpenter_replaces_the_cluster_autoscaler_and_runs_on_a_tainted_system_node_group():
    rec = run_stack(STACK)
    groups = {g.inputs["nodeGroupName"]: g.inputs for g in rec.of_type("aws:eks/nodeGroup:NodeGroup")}
    assert set(groups) == {"system"}
    system = groups["system"]
    assert system["scalingConfig"] == {"minSize": 3, "maxSize": 3, "desiredSize": 3}
    assert system["instanceTypes"] == ["m6i.large"] and system["capacityType"] == "ON_DEMAND"
    assert system["taints"] == [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}]
    assert "cluster-autoscaler" not in objects("Deployment")
    assert not [r for r in rec.tree_order() if "autoscaler" in r.name]


def test_workloads_place_on_karpenters_capacity_label():
    ranker = objects("Deployment")["ranker-stable"]["spec"]["template"]["spec"]
    preferred = ranker["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred == [{"weight": 100, "preference": {"matchExpressions": [
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}]}}]
    assert {"key": "karpenter.sh/capacity-type", "operator": "Equal", "value": "spot",
            "effect": "NoSchedule"} in ranker["tolerations"]
    job = objects("CronJob")["retrain-ranker"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    term = job["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term == {"matchExpressions": [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}]}
    never = scheduling(PlacementSpec(spot="never"), None, KARPENTER_NODES)["affinity"]["nodeAffinity"]
    assert never["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == [
        {"matchExpressions": [{"key": "karpenter.sh/capacity-type", "operator": "NotIn", "values": ["spot"]}]}]
    plugin = objects("DaemonSet")["nvidia-device-plugin"]["spec"]["template"]["spec"]
    assert {"key": "karpenter.sh/capacity-type", "operator": "Exists", "effect": "NoSchedule"} in plugin["tolerations"]


def test_pools_differing_in_disk_size_share_the_node_class_with_the_largest_disk():
    spec = cluster()
    spec["nodePools"][1]["diskSizeGb"] = 300
    values = stack_config(STACK)
    values["mlinfra:cluster"] = spec
    node_class = [r for r in run_config(values, stack=STACK).of_type("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")]
    assert node_class[0].inputs["spec"]["blockDeviceMappings"][0]["ebs"]["volumeSize"] == "300Gi"


# --- bad inputs, by key ---

def test_a_minimum_size_under_karpenter_is_refused_naming_the_key():
    spec = cluster()
    spec["nodePools"][0]["autoscaling"] = {"min": 2, "max": 6}
    found = errors_of(spec)
    assert found["mlinfra:cluster.nodePools[0].autoscaling.min"].startswith("Karpenter keeps no minimum or desired size")
    spec["nodePools"][0]["autoscaling"] = {"min": 0, "max": 6}
    values = {**stack_config(STACK), "mlinfra:cluster": spec}
    values.pop("mlinfra:services")  # its model's bucket is named after the stack, which is `test` here
    assert load(values).mlinfra.cluster.node_pools[0].autoscaling.min == 0


def test_node_group_settings_and_a_system_pool_name_are_refused_under_karpenter():
    spec = cluster()
    spec["nodePools"][0]["maxUnavailable"] = 2
    spec["nodePools"][1]["name"] = "system"
    found = errors_of(spec)
    assert "managed node group's update setting" in found["mlinfra:cluster.nodePools[0].maxUnavailable"]
    assert found["mlinfra:cluster.nodePools[1].name"] == "is the name of Karpenter's own managed node group"


def test_spot_with_on_demand_fallback_needs_karpenter_and_a_spot_pool():
    spec = cluster(autoscaler="cluster-autoscaler")
    spec.pop("karpenter")
    spec["nodePools"][0]["onDemandFallback"] = True
    for pool in spec["nodePools"]:
        pool["autoscaling"] = {"min": 0, "max": 4}
    found = errors_of(spec)
    assert found["mlinfra:cluster.nodePools[0].onDemandFallback"] == "falls back from spot, and the pool is not spot"
    assert found["mlinfra:cluster.nodePools[1].onDemandFallback"].startswith("needs Karpenter")


def test_karpenter_settings_without_karpenter_and_bad_settings_are_named():
    spec = cluster(autoscaler="cluster-autoscaler")
    spec["nodePools"] = [{"name": "general", "autoscaling": {"min": 1, "max": 3}}]
    assert errors_of(spec)["mlinfra:cluster.karpenter"] == "has no effect: the autoscaler is cluster-autoscaler"
    spec = cluster(karpenter={"disruptionBudget": "ten", "systemNodes": {"instanceTypes": ["g6.xlarge"]}})
    found = errors_of(spec)
    assert found["mlinfra:cluster.karpenter.disruptionBudget"] == "is not a node count or percentage"
    assert found["mlinfra:cluster.karpenter.systemNodes.instanceTypes"].startswith("carries GPUs")
    found = errors_of(cluster(karpenter={"amiVersion": "20250505", "expireAfter": "30d"}))
    assert {"mlinfra:cluster.karpenter.amiVersion", "mlinfra:cluster.karpenter.expireAfter"} <= set(found)


def test_a_karpenter_pool_without_instance_types_that_fit_its_gpu_is_refused():
    spec = cluster()
    spec["nodePools"][1]["instanceTypes"] = ["g5.2xlarge", "g6.4xlarge"]
    found = errors_of(spec)
    assert "g5.2xlarge carries 1 nvidia-a10g GPU(s), not 1 nvidia-l4" in found["mlinfra:cluster.nodePools[1].instanceTypes"]
    spec["nodePools"][1]["instanceTypes"] = ["g6.4xlarge"]
    assert "two instance types" in errors_of(spec)["mlinfra:cluster.nodePools[1].instanceTypes"]


def test_an_on_demand_gpu_workload_needs_a_pool_that_launches_on_demand_gpus():
    services = copy.deepcopy(stack_config(STACK)["mlinfra:services"])
    services[0]["placement"] = {"spot": "never"}
    spec = cluster()
    spec["nodePools"][1].pop("onDemandFallback")
    values = {**stack_config(STACK), "mlinfra:cluster": spec, "mlinfra:services": services}
    with pytest.raises(ConfigError) as caught:
        load(values)
    found = {key_path(i.path): i.message for i in caught.value.issues}
    assert found["mlinfra:services[0].placement.spot"] == "no on-demand node pool has nvidia-l4 GPUs"
    # With the fallback the same pool launches on-demand L4s for it.
    values["mlinfra:cluster"] = cluster()
    with pytest.raises(ConfigError) as caught:
        load(values)
    assert "mlinfra:services[0].placement.spot" not in {key_path(i.path) for i in caught.value.issues}
