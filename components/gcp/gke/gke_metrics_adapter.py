"""The Custom Metrics Stackdriver Adapter: serves Cloud Monitoring metrics to the HPA.

Model servers that scale on their own queue metrics (vLLM, Triton) are scraped by Managed
Service for Prometheus into Cloud Monitoring; this adapter answers the HPA's
`custom.metrics.k8s.io` queries (`prometheus.googleapis.com|<metric>|gauge` on Pods) and
`external.metrics.k8s.io` ones from there. Install one per cluster, only when some service
scales on a server metric. It cannot share a cluster with the Prometheus Adapter (both
register the same APIServices).

The objects follow Google's manifest
https://github.com/GoogleCloudPlatform/k8s-stackdriver/blob/master/custom-metrics-stackdriver-adapter/deploy/production/adapter_new_resource_model.yaml
(the pinned image below is the one it names), with the adapter's Kubernetes service account
bound by Workload Identity to a Google service account that may read Cloud Monitoring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.core.component import Component
from components.gcp.iam.service_account import ServiceAccount, ServiceAccountArgs

TYPE = "mlinfra:gcp:GkeMetricsAdapter"
FORMER_TYPES = ("mlinfra:k8s:MetricsAdapter",)

ADAPTER_IMAGE = "gcr.io/gke-release/custom-metrics-stackdriver-adapter:v0.15.1-gke.0"
NAMESPACE = "custom-metrics"
ADAPTER = "custom-metrics-stackdriver-adapter"
PORT = 8443
API_SERVICES = (("custom.metrics.k8s.io", "v1beta1", 100), ("custom.metrics.k8s.io", "v1beta2", 200),
                ("external.metrics.k8s.io", "v1beta1", 100))


@dataclass(frozen=True, kw_only=True)
class GkeMetricsAdapterArgs:
    project: str
    """The project whose Cloud Monitoring the adapter reads."""
    provider: pulumi.ProviderResource
    """The cluster's Kubernetes provider."""
    workload_pool: pulumi.Input[str]
    """The cluster's Workload Identity pool (`<project>.svc.id.goog`)."""
    image: str = ADAPTER_IMAGE
    """The adapter image. Defaults to the version Google's production manifest pins."""
    environment: str = "dev"
    """dev, staging or prod: in prod two replicas keep autoscaling alive through node upgrades. Defaults to dev."""


