"""The kubernetes pattern on AWS: what eks-dev and eks-prod plan, the rules an AWS stack file is
held to (by key), and the rendered manifests under strict schema validation."""

from __future__ import annotations

import copy
import json

import kubernetes_validate
import pytest
import yaml

from infra.errors import ConfigError, key_path
from infra.plan import Plan, kubernetes_objects, write_manifests
from tests.conftest import run_config, run_stack, stack_config
from tests.crd_schemas import errors as crd_errors
from tests.infra.test_config import load

EKS_STACKS = ["eks-dev", "eks-prod"]
# Custom resources (Karpenter's, the controller's TargetGroupBinding): kubernetes-validate has no
# schema for them; they are validated as strictly against their CRDs' vendored schemas.
CUSTOM_KINDS = {"NodePool", "EC2NodeClass", "TargetGroupBinding"}
NODE_GROUP, TEMPLATE = "aws:eks/nodeGroup:NodeGroup", "aws:ec2/launchTemplate:LaunchTemplate"


def plan(stack: str) -> Plan:
    return Plan(stack, f"stacks/Pulumi.{stack}.yaml", stack_config(stack), run_stack(stack), 0.0, [])


def objects(stack: str, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in kubernetes_objects(plan(stack)) if o["kind"] == kind}


def errors_of(values: dict) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load(values)
    return {key_path(i.path): i.message for i in caught.value.issues}


def eks(**changes) -> dict:
    values = stack_config("eks-dev")
    for key, value in changes.items():
        values[key] = value
    return values


@pytest.mark.parametrize("stack", EKS_STACKS)
def test_rendered_manifests_pass_strict_schema_validation(stack, tmp_path):
    version = stack_config(stack)["mlinfra:cluster"]["version"]
    files = write_manifests(plan(stack), tmp_path)
    assert len(files) == len(kubernetes_objects(plan(stack))) > 10
    validated = custom = 0
    for path in files:
        obj = yaml.safe_load(path.read_text())
        if obj["kind"] in CUSTOM_KINDS:
            assert crd_errors(obj) == [], obj["metadata"]["name"]
            custom += 1
            continue
        kubernetes_validate.validate(obj, f"{version}.0", strict=True)
        kubernetes_validate.validate(obj, "1.33.0", strict=True)
        validated += 1
    assert validated > 10
    assert custom == (5 if stack == "eks-prod" else 2)  # 2 NodePools and the EC2NodeClass; 2 TargetGroupBindings


def test_the_cluster_is_private_encrypted_logged_and_uses_access_entries():
    cluster = run_stack("eks-prod").one("aws:eks/cluster:Cluster").inputs
    assert cluster["vpcConfig"]["endpointPrivateAccess"] is True
    assert cluster["vpcConfig"]["endpointPublicAccess"] is False
    assert cluster["encryptionConfig"]["resources"] == ["secrets"]
    assert cluster["encryptionConfig"]["provider"]["keyArn"].startswith("arn:aws:kms:")
    assert set(cluster["enabledClusterLogTypes"]) == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    assert cluster["accessConfig"]["authenticationMode"] == "API"
    assert cluster["deletionProtection"] is True
    addons = {a.inputs["addonName"] for a in run_stack("eks-prod").of_type("aws:eks/addon:Addon")}
    # With its L4 pool, prod also runs Container Insights (tests/components/aws/test_gpu_metrics.py).
    assert addons == {"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", "eks-pod-identity-agent",
                      "amazon-cloudwatch-observability"}


def test_node_groups_pick_the_ami_capacity_taints_and_leave_the_size_to_the_autoscaler():
    rec = run_stack("eks-dev")
    groups = {g.inputs["nodeGroupName"]: g for g in rec.of_type(NODE_GROUP)}
    assert set(groups) == {"general", "spot-l4"}
    assert groups["general"].inputs["amiType"] == "AL2023_x86_64_STANDARD"
    assert groups["general"].inputs["capacityType"] == "ON_DEMAND"
    spot = groups["spot-l4"].inputs
    assert spot["amiType"] == "AL2023_x86_64_NVIDIA"
    assert spot["capacityType"] == "SPOT" and len(spot["instanceTypes"]) >= 2
    assert {"key": "eks.amazonaws.com/capacityType", "value": "SPOT", "effect": "NO_SCHEDULE"} in spot["taints"]
    assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"} in spot["taints"]
    assert spot["labels"]["mlinfra.dev/accelerator"] == "nvidia-l4"
    for g in groups.values():
        assert "scalingConfig.desiredSize" in (g.ignore_changes or [])
    for t in rec.of_type(TEMPLATE):
        assert t.inputs["metadataOptions"]["httpTokens"] == "required"
        assert t.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1
    plugin = objects("eks-dev", "DaemonSet")["nvidia-device-plugin"]["spec"]["template"]["spec"]
    assert {"key": "eks.amazonaws.com/capacityType", "operator": "Exists", "effect": "NoSchedule"} in plugin["tolerations"]


