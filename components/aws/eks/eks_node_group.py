"""One EKS managed node group: a launch template that requires IMDSv2 with a hop limit of 1
(pods cannot reach the node's credentials) and encrypts the gp3 root volume, the AL2023 AMI
(NVIDIA variant for GPU pools, arm64 for Graviton types), spot capacity with the spot taint, the GPU label and taint,
node auto-repair, and a size the autoscaler owns (desiredSize is ignored after creation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws

from components.aws.eks.instance_types import architecture
from components.aws.eks.node_group_spec import EksNodePoolSpec
from components.aws.eks.node_labels import ACCELERATOR_LABEL, GPU_TAINT, SPOT_TAINT
from components.core.component import Component

TYPE = "mlinfra:aws:EksNodeGroup"
GPU_AMI = "AL2023_x86_64_NVIDIA"
CPU_AMI = "AL2023_x86_64_STANDARD"
ARM_AMI = "AL2023_ARM_64_STANDARD"


@dataclass(frozen=True, kw_only=True)
class EksNodeGroupArgs:
    spec: EksNodePoolSpec
    """The pool as the stack file says it."""
    cluster_name: pulumi.Input[str]
    """The cluster it joins."""
    node_role_arn: pulumi.Input[str]
    """The role its nodes run as."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets the nodes are placed in."""
    version: Optional[str] = None
    """Kubernetes version of the nodes. Defaults to the cluster's."""


def node_taints(spec: EksNodePoolSpec) -> list[tuple[str, str, str]]:
    """`(key, value, effect)` of every taint the group's nodes carry."""
    taints = [(t.key, t.value, t.effect) for t in spec.taints]
    if spec.gpu is not None:
        taints.append(GPU_TAINT)
    if spec.spot:
        taints.append(SPOT_TAINT)
    return taints


def node_labels(spec: EksNodePoolSpec) -> dict[str, str]:
    labels = {"mlinfra.dev/node-pool": spec.name, **spec.labels}
    if spec.gpu is not None:
        labels[ACCELERATOR_LABEL] = spec.gpu.type
    return labels


class EksNodeGroup(Component):
    """Outputs: node_group_name."""

    def __init__(self, name: str, args: EksNodeGroupArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        spec = args.spec
        self.launch_template = aws.ec2.LaunchTemplate(
            name, description=f"mlinfra node group {spec.name}", update_default_version=True,
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1),
            block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name="/dev/xvda", ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=spec.disk_size_gb, volume_type="gp3", encrypted="true", delete_on_termination="true"))],
            opts=self.child())
        self.node_group = aws.eks.NodeGroup(
            name, cluster_name=args.cluster_name, node_group_name=spec.name, node_role_arn=args.node_role_arn,
            subnet_ids=list(args.subnet_ids), version=args.version,
            ami_type=ami_type(spec),
            capacity_type="SPOT" if spec.spot else "ON_DEMAND", instance_types=list(spec.instance_types),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=spec.autoscaling.min, max_size=spec.autoscaling.max, desired_size=spec.autoscaling.min),
            labels=node_labels(spec),
            taints=[aws.eks.NodeGroupTaintArgs(key=k, value=v or None, effect=e) for k, v, e in node_taints(spec)] or None,
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=self.launch_template.id, version=self.launch_template.latest_version.apply(str)),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=spec.max_unavailable),
            node_repair_config=aws.eks.NodeGroupNodeRepairConfigArgs(enabled=True),
            # The cluster autoscaler owns the size; a declared one would be reset on every update.
            opts=self.child(ignore_changes=["scalingConfig.desiredSize"]))
        self.node_group_name = self.node_group.node_group_name
        self.register_outputs({"node_group_name": self.node_group_name})


def ami_type(spec: EksNodePoolSpec) -> str:
    """The EKS AL2023 AMI type of a pool: NVIDIA's for GPU pools, arm64's for Graviton types
    (validation keeps a pool to one architecture), else x86_64's."""
    if spec.gpu is not None:
        return GPU_AMI
    return ARM_AMI if architecture(spec.instance_types[0]) == "arm64" else CPU_AMI
