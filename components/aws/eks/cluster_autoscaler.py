"""The Kubernetes cluster autoscaler for the EKS managed node groups: it finds the groups by the
auto-discovery tags EKS puts on their Auto Scaling groups, and sizes each between its min and
max (node groups leave `desiredSize` to it). Its AWS permissions come through EKS Pod Identity:
read Auto Scaling, EC2 and EKS node group descriptions anywhere, change the size only of this
cluster's groups. It reads the cluster's workloads and may cordon, drain and delete nodes, so it
keeps its service-account token (the scan exempts it by name)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.aws.eks.pod_identity_role import PodIdentityRole, PodIdentityRoleArgs
from components.core.component import Component

TYPE = "mlinfra:aws:ClusterAutoscaler"
NAMESPACE = "cluster-autoscaler"
NAME = "cluster-autoscaler"
# The autoscaler's minor version follows the cluster's (https://github.com/kubernetes/autoscaler/releases).
IMAGE = "registry.k8s.io/autoscaling/cluster-autoscaler:v{minor}.0"
HEALTH_PORT = 8085

_READ = ["get", "list", "watch"]
RULES = [
    {"apiGroups": [""], "resources": ["pods", "services", "replicationcontrollers", "persistentvolumeclaims",
                                      "persistentvolumes", "namespaces", "endpoints"], "verbs": _READ},
    {"apiGroups": [""], "resources": ["nodes"], "verbs": _READ + ["update", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["update"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    {"apiGroups": ["apps"], "resources": ["statefulsets", "replicasets", "daemonsets", "deployments"], "verbs": _READ},
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": _READ},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": _READ},
    {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses", "csinodes", "csidrivers", "csistoragecapacities",
                                                    "volumeattachments"], "verbs": _READ},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create", "get", "update"]},
]
# Its status ConfigMap, in its own namespace only.
NAMESPACE_RULES = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": _READ + ["create", "update", "delete"]}]


def aws_statements(cluster_name: str) -> list[dict]:
    return [
        {"Effect": "Allow", "Resource": "*", "Action": [
            "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
            "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
            "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
            "eks:DescribeNodegroup"]},
        {"Effect": "Allow", "Resource": "*",
         "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
         "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}}},
    ]


@dataclass(frozen=True, kw_only=True)
class ClusterAutoscalerArgs:
    provider: pulumi.ProviderResource
    """The cluster's Kubernetes provider."""
    cluster_name: pulumi.Input[str]
    """The cluster whose node groups it sizes."""
    region: str
    """The cluster's region."""
    kubernetes_minor: str
    """The cluster's Kubernetes version, e.g. 1.34 (picks the autoscaler's)."""


def deployment_spec(cluster_name: str, region: str, image: str) -> dict:
    labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "mlinfra"}
    probe = {"httpGet": {"path": "/health-check", "port": HEALTH_PORT}, "periodSeconds": 10, "failureThreshold": 3}
    return {
        "replicas": 2,  # one leads (leader election through a Lease), the other takes over
        "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
        "template": {"metadata": {"labels": labels}, "spec": {
            "serviceAccountName": NAME,
            "automountServiceAccountToken": True,
            "priorityClassName": "system-cluster-critical",
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            # Never on the spot capacity it removes.
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "eks.amazonaws.com/capacityType", "operator": "NotIn", "values": ["SPOT"]}]}]}}},
            "containers": [{
                "name": NAME, "image": image,
                "command": ["./cluster-autoscaler", "--cloud-provider=aws", f"--aws-region={region}",
                            "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,"
                            f"k8s.io/cluster-autoscaler/{cluster_name}",
                            "--balance-similar-node-groups", "--expander=least-waste",
                            "--skip-nodes-with-system-pods=false", "--scale-down-unneeded-time=10m"],
                "env": [{"name": "AWS_REGION", "value": region}],
                "ports": [{"name": "health", "containerPort": HEALTH_PORT, "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "100m", "memory": "600Mi"}, "limits": {"cpu": "100m", "memory": "600Mi"}},
                "securityContext": {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}},
                "livenessProbe": probe, "readinessProbe": probe,
            }],
        }},
    }


class ClusterAutoscaler(Component):
    """Outputs: namespace, role_arn."""

    def __init__(self, name: str, args: ClusterAutoscalerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        self.identity = PodIdentityRole(f"{name}-role", PodIdentityRoleArgs(
            cluster_name=args.cluster_name, namespace=NAMESPACE, service_account=NAME,
            statements=pulumi.Output.from_input(args.cluster_name).apply(aws_statements)), opts=self.child())
        k8s_opts = self.child(provider=args.provider)
        namespace = k8s.core.v1.Namespace(f"{name}-ns", metadata={"name": NAMESPACE, "labels": {
            "app.kubernetes.io/part-of": "mlinfra", "pod-security.kubernetes.io/enforce": "restricted"}}, opts=k8s_opts)
        in_ns = self.child(provider=args.provider, depends_on=[namespace])
        meta = {"name": NAME, "namespace": NAMESPACE, "labels": {"app.kubernetes.io/name": NAME}}
        account = k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=meta, opts=in_ns)
        role = k8s.rbac.v1.ClusterRole(f"{name}-role", metadata={"name": NAME}, rules=RULES, opts=k8s_opts)
        k8s.rbac.v1.ClusterRoleBinding(f"{name}-binding", metadata={"name": NAME},
                                       role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
                                       subjects=[{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}],
                                       opts=self.child(provider=args.provider, depends_on=[role, account]))
        ns_role = k8s.rbac.v1.Role(f"{name}-ns-role", metadata=meta, rules=NAMESPACE_RULES, opts=in_ns)
        k8s.rbac.v1.RoleBinding(f"{name}-ns-binding", metadata=meta,
                                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
                                subjects=[{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}],
                                opts=self.child(provider=args.provider, depends_on=[ns_role, account]))
        # It serves nothing but its health check to the kubelet.
        k8s.networking.v1.NetworkPolicy(f"{name}-deny-ingress", metadata={"name": "deny-ingress", "namespace": NAMESPACE},
                                        spec={"podSelector": {}, "policyTypes": ["Ingress"]}, opts=in_ns)
        k8s.policy.v1.PodDisruptionBudget(f"{name}-pdb", metadata=meta, spec={
            "maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            "unhealthyPodEvictionPolicy": "AlwaysAllow"}, opts=in_ns)
        image = IMAGE.format(minor=args.kubernetes_minor)
        spec = pulumi.Output.from_input(args.cluster_name).apply(lambda c: deployment_spec(c, args.region, image))
        self.deployment = k8s.apps.v1.Deployment(name, metadata=meta, spec=spec,
                                                 opts=self.child(provider=args.provider,
                                                                 depends_on=[self.identity, account]))
        self.namespace = NAMESPACE
        self.role_arn = self.identity.role_arn
        self.register_outputs({"namespace": NAMESPACE, "role_arn": self.role_arn})
