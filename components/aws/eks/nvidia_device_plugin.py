"""The NVIDIA device plugin for Kubernetes as a DaemonSet on the GPU nodes: the AL2023 NVIDIA AMI
brings the driver and the container toolkit; the plugin advertises `nvidia.com/gpu` to the
kubelet. It writes its socket into the kubelet's root-owned device-plugin directory (a
hostPath), so it runs as root in a namespace of its own that Pod Security labels privileged;
it adds no capability and cannot escalate. The stacks waive the non-root and probe guardrails
for it, naming it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.aws.eks.node_labels import ACCELERATOR_LABEL, CAPACITY_LABEL
from components.core.component import Component
from components.kubernetes.pods import GPU_RESOURCE

TYPE = "mlinfra:aws:NvidiaDevicePlugin"
NAMESPACE = "nvidia-device-plugin"
NAME = "nvidia-device-plugin"
# https://github.com/NVIDIA/k8s-device-plugin/releases
IMAGE = "nvcr.io/nvidia/k8s-device-plugin:v0.17.4"


@dataclass(frozen=True, kw_only=True)
class NvidiaDevicePluginArgs:
    provider: pulumi.ProviderResource
    """The cluster's Kubernetes provider."""
    image: str = IMAGE
    """The plugin's image. Defaults to NVIDIA's v0.17.4."""
    spot_label: str = CAPACITY_LABEL
    """The key of the spot nodes' taint (Karpenter's differs). Defaults to the managed node groups'."""


def daemonset_spec(image: str, spot_label: str = CAPACITY_LABEL) -> dict:
    labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "mlinfra"}
    return {
        "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
        "updateStrategy": {"type": "RollingUpdate"},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "priorityClassName": "system-node-critical",
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": ACCELERATOR_LABEL, "operator": "Exists"}]}]}}},
                "tolerations": [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"},
                                {"key": spot_label, "operator": "Exists", "effect": "NoSchedule"}],
                "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "nvidia-device-plugin",
                    "image": image,
                    "env": [{"name": "FAIL_ON_INIT_ERROR", "value": "false"}],
                    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "100m", "memory": "128Mi"}},
                    "securityContext": {"allowPrivilegeEscalation": False, "privileged": False,
                                        "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
                    "volumeMounts": [{"name": "device-plugin", "mountPath": "/var/lib/kubelet/device-plugins"}],
                }],
                "volumes": [{"name": "device-plugin", "hostPath": {"path": "/var/lib/kubelet/device-plugins",
                                                                   "type": "Directory"}}],
            },
        },
    }


class NvidiaDevicePlugin(Component):
    """Outputs: namespace."""

    def __init__(self, name: str, args: NvidiaDevicePluginArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        k8s_opts = self.child(provider=args.provider)
        namespace = k8s.core.v1.Namespace(f"{name}-ns", metadata={"name": NAMESPACE, "labels": {
            "app.kubernetes.io/part-of": "mlinfra", "pod-security.kubernetes.io/enforce": "privileged"}}, opts=k8s_opts)
        # No ingress: the plugin talks to the kubelet over its socket only.
        k8s.networking.v1.NetworkPolicy(f"{name}-deny-ingress", metadata={"name": "deny-ingress", "namespace": NAMESPACE},
                                        spec={"podSelector": {}, "policyTypes": ["Ingress"]},
                                        opts=self.child(provider=args.provider, depends_on=[namespace]))
        self.daemonset = k8s.apps.v1.DaemonSet(name, metadata={"name": NAME, "namespace": NAMESPACE},
                                               spec=daemonset_spec(args.image, args.spot_label),
                                               opts=self.child(provider=args.provider, depends_on=[namespace]))
        self.namespace = NAMESPACE
        self.register_outputs({"namespace": NAMESPACE})
