"""A hardened EKS cluster: private API endpoint (public only to listed CIDRs), secrets
envelope-encrypted with its own KMS key, every control-plane log type in CloudWatch, access
entries only (authentication mode API, no aws-auth ConfigMap), EKS-managed add-ons (vpc-cni,
the EBS CSI driver and, with GPU metrics, CloudWatch Observability, each with its own Pod Identity
role), and one managed node group per pool
behind a node role with the minimum managed policies; a Kubernetes provider for the workloads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws.eks.cluster_autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs
from components.aws.eks.eks_cluster_spec import SYSTEM_POOL, EksClusterSpec
from components.aws.eks.eks_node_group import EksNodeGroup, EksNodeGroupArgs
from components.aws.eks.iam_policies import MANAGED, POD_IDENTITY_TRUST, assume_role
from components.aws.eks.karpenter import Karpenter, KarpenterArgs
from components.aws.eks.karpenter_manifests import DISCOVERY_TAG
from components.aws.eks.node_group_spec import EksNodePoolSpec
from components.aws.eks.node_labels import EKS_NODES, KARPENTER_NODES
from components.aws.eks.nvidia_device_plugin import NvidiaDevicePlugin, NvidiaDevicePluginArgs
from components.core.component import Component
from components.core.spec import Context, ensure_valid

TYPE = "mlinfra:aws:EksCluster"
OBSERVABILITY = "amazon-cloudwatch-observability"
# What a node needs: join the cluster and pull images (AmazonEKS_CNI_Policy goes to vpc-cni's own role).
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly")
ADDON_ROLES = {"vpc-cni": ("aws-node", "AmazonEKS_CNI_Policy"),
               "aws-ebs-csi-driver": ("ebs-csi-controller-sa", "service-role/AmazonEBSCSIDriverPolicy"),
               # Pod Identity from add-on version 3.1.0 (CloudWatch User Guide, "Quick start with the
               # Amazon CloudWatch Observability EKS add-on"); the agent's account in amazon-cloudwatch.
               OBSERVABILITY: ("cloudwatch-agent", "CloudWatchAgentServerPolicy")}
# The chart's DaemonSets tolerate every taint by default (helm-charts values.yaml, root `tolerations`);
# said here too, so the DCGM exporter keeps running on the tainted GPU nodes whatever a later default.
ADDON_VALUES = {"vpc-cni": {"enableNetworkPolicy": "true"}, OBSERVABILITY: {"tolerations": [{"operator": "Exists"}]}}


@dataclass(frozen=True, kw_only=True)
class EksClusterArgs:
    spec: EksClusterSpec
    """The cluster as the stack file says it."""
    cluster_name: str
    """The EKS cluster's name."""
    region: str
    """The stack's region (the kubeconfig's token command names it)."""
    environment: str
    """dev, staging or prod: prod turns on deletion protection."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets for the control plane's interfaces and the nodes."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of the instances Karpenter launches (the other resources get theirs from the pattern). Defaults to none."""
    gpu_metrics: bool = False
    """Run the Amazon CloudWatch Observability add-on (Container Insights, with the DCGM exporter on
    GPU nodes), with its agent's own Pod Identity role. Defaults to false."""


