"""The EKS specs' own rules, without Pulumi: the GPU table and node pools."""

from __future__ import annotations

from components.aws.eks.instance_types import architecture, gpus_of, instance_types_with
from components.aws.eks.node_group_spec import EksNodePoolSpec
from components.aws.network.vpc_spec import VpcSpec, subnet_plan
from components.core.spec import Context, validate


def messages(spec) -> dict:
    return {".".join(map(str, i.path)): i.message for i in validate(spec, Context(region="us-east-1"))}


def test_the_gpu_table_knows_the_instance_families():
    assert gpus_of("g5.xlarge") == ("nvidia-a10g", 1)
    assert gpus_of("g6.12xlarge") == ("nvidia-l4", 4)
    assert gpus_of("p4d.24xlarge") == ("nvidia-a100", 8)
    assert gpus_of("p5.48xlarge") == ("nvidia-h100", 8)
    assert gpus_of("m6i.xlarge") is None
    assert instance_types_with("nvidia-h100") == ["p5.48xlarge"]


def test_graviton_families_are_arm64_and_the_gpu_families_x86_64():
    for t in ("a1.large", "t4g.medium", "m7g.xlarge", "c7gn.large", "r8gd.2xlarge", "x2gd.xlarge", "im4gn.large",
              "is4gen.large", "g5g.xlarge", "hpc7g.16xlarge"):
        assert architecture(t) == "arm64", t
    for t in ("m6i.xlarge", "m7a.large", "g5.xlarge", "g6.2xlarge", "g6e.xlarge", "p4d.24xlarge", "c5n.large",
              "inf2.xlarge", "g4dn.xlarge"):
        assert architecture(t) == "x86_64", t


def test_karpenter_system_nodes_of_two_architectures_are_refused():
    from components.aws.eks.karpenter_spec import KarpenterSpec
    found = messages(KarpenterSpec(system_nodes={"instance_types": ["m7g.large", "m6i.large"]}))
    assert found["systemNodes.instanceTypes"].startswith("mixes Graviton (arm64: m7g.large)")


def test_a_gpu_instance_in_a_pool_without_gpu_is_named():
    found = messages(EksNodePoolSpec(name="x", instance_types=["g6.xlarge"]))
    assert "carries 1 nvidia-l4 GPU(s), but the pool declares no gpu" in found["instanceTypes"]


def test_an_unknown_gpu_type_is_refused():
    found = messages(EksNodePoolSpec(name="x", instance_types=["g6.xlarge"], gpu={"type": "nvidia-tesla-v100"}))
    assert found["gpu.type"] == "is not a GPU of an EKS-supported instance family"


def test_spot_needs_two_types_and_min_below_max():
    found = messages(EksNodePoolSpec(name="x", spot=True, autoscaling={"min": 4, "max": 2}))
    assert "two instance types" in found["instanceTypes"] and found["autoscaling.max"].startswith("is below min")


def test_the_vpc_spreads_over_two_zones_at_least():
    assert "at least two availability zones" in messages(VpcSpec(zones=["us-east-1a"]))["zones"]
    assert messages(VpcSpec(zones=["eu-west-1a", "eu-west-1b"]))["zones.0"].startswith("is not an availability zone")
    plan = subnet_plan(VpcSpec(), "us-east-1")
    assert [z for z, _, _ in plan] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert plan[0][1] == "10.0.0.0/19" and plan[0][2] == "10.0.224.0/24"