def test_private_subnets_carry_the_eks_tags_and_nothing_gets_a_public_ip():
    rec = run_stack("eks-prod")
    subnets = rec.of_type("aws:ec2/subnet:Subnet")
    private = [s for s in subnets if "private" in s.name]
    assert len({s.inputs["availabilityZone"] for s in private}) == 3
    for s in private:
        assert s.inputs["tags"]["kubernetes.io/role/internal-elb"] == "1"
        assert s.inputs["tags"]["kubernetes.io/cluster/mlinfra-eks-prod"] == "shared"
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)
    assert len(rec.of_type("aws:ec2/natGateway:NatGateway")) == 3
    assert len(run_stack("eks-dev").of_type("aws:ec2/natGateway:NatGateway")) == 1


def test_buckets_are_private_kms_encrypted_and_protected_in_prod():
    rec = run_stack("eks-prod")
    buckets = {b.inputs["tags"]["purpose"]: b for b in rec.of_type("aws:s3/bucket:Bucket")}
    assert all(b.protect for b in buckets.values())
    assert buckets["data-lake"].inputs["objectLockEnabled"] is True
    for block in rec.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"):
        assert all(block.inputs[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                                      "restrictPublicBuckets"))
    assert {o.inputs["rule"]["objectOwnership"] for o in rec.of_type(
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls")} == {"BucketOwnerEnforced"}
    versioned = {v.inputs["bucket"] for v in rec.of_type("aws:s3/bucketVersioning:BucketVersioning")}
    assert buckets["model-artifacts"].inputs["bucket"] in versioned
    repo = rec.one("aws:ecr/repository:Repository")
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE" and repo.protect
    assert repo.inputs["imageScanningConfiguration"]["scanOnPush"] is True


def test_a_model_server_syncs_its_version_from_s3_as_its_own_pod_identity_role():
    rec = run_stack("eks-prod")
    deployments = objects("eks-prod", "Deployment")
    stable, canary = deployments["ranker-stable"], deployments["ranker-canary"]
    init = stable["spec"]["template"]["spec"]["initContainers"][0]
    assert init["args"][:2] == ["s3", "sync"]
    assert init["args"][3] == "s3://mlinfra-eks-prod-us-east-1-artifacts/models/ranker/12/"
    assert canary["spec"]["template"]["spec"]["initContainers"][0]["args"][3].endswith("/ranker/13/")
    association = [a.inputs for a in rec.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
                   if a.inputs["serviceAccount"] == "ranker"][0]
    assert association["namespace"] == "ml-ranker"
    policy = [p for p in rec.of_type("aws:iam/rolePolicy:RolePolicy") if p.name == "mlinfra-svc-ranker-role"][0]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    resources = {r for s in statements for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])}
    assert "arn:aws:s3:::mlinfra-eks-prod-us-east-1-artifacts/models/ranker/*" in resources
    assert not any("data-lake" in r for r in resources), "a server reads only its model's prefix"


def test_spot_placement_uses_the_eks_capacity_label_on_managed_node_groups():
    job = objects("eks-dev", "Job")["train-summarizer"]
    pod = job["spec"]["template"]["spec"]
    term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"] == [{"key": "eks.amazonaws.com/capacityType", "operator": "In", "values": ["SPOT"]}]
    assert {"key": "eks.amazonaws.com/capacityType", "operator": "Equal", "value": "SPOT",
            "effect": "NoSchedule"} in pod["tolerations"]
    assert pod["nodeSelector"] == {"mlinfra.dev/accelerator": "nvidia-l4"}


def test_a_gpu_instance_type_without_the_gpu_asked_for_fails_naming_the_key():
    values = eks()
    pools = copy.deepcopy(values["mlinfra:cluster"])
    pools["nodePools"][1]["instanceTypes"] = ["g5.2xlarge", "g6.4xlarge"]
    found = errors_of(eks(**{"mlinfra:cluster": pools}))
    assert "g5.2xlarge carries 1 nvidia-a10g GPU(s), not 1 nvidia-l4" in found["mlinfra:cluster.nodePools[1].instanceTypes"]


def test_a_gpu_count_no_instance_type_carries_fails_naming_the_key():
    pools = copy.deepcopy(stack_config("eks-dev")["mlinfra:cluster"])
    pools["nodePools"][1]["gpu"]["count"] = 2
    found = errors_of(eks(**{"mlinfra:cluster": pools}))
    assert "not 2 nvidia-l4" in found["mlinfra:cluster.nodePools[1].instanceTypes"]


def test_a_spot_pool_needs_several_instance_types():
    pools = copy.deepcopy(stack_config("eks-dev")["mlinfra:cluster"])
    pools["nodePools"][1]["instanceTypes"] = ["g6.2xlarge"]
    found = errors_of(eks(**{"mlinfra:cluster": pools}))
    assert "spot node group needs at least two instance types" in found["mlinfra:cluster.nodePools[1].instanceTypes"]