class EksCluster(Component):
    """Outputs: cluster_name, endpoint, version, oidc_issuer."""

    def __init__(self, name: str, args: EksClusterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        spec, prod = args.spec, args.environment == "prod"
        ensure_valid(f"EksCluster {name}", spec, Context(region=args.region, environment=args.environment))

        role = aws.iam.Role(f"{name}-cluster", assume_role_policy=assume_role("eks.amazonaws.com", tag_session=True),
                            opts=self.child())
        policy = aws.iam.RolePolicyAttachment(f"{name}-cluster", role=role.name,
                                              policy_arn=f"{MANAGED}AmazonEKSClusterPolicy", opts=self.child())
        self.secrets_key = aws.kms.Key(f"{name}-secrets", description=f"EKS {args.cluster_name}: secrets envelope encryption",
                                       enable_key_rotation=True, deletion_window_in_days=30, opts=self.child(protect=prod))
        # EKS writes to this group; created first so its retention applies from the start.
        logs = aws.cloudwatch.LogGroup(f"{name}-logs", name=f"/aws/eks/{args.cluster_name}/cluster",
                                       retention_in_days=spec.log_retention_days, opts=self.child())
        self.cluster = aws.eks.Cluster(
            name, name=args.cluster_name, role_arn=role.arn, version=spec.version,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=list(args.subnet_ids), endpoint_private_access=True,
                endpoint_public_access=spec.endpoint_public_access,
                public_access_cidrs=list(spec.public_access_cidrs) if spec.endpoint_public_access else None),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                resources=["secrets"], provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=self.secrets_key.arn)),
            enabled_cluster_log_types=list(spec.log_types),
            access_config=aws.eks.ClusterAccessConfigArgs(authentication_mode="API",
                                                          bootstrap_cluster_creator_admin_permissions=True),
            # The managed add-ons below replace the self-managed ones EKS would install.
            bootstrap_self_managed_addons=False,
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            deletion_protection=prod,
            opts=self.child(depends_on=[policy, logs], protect=prod))
        cluster_name = self.cluster.name

        for i, arn in enumerate(spec.admins):
            entry = aws.eks.AccessEntry(f"{name}-admin-{i}", cluster_name=cluster_name, principal_arn=arn, type="STANDARD",
                                        opts=self.child())
            aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{i}", cluster_name=cluster_name, principal_arn=arn,
                policy_arn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                opts=self.child(depends_on=[entry]))

        def addon(addon_name: str, depends_on: Sequence[pulumi.Resource] = ()) -> aws.eks.Addon:
            associations = None
            if addon_name in ADDON_ROLES:
                account, managed = ADDON_ROLES[addon_name]
                addon_role = aws.iam.Role(f"{name}-{addon_name}", assume_role_policy=POD_IDENTITY_TRUST, opts=self.child())
                attached = aws.iam.RolePolicyAttachment(f"{name}-{addon_name}", role=addon_role.name,
                                                        policy_arn=f"{MANAGED}{managed}", opts=self.child())
                depends_on = list(depends_on) + [attached]
                associations = [aws.eks.AddonPodIdentityAssociationArgs(role_arn=addon_role.arn, service_account=account)]
            # The CNI's network policy agent enforces the NetworkPolicies the workloads carry.
            values = json.dumps(ADDON_VALUES[addon_name]) if addon_name in ADDON_VALUES else None
            return aws.eks.Addon(f"{name}-{addon_name}", cluster_name=cluster_name, addon_name=addon_name,
                                 pod_identity_associations=associations, configuration_values=values, resolve_conflicts_on_create="OVERWRITE",
                                 resolve_conflicts_on_update="OVERWRITE", opts=self.child(depends_on=list(depends_on)))

        # Networking and Pod Identity come before nodes (a node without the CNI never gets Ready).
        identity = addon("eks-pod-identity-agent")
        early = [addon("vpc-cni", [identity]), addon("kube-proxy"), identity]

        node_role = aws.iam.Role(f"{name}-nodes", assume_role_policy=assume_role("ec2.amazonaws.com"), opts=self.child())
        node_policies = [aws.iam.RolePolicyAttachment(f"{name}-nodes-{p}", role=node_role.name, policy_arn=f"{MANAGED}{p}",
                                                      opts=self.child()) for p in NODE_POLICIES]
        karpenter = spec.autoscaler == "karpenter"
        # With Karpenter the pools become NodePools; its controller runs on a small managed group.
        groups_of = [system_pool(spec)] if karpenter else spec.node_pools
        self.node_groups = {pool.name: EksNodeGroup(f"{name}-{pool.name}", EksNodeGroupArgs(
            spec=pool, cluster_name=cluster_name, node_role_arn=node_role.arn, subnet_ids=args.subnet_ids,
            version=spec.version), opts=self.child(depends_on=node_policies + early)) for pool in groups_of}
        groups = [g.node_group for g in self.node_groups.values()]
        # These run as Deployments: they wait for nodes.
        self.addons = {a.addon_name: a for a in early}
        for addon_name in ("coredns", "aws-ebs-csi-driver"):
            self.addons[addon_name] = addon(addon_name, groups)

        self.kubeconfig = pulumi.Output.all(cluster_name, self.cluster.endpoint,
                                            self.cluster.certificate_authority.data).apply(
            lambda parts: json.dumps(kubeconfig(parts[0], parts[1], parts[2], args.region)))
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig, opts=self.child(depends_on=groups))

        self.autoscaler, self.karpenter, self.nodes = None, None, EKS_NODES
        if karpenter:
            # Karpenter finds the private subnets by their tag (the VPC sets it) and the cluster's security group by this one.
            aws.ec2.Tag(f"{name}-cluster-sg-discovery", resource_id=self.cluster.vpc_config.cluster_security_group_id,
                        key=DISCOVERY_TAG, value=cluster_name, opts=self.child())
            self.karpenter = Karpenter(f"{name}-karpenter", KarpenterArgs(
                settings=spec.karpenter, pools=spec.node_pools, provider=self.provider, cluster_name=cluster_name,
                cluster_arn=self.cluster.arn, region=args.region, node_policies=NODE_POLICIES,
                system_node_label={"mlinfra.dev/node-pool": SYSTEM_POOL}, tags=args.tags),
                opts=self.child(depends_on=[self.addons["coredns"]]))
            self.nodes = KARPENTER_NODES
        else:
            # Node groups leave their size to it.
            self.autoscaler = ClusterAutoscaler(f"{name}-autoscaler", ClusterAutoscalerArgs(
                provider=self.provider, cluster_name=cluster_name, region=args.region, kubernetes_minor=spec.version),
                opts=self.child(provider=self.provider, depends_on=[self.addons["coredns"]]))

        if args.gpu_metrics:
            # Its operator and agents are pods: after the nodes, and with Karpenter after the controller.
            after = groups + ([self.karpenter] if self.karpenter is not None else [])
            self.addons[OBSERVABILITY] = addon(OBSERVABILITY, after)

        self.device_plugin = None
        if any(pool.gpu is not None for pool in spec.node_pools):
            self.device_plugin = NvidiaDevicePlugin(f"{name}-nvidia", NvidiaDevicePluginArgs(
                provider=self.provider, spot_label=self.nodes.spot_label),
                                                    opts=self.child(provider=self.provider))

        self.cluster_name = cluster_name
        self.kubernetes_minor = spec.version
        self.register_outputs({"cluster_name": cluster_name, "endpoint": self.cluster.endpoint, "version": spec.version})


def system_pool(spec: EksClusterSpec) -> EksNodePoolSpec:
    """The managed node group Karpenter's controller and the cluster's add-ons run on: fixed size,
    tainted CriticalAddonsOnly so workloads go to the NodePools (the controller, CoreDNS and the
    EBS CSI controller tolerate it)."""
    system = spec.karpenter.system_nodes
    return EksNodePoolSpec(name=SYSTEM_POOL, instance_types=list(system.instance_types),
                           autoscaling={"min": system.count, "max": system.count},
                           taints=[{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}])


def kubeconfig(cluster: str, endpoint: str, ca: str, region: str) -> dict:
    """A kubeconfig that gets a token from `aws eks get-token` (the AWS CLI) on each use."""
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": cluster,
        "clusters": [{"name": cluster, "cluster": {"server": endpoint, "certificate-authority-data": ca}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
        "users": [{"name": cluster, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster, "--region", region, "--output", "json"]}}}],
    }
