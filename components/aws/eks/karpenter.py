"""Karpenter on EKS: its controller installed by its Helm charts (the CRDs' chart, then the
controller's, both pinned), its IAM role through EKS Pod Identity with the policy Karpenter's
docs give (scoped to this cluster's tags), the role of the nodes it launches with an EC2_LINUX
access entry, the spot-interruption queue (SQS, SSE on, TLS only) fed by the EventBridge rules
Karpenter handles, and the EC2NodeClass and NodePools it launches from.

With the queue, Karpenter learns of a spot reclaim two minutes ahead (and of rebalance
recommendations, scheduled maintenance and stopped instances), cordons and drains the node and
launches its replacement, instead of losing the pods when the instance disappears.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws.eks.iam_policies import MANAGED, assume_role
from components.aws.eks.karpenter_manifests import node_class, node_pool
from components.aws.eks.karpenter_policies import (INTERRUPTION_EVENTS, QUEUE_RETENTION_SECONDS, controller_statements,
                                                   queue_policy)
from components.aws.eks.karpenter_spec import KarpenterSpec
from components.aws.eks.node_group_spec import EksNodePoolSpec
from components.aws.eks.pod_identity_role import PodIdentityRole, PodIdentityRoleArgs
from components.core.component import Component

TYPE = "mlinfra:aws:Karpenter"
NAMESPACE = "karpenter"
SERVICE_ACCOUNT = "karpenter"
CHART = "oci://public.ecr.aws/karpenter/karpenter"
CRD_CHART = "oci://public.ecr.aws/karpenter/karpenter-crd"


@dataclass(frozen=True, kw_only=True)
class KarpenterArgs:
    settings: KarpenterSpec
    """Karpenter's settings as the stack file says them."""
    pools: Sequence[EksNodePoolSpec]
    """The stack's pools: one NodePool each."""
    provider: pulumi.ProviderResource
    """The cluster's Kubernetes provider."""
    cluster_name: pulumi.Input[str]
    """The cluster it launches nodes for."""
    cluster_arn: pulumi.Input[str]
    """The cluster's ARN (its account and the controller's eks:DescribeCluster)."""
    region: str
    """The cluster's region."""
    node_policies: Sequence[str]
    """Managed policies of the nodes' role."""
    system_node_label: Mapping[str, str]
    """The label of the managed node group the controller runs on."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of every instance it launches. Defaults to none."""