class GkeMetricsAdapter(Component):
    """Outputs: namespace, account_email."""

    def __init__(self, name: str, args: GkeMetricsAdapterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts, former_types=FORMER_TYPES)

        self.account = ServiceAccount(f"{name}-sa", ServiceAccountArgs(
            display_name="mlinfra custom metrics adapter", project=args.project), opts=self.child())
        viewer = self.account.grant_project_role("roles/monitoring.viewer")
        binding = gcp.serviceaccount.IAMMember(
            f"{name}-wi", service_account_id=self.account.resource_name, role="roles/iam.workloadIdentityUser",
            member=pulumi.Output.concat("serviceAccount:", args.workload_pool, f"[{NAMESPACE}/{ADAPTER}]"),
            opts=self.child())

        k8s_opts = self.child(provider=args.provider)
        app = {"k8s-app": ADAPTER, "app.kubernetes.io/part-of": "mlinfra"}
        # Restricted like every mlinfra namespace: the adapter listens above 1024, runs as nobody
        # and writes its self-signed serving certificate to an emptyDir.
        self.namespace_object = k8s.core.v1.Namespace(f"{name}-ns", metadata={"name": NAMESPACE, "labels": {
            "app.kubernetes.io/part-of": "mlinfra", "pod-security.kubernetes.io/enforce": "restricted"}},
            opts=k8s_opts)
        ns = self.namespace_object.metadata.name
        self.ksa = k8s.core.v1.ServiceAccount(f"{name}-ksa", metadata={
            "name": ADAPTER, "namespace": ns, "labels": app,
            "annotations": {"iam.gke.io/gcp-service-account": self.account.email}}, opts=k8s_opts)
        subject = [{"kind": "ServiceAccount", "name": ADAPTER, "namespace": NAMESPACE}]

        k8s.rbac.v1.ClusterRoleBinding(f"{name}-auth-delegator", metadata={"name": "custom-metrics:system:auth-delegator", "labels": app},
                                       role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                 "name": "system:auth-delegator"},
                                       subjects=subject, opts=k8s_opts)
        k8s.rbac.v1.RoleBinding(f"{name}-auth-reader", metadata={"name": "custom-metrics-auth-reader", "namespace": "kube-system",
                                                                 "labels": app},
                                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                          "name": "extension-apiserver-authentication-reader"},
                                subjects=subject, opts=k8s_opts)
        reader = k8s.rbac.v1.ClusterRole(f"{name}-resource-reader", metadata={"name": "custom-metrics-resource-reader", "labels": app},
                                         rules=[{"apiGroups": [""], "resources": ["pods", "nodes", "nodes/stats"],
                                                 "verbs": ["get", "list", "watch"]}], opts=k8s_opts)
        k8s.rbac.v1.ClusterRoleBinding(f"{name}-resource-reader", metadata={"name": "custom-metrics-resource-reader", "labels": app},
                                       role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                 "name": reader.metadata.name},
                                       subjects=subject, opts=k8s_opts)
        external = k8s.rbac.v1.ClusterRole(f"{name}-external-reader", metadata={"name": "external-metrics-reader", "labels": app},
                                           rules=[{"apiGroups": ["external.metrics.k8s.io"], "resources": ["*"],
                                                   "verbs": ["list", "get", "watch"]}], opts=k8s_opts)
        k8s.rbac.v1.ClusterRoleBinding(f"{name}-external-reader", metadata={"name": "external-metrics-reader", "labels": app},
                                       role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                 "name": external.metadata.name},
                                       subjects=[{"kind": "ServiceAccount", "name": "horizontal-pod-autoscaler",
                                                  "namespace": "kube-system"}], opts=k8s_opts)

        quantities = {"cpu": "250m", "memory": "400Mi"}
        replicas = 2 if args.environment == "prod" else 1
        # The generic API server always lets /readyz and /livez through without credentials.
        probe = {"httpGet": {"path": "/readyz", "port": PORT, "scheme": "HTTPS"}, "periodSeconds": 10,
                 "timeoutSeconds": 5, "failureThreshold": 3}
        self.deployment = k8s.apps.v1.Deployment(f"{name}-adapter", metadata={"name": ADAPTER, "namespace": ns, "labels": app}, spec={
            "replicas": replicas,
            "selector": {"matchLabels": {"k8s-app": ADAPTER}},
            "template": {"metadata": {"labels": app}, "spec": {
                "serviceAccountName": self.ksa.metadata.name,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "pod-custom-metrics-stackdriver-adapter",
                    "image": args.image,
                    "command": ["/adapter", "--use-new-resource-model=true", "--fallback-for-container-metrics=true",
                                f"--secure-port={PORT}", "--cert-dir=/tmp/certs"],
                    "ports": [{"name": "https", "containerPort": PORT, "protocol": "TCP"}],
                    "resources": {"requests": dict(quantities), "limits": dict(quantities)},
                    "readinessProbe": probe,
                    "livenessProbe": {**probe, "httpGet": {**probe["httpGet"], "path": "/livez"}},
                    "securityContext": {"allowPrivilegeEscalation": False, "privileged": False, "runAsNonRoot": True,
                                        "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }],
                "volumes": [{"name": "tmp", "emptyDir": {}}],
            }},
        }, opts=self.child(provider=args.provider, depends_on=[viewer, binding]))
        self.disruption_budget = k8s.policy.v1.PodDisruptionBudget(f"{name}-pdb", metadata={
            "name": ADAPTER, "namespace": ns, "labels": app}, spec={
            "selector": {"matchLabels": {"k8s-app": ADAPTER}},
            **({"minAvailable": 1} if replicas > 1 else {"maxUnavailable": 1})}, opts=k8s_opts)
        # The API server (control plane) reaches the adapter on its port; nothing else may.
        self.network_policy = k8s.networking.v1.NetworkPolicy(f"{name}-netpol", metadata={
            "name": ADAPTER, "namespace": ns, "labels": app}, spec={
            "podSelector": {"matchLabels": {"k8s-app": ADAPTER}},
            "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"protocol": "TCP", "port": PORT}]}]}, opts=k8s_opts)
        self.service = k8s.core.v1.Service(f"{name}-svc", metadata={"name": ADAPTER, "namespace": ns, "labels": app}, spec={
            "type": "ClusterIP", "selector": {"k8s-app": ADAPTER},
            "ports": [{"port": 443, "targetPort": PORT, "protocol": "TCP"}],
        }, opts=k8s_opts)
        self.api_services = [
            k8s.apiregistration.v1.APIService(f"{name}-{version}-{group.split('.')[0]}", metadata={"name": f"{version}.{group}", "labels": app}, spec={
                "group": group, "version": version, "groupPriorityMinimum": 100, "versionPriority": priority,
                # As Google's manifest: the aggregator does not verify the adapter's self-signed certificate.
                "insecureSkipTLSVerify": True,
                "service": {"name": self.service.metadata.name, "namespace": NAMESPACE},
            }, opts=self.child(provider=args.provider, depends_on=[self.deployment]))
            for group, version, priority in API_SERVICES]

        self.namespace = ns
        self.account_email = self.account.email
        self.register_outputs({"namespace": self.namespace, "account_email": self.account_email})