def test_a_graviton_pool_gets_the_arm64_ami_and_a_mixed_one_fails_naming_the_key():
    pools = copy.deepcopy(stack_config("eks-dev")["mlinfra:cluster"])
    pools["nodePools"][0]["instanceTypes"] = ["m7g.xlarge", "c7g.2xlarge"]
    groups = {g.inputs["nodeGroupName"]: g.inputs
              for g in run_config(eks(**{"mlinfra:cluster": pools}), stack="eks-dev").of_type(NODE_GROUP)}
    assert groups["general"]["amiType"] == "AL2023_ARM_64_STANDARD"
    assert groups["spot-l4"]["amiType"] == "AL2023_x86_64_NVIDIA"
    pools["nodePools"][0]["instanceTypes"] = ["m7g.xlarge", "m6i.xlarge"]
    found = errors_of(eks(**{"mlinfra:cluster": pools}))
    assert found["mlinfra:cluster.nodePools[0].instanceTypes"].startswith(
        "mixes Graviton (arm64: m7g.xlarge) and x86_64 (m6i.xlarge) instance types")


def test_google_cloud_keys_in_an_aws_stack_are_named_as_such():
    pools = copy.deepcopy(stack_config("eks-dev")["mlinfra:cluster"])
    pools["releaseChannel"] = "STABLE"
    pools["nodePools"][0]["machineType"] = "e2-standard-4"
    values = eks(**{"mlinfra:cluster": pools, "gcp:project": "acme-ml-dev",
                    "mlinfra:triggers": [{"name": "x", "source": "functions/on_upload", "on": {"http": {}}}]})
    found = errors_of(values)
    assert found["gcp:project"] == "is a Google Cloud key; this stack's cloud is aws"
    for key in ("mlinfra:triggers", "mlinfra:cluster.releaseChannel", "mlinfra:cluster.nodePools[0].machineType"):
        assert found[key].startswith("is a Google Cloud key"), (key, found)


def test_an_aws_stack_needs_aws_region_and_no_gcp_project():
    values = eks()
    values.pop("aws:region")
    assert errors_of(values) == {"aws:region": "is required"}
    values = eks()
    values.pop("mlinfra:services")  # its model's bucket is named after the stack, which is `test` here
    assert load(values).project == ""


def test_a_model_outside_the_s3_artifact_bucket_and_a_gke_service_are_refused():
    services = copy.deepcopy(stack_config("eks-dev")["mlinfra:services"])
    services[0]["model"]["uri"] = "s3://someone-elses-bucket/models/summarizer"
    assert "artifact bucket" in errors_of(eks(**{"mlinfra:services": services}))["mlinfra:services[0].model.uri"]
    services[0]["platform"] = "gke"
    services[0]["model"]["uri"] = "gs://b-artifacts/models/x"
    assert "mlinfra:services[0].platform" in errors_of(eks(**{"mlinfra:services": services}))


def test_the_cluster_autoscaler_finds_the_node_groups_and_may_resize_only_this_clusters():
    deployment = objects("eks-dev", "Deployment")["cluster-autoscaler"]
    command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
    assert ("--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,"
            "k8s.io/cluster-autoscaler/mlinfra-eks-dev") in command
    assert deployment["spec"]["replicas"] == 2
    policy = [p for p in run_stack("eks-dev").of_type("aws:iam/rolePolicy:RolePolicy")
              if p.name == "mlinfra-eks-autoscaler-role"][0]
    writes = [s for s in json.loads(policy.inputs["policy"])["Statement"] if "autoscaling:SetDesiredCapacity" in s["Action"]]
    assert writes[0]["Condition"] == {"StringEquals": {
        "aws:ResourceTag/k8s.io/cluster-autoscaler/mlinfra-eks-dev": "owned"}}
    # Nothing of Karpenter's in a cluster-autoscaler stack.
    rec = run_stack("eks-dev")
    types = {r.type for r in rec.tree_order()}
    assert not {t for t in types if "karpenter" in t.lower() or t.startswith(("aws:sqs", "aws:cloudwatch/event"))}
    # The charts are the load balancer controller's and, for the summarizer's queueDepth, the metrics pipeline's.
    assert sorted(r.inputs["chart"] for r in rec.of_type("kubernetes:helm.sh/v3:Release")) == [
        "aws-load-balancer-controller", "prometheus", "prometheus-adapter"]


def test_an_aws_stack_refuses_misspelt_provider_keys_and_namespaces():
    found = errors_of(eks(**{"aws:regoin": "us-east-1", "mlinfar:labels": {"team": "ml"}}))
    assert found["aws:regoin"] == "is not a key of the AWS provider (pulumi_aws)"
    assert found["mlinfar:labels"] == "is in no namespace the program reads"