class Karpenter(Component):
    """Outputs: namespace, queue_name, role_arn, node_role_name."""

    def __init__(self, name: str, args: KarpenterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        settings, cluster_name = args.settings, pulumi.Output.from_input(args.cluster_name)

        self.node_role = aws.iam.Role(f"{name}-nodes", assume_role_policy=assume_role("ec2.amazonaws.com"),
                                      description="mlinfra: nodes Karpenter launches", opts=self.child())
        attached = [aws.iam.RolePolicyAttachment(f"{name}-nodes-{p}", role=self.node_role.name,
                                                 policy_arn=f"{MANAGED}{p}", opts=self.child())
                    for p in args.node_policies]
        # Its nodes join through an access entry (managed node groups get theirs from EKS).
        self.access_entry = aws.eks.AccessEntry(f"{name}-nodes", cluster_name=args.cluster_name,
                                                principal_arn=self.node_role.arn, type="EC2_LINUX", opts=self.child())

        # The queue is named after the cluster, as Karpenter's docs name it.
        self.queue = aws.sqs.Queue(f"{name}-interruptions", name=cluster_name,
                                   message_retention_seconds=QUEUE_RETENTION_SECONDS, sqs_managed_sse_enabled=True,
                                   opts=self.child(delete_before_replace=True))
        self.queue_policy = aws.sqs.QueuePolicy(f"{name}-interruptions", queue_url=self.queue.url,
                                                policy=self.queue.arn.apply(lambda arn: json.dumps(queue_policy(arn))),
                                                opts=self.child())
        self.rules = {}
        for event, (source, detail_type) in INTERRUPTION_EVENTS.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{event}", description=f"Karpenter: {detail_type}",
                event_pattern=json.dumps({"source": [source], "detail-type": [detail_type]}), opts=self.child())
            aws.cloudwatch.EventTarget(f"{name}-{event}", rule=rule.name, arn=self.queue.arn,
                                       target_id="KarpenterInterruptionQueueTarget",
                                       opts=self.child(depends_on=[self.queue_policy]))
            self.rules[event] = rule

        statements = pulumi.Output.all(cluster_name, args.cluster_arn, self.node_role.arn, self.queue.arn).apply(
            lambda v: controller_statements(v[0], args.region, v[1].split(":")[4], v[2], v[3]))
        self.identity = PodIdentityRole(f"{name}-controller", PodIdentityRoleArgs(
            cluster_name=args.cluster_name, namespace=NAMESPACE, service_account=SERVICE_ACCOUNT,
            statements=statements), opts=self.child())

        k8s_opts = self.child(provider=args.provider)
        namespace = k8s.core.v1.Namespace(f"{name}-ns", metadata={"name": NAMESPACE, "labels": {
            "app.kubernetes.io/part-of": "mlinfra", "pod-security.kubernetes.io/enforce": "restricted"}}, opts=k8s_opts)
        in_ns = self.child(provider=args.provider, depends_on=[namespace])
        # It serves its metrics and health checks only (no webhooks in v1).
        k8s.networking.v1.NetworkPolicy(f"{name}-deny-ingress", metadata={"name": "deny-ingress", "namespace": NAMESPACE},
                                        spec={"podSelector": {}, "policyTypes": ["Ingress"]}, opts=in_ns)
        # Helm installs a chart's crds/ once and never upgrades them: the CRDs' own chart does.
        self.crds = k8s.helm.v3.Release(f"{name}-crd", name="karpenter-crd", chart=CRD_CHART, version=settings.version,
                                        namespace=NAMESPACE, opts=in_ns)
        self.release = k8s.helm.v3.Release(
            name, name="karpenter", chart=CHART, version=settings.version, namespace=NAMESPACE, skip_crds=True,
            values=controller_values(cluster_name, self.queue.name, args.system_node_label),
            opts=self.child(provider=args.provider, depends_on=[self.crds, self.identity, self.access_entry, *attached]))

        on_karpenter = self.child(provider=args.provider, depends_on=[self.release])
        # One node class for every pool: its root volume is the largest any pool asks for.
        disk = max((p.disk_size_gb for p in args.pools), default=100)
        class_body = pulumi.Output.all(cluster_name, self.node_role.name).apply(
            lambda v: node_class(v[0], v[1], disk, settings, args.tags))
        self.node_class = k8s.apiextensions.CustomResource(
            f"{name}-node-class", api_version="karpenter.k8s.aws/v1", kind="EC2NodeClass",
            metadata=class_body["metadata"], spec=class_body["spec"], opts=on_karpenter)
        self.node_pools = {}
        for pool in args.pools:
            body = node_pool(pool, settings)
            self.node_pools[pool.name] = k8s.apiextensions.CustomResource(
                f"{name}-{pool.name}", api_version=body["apiVersion"], kind=body["kind"], metadata=body["metadata"],
                spec=body["spec"], opts=self.child(provider=args.provider, depends_on=[self.release, self.node_class]))

        self.namespace = NAMESPACE
        self.queue_name = self.queue.name
        self.role_arn = self.identity.role_arn
        self.register_outputs({"namespace": NAMESPACE, "queue_name": self.queue_name, "role_arn": self.role_arn,
                               "node_role_name": self.node_role.name})


def controller_values(cluster_name: pulumi.Input[str], queue_name: pulumi.Input[str],
                      system_label: Mapping[str, str]) -> dict:
    """The chart's values: the cluster and its queue, two replicas on the system nodes (the
    chart's own affinity keeps them off every node carrying karpenter.sh/nodepool)."""
    resources = {"cpu": "1", "memory": "1Gi"}
    return {
        "settings": {"clusterName": cluster_name, "interruptionQueue": queue_name},
        "serviceAccount": {"name": SERVICE_ACCOUNT},
        "replicas": 2,
        "nodeSelector": {"kubernetes.io/os": "linux", **system_label},
        "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
        "controller": {"resources": {"requests": resources, "limits": resources}},
    }
