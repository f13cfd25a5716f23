"""A model server on GKE: its own namespace and identity, autoscaled, with a canary track.

Two ways to ship a model, as on Cloud Run: model-in-image (`image` alone) or model-loading (a
serving `runtime` plus `model.uri` and `model.version`), where the version directory of the
artifact bucket is mounted read-only at `/models/<name>/<version>` by the Cloud Storage FUSE
CSI driver, under the pod's own Google service account (Workload Identity).

The per-track objects (Deployment, Service, HPA, PDB) come from components/kubernetes/serving.py;
this component adds what is GKE's: the Google service account bound by Workload Identity, the
model mount, the HTTPRoute on the stack's Gateway with GKE's HealthCheckPolicy (for `protocol:
grpc`, an h2c Service port and gRPC or TCP checks, components/kubernetes/grpc_serving.py), and the
PodMonitoring that Managed Service for Prometheus scrapes (served to the HPA by the Custom
Metrics Stackdriver Adapter, components/gcp/gke/gke_metrics_adapter.py).

With `logging`, each track's container gets the request log's variables (REQUEST_LOG_TOPIC,
REQUEST_LOG_SAMPLE_RATE, REQUEST_LOG_SERVICE, as on Cloud Run) and K_REVISION; the server
publishes to the topic itself, as the Google account above (the topic and its grant are the
pattern's, infra/patterns/request_logging.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.core.component import Component
from components.core.issues import Issue, raise_if_any
from components.core.spec import Context, ensure_valid
from components.gcp.gke.gateway_spec import IapSpec
from components.gcp.gke.gcs_fuse import gcs_fuse_volume
from components.gcp.gke.secret_manager import secret_access
from components.gcp.gke.gke_service_spec import GkeServiceSpec
from components.gcp.gke.node_labels import GKE_NODES
from components.gcp.iam.service_account import ServiceAccount, ServiceAccountArgs
from components.gcp.monitoring import request_logging_spec
from components.gcp.network.network_spec import GOOGLE_LB_RANGES
from components.gcp.storage.bucket import Bucket
from components.kubernetes.grpc_serving import is_grpc, lb_health_check, port_name, service_port
from components.serving import cache_wiring
from components.serving.cache_wiring import CacheConnection
from components.kubernetes.serving import (SERVICE_PORT, hpa_metric, labels, metrics_port_of, pod_template, selector,
                                           track_replicas, track_weights)

TYPE = "mlinfra:gcp:GkeModelServer"
FORMER_TYPES = ("mlinfra:k8s:ModelServer",)
# The namespace of Managed Service for Prometheus' managed collectors.
GMP_NAMESPACE = "gmp-system"


def hpa_metric_name(prometheus_metric: str) -> str:
    """How the Custom Metrics Stackdriver Adapter names a managed-Prometheus gauge to the HPA."""
    return f"prometheus.googleapis.com|{prometheus_metric}|gauge"


@dataclass(frozen=True, kw_only=True)
class GkeModelServerArgs:
    spec: GkeServiceSpec
    """The server as the stack file says it (`platform: gke`)."""
    project: str
    """The project of its Google service account."""
    namespace: str
    """The namespace the component creates for it (one per model server)."""
    provider: pulumi.ProviderResource
    """The cluster's Kubernetes provider."""
    workload_pool: pulumi.Input[str]
    """The cluster's Workload Identity pool (`<project>.svc.id.goog`, taken from the cluster so the binding waits for it)."""
    environment: str
    """dev, staging or prod (a pod label)."""
    model_bucket: Optional[Bucket] = None
    """The artifact bucket the model is mounted from (model-loading). Defaults to none; required with a model."""
    gateway: Optional[tuple[str, str]] = None
    """`(name, namespace)` of the Gateway the HTTPRoute attaches to. Defaults to none (no route)."""
    hostnames: Sequence[str] = ()
    """Hostnames the route answers on. Defaults to any."""
    gateway_listener: Optional[str] = None
    """The Gateway listener the route attaches to (`https` on an HTTPS Gateway, whose `http` one only
    redirects). Defaults to every listener that admits it."""
    security_policy: Optional[pulumi.Input[str]] = None
    """The Cloud Armor policy (name) on the server's backends, through a GCPBackendPolicy. Defaults to none."""
    iap: Optional[IapSpec] = None
    """Identity-Aware Proxy on the server's backends, through the same GCPBackendPolicy. Defaults to none."""
    path_prefix: Optional[str] = None
    """A path prefix to share the Gateway by, stripped before the request reaches the server. Defaults to none."""
    lb_source_ranges: Sequence[str] = GOOGLE_LB_RANGES
    """Where the Gateway's proxies connect from (add the proxy-only subnet for a regional Gateway).
    Defaults to Google's load-balancer ranges."""
    cache: Optional[CacheConnection] = None
    """The stack's cache, for a server with `cache: true` (a Secret in its namespace). Defaults to none."""
    log_name: Optional[str] = None
    """What the request log's topic is named after (`<name>-<stack>`), for a server with
    `logging`. Defaults to none; required with `logging`."""


def backend_policy(security_policy: Optional[pulumi.Input[str]], iap: Optional[IapSpec]) -> dict:
    """GCPBackendPolicy's `default` for Cloud Armor and IAP; empty when neither is on. IAP's client
    secret is a Kubernetes Secret named here, never a value."""
    config: dict = {}
    if security_policy is not None:
        config["securityPolicy"] = security_policy
    if iap is not None:
        config["iap"] = {"enabled": True, "clientID": iap.client_id, "oauth2ClientSecret": {"name": iap.client_secret}}
    return config


def log_env(spec: GkeServiceSpec, variant: GkeServiceSpec, track: str, args: GkeModelServerArgs) -> dict[str, str]:
    """A logging server's variables: the Cloud Run path's, and K_REVISION of the track (Cloud Run sets its own)."""
    if spec.logging is None:
        return {}
    return {**request_logging_spec.server_env(spec.logging, args.project, args.log_name, spec.name),
            "K_REVISION": request_logging_spec.gke_revision(spec.name, track, variant.version)}


class GkeModelServer(Component):
    """Outputs: namespace, service_names (per track), account_email, ksa_name."""

    def __init__(self, name: str, args: GkeModelServerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts, former_types=FORMER_TYPES)
        spec = args.spec
        ensure_valid(f"GkeModelServer {name}", spec, Context(project=args.project, environment=args.environment))
        issues = []
        if spec.model is not None and not spec.model.is_hf and args.model_bucket is None:
            issues.append(Issue(("model",), "needs the artifact bucket to mount", fix="pass model_bucket"))
        if spec.cache and args.cache is None:
            issues.append(Issue(("cache",), "needs the stack's cache", fix="pass cache (the MemorystoreInstance's outputs)"))
        if args.path_prefix is not None and not args.path_prefix.startswith("/"):
            issues.append(Issue(("pathPrefix",), "must start with /", args.path_prefix, fix=f"use /{args.path_prefix}"))
        if spec.logging is not None and args.log_name is None:
            issues.append(Issue(("logging",), "needs the name its topic is named after", fix="pass log_name"))
        if args.path_prefix is not None and is_grpc(spec):
            issues.append(Issue(("pathPrefix",), "a gRPC call's path is its method (/<package>.<Service>/<Method>): "
                                "clients cannot add a prefix, and a rewrite would not match", args.path_prefix,
                                fix="pass no path_prefix for a gRPC server (its route takes the hostname's calls)"))
        raise_if_any(f"GkeModelServer {name}", issues)
        ksa_name = spec.name

        # Google identity: reads the model bucket and nothing else.
        self.account = ServiceAccount(f"{name}-sa", ServiceAccountArgs(
            display_name=f"mlinfra model server {spec.name} (GKE)", project=args.project,
            existing=spec.service_account), opts=self.child())
        grants: list[pulumi.Resource] = []
        if spec.model is not None and not spec.model.is_hf:
            grants.append(args.model_bucket.grant_read(self.account))
        # The member names the cluster's pool, so the binding waits for the cluster: IAM rejects
        # a pool that does not exist yet.
        grants.append(gcp.serviceaccount.IAMMember(
            f"{name}-wi", service_account_id=self.account.resource_name, role="roles/iam.workloadIdentityUser",
            member=pulumi.Output.concat("serviceAccount:", args.workload_pool, f"[{args.namespace}/{ksa_name}]"),
            opts=self.child()))

        k8s_opts = self.child(provider=args.provider)
        self.namespace_object = k8s.core.v1.Namespace(f"{name}-ns", metadata={
            "name": args.namespace,
            "labels": {"app.kubernetes.io/part-of": "mlinfra",
                       "pod-security.kubernetes.io/enforce": "restricted",
                       "pod-security.kubernetes.io/enforce-version": "latest",
                       "pod-security.kubernetes.io/warn": "restricted",
                       "pod-security.kubernetes.io/audit": "restricted"}}, opts=k8s_opts)
        ns = self.namespace_object.metadata.name

        def meta(object_name: str, track: Optional[str] = None) -> dict:
            return {"name": object_name, "namespace": ns, "labels": labels(spec, track)}

        self.ksa = k8s.core.v1.ServiceAccount(f"{name}-ksa", metadata={
            **meta(ksa_name), "annotations": {"iam.gke.io/gcp-service-account": self.account.email}},
            automount_service_account_token=False, opts=k8s_opts)

        self.cache_secret = None
        cache_secret = None
        if spec.cache:
            # The address and CA (nothing secret: no password, a public certificate) in a
            # ConfigMap of the server's own namespace.
            self.cache_secret = k8s.core.v1.ConfigMap(f"{name}-cache", metadata=meta(cache_wiring.CONFIG_MAP_NAME),
                                                      data=cache_wiring.config_data(args.cache), opts=k8s_opts)
            cache_secret = (cache_wiring.CONFIG_MAP_NAME, args.cache.tls)

        # Secrets as in-memory files from Secret Manager (GKE's add-on), read as the server's account.
        secrets_volume, secret_grants = secret_access(
            self, name, project=args.project, namespace=ns, class_name=f"{spec.name}-secrets",
            secrets=[*spec.secrets, *spec.model_secrets()],
            member=self.account.member, provider=args.provider, labels=labels(spec))
        grants += secret_grants

        replicas = track_replicas(spec)
        weights = track_weights(spec)
        run = spec.launch(gpu=spec.resources.gpu is not None)
        bucket_name = args.model_bucket.bucket_name if args.model_bucket is not None else None
        self.deployments, self.services, self.autoscalers, self.budgets, self.health_checks = {}, {}, {}, {}, {}
        self.backend_policies: dict = {}
        for track in weights:
            object_name = f"{spec.name}-{track}"
            variant = spec.variant(canary=track == "canary")
            model_volume = gcs_fuse_volume(bucket_name, "/".join(
                p for p in (variant.model.prefix, variant.model.version) if p)) \
                if variant.model is not None and not variant.model.is_hf else None
            # No `replicas`: the HPA owns the count, and a declared count would be reset on every update.
            self.deployments[track] = k8s.apps.v1.Deployment(f"{name}-{track}", metadata=meta(object_name, track), spec={
                "selector": {"matchLabels": selector(spec, track)},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": pod_template(variant, track, service_account=self.ksa.metadata.name,
                                         environment=args.environment, nodes=GKE_NODES, model_volume=model_volume,
                                         secrets_volume=secrets_volume,
                                         cache_secret=cache_secret, extra_env=log_env(spec, variant, track, args)),
            }, opts=self.child(provider=args.provider, depends_on=grants + ([self.cache_secret] if self.cache_secret else []),
                               # A new GPU node and a model load can take longer than the 10 min default.
                               custom_timeouts=pulumi.CustomTimeouts(create="30m", update="30m")))
            self.services[track] = k8s.core.v1.Service(f"{name}-{track}-svc", metadata=meta(object_name, track), spec={
                "type": "ClusterIP",
                "selector": selector(spec, track),
                "ports": [service_port(spec, SERVICE_PORT)],
            }, opts=k8s_opts)
            low, high = replicas[track]
            self.autoscalers[track] = k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-{track}-hpa", metadata=meta(object_name, track), spec={
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": object_name},
                    "minReplicas": low, "maxReplicas": high, "metrics": [hpa_metric(variant, hpa_metric_name)],
                }, opts=self.child(provider=args.provider, depends_on=[self.deployments[track]]))
            # One pod at a time, whatever the replica count: `minAvailable: 1` on a single replica
            # would block every drain (node upgrades, spot consolidation) until GKE's 1-hour PDB timeout.
            self.budgets[track] = k8s.policy.v1.PodDisruptionBudget(f"{name}-{track}-pdb", metadata=meta(object_name, track), spec={
                "maxUnavailable": 1, "selector": {"matchLabels": selector(spec, track)},
                # A crash-looping pod must not block node drains and upgrades.
                "unhealthyPodEvictionPolicy": "AlwaysAllow",
            }, opts=k8s_opts)
            if args.gateway is not None:
                # GKE's load balancer otherwise health-checks `/`, which model servers answer with 404
                # (and a gRPC port does not answer at all): the ready path, gRPC health, or TCP.
                check = lb_health_check(spec, run.port, run.ready_path)
                self.health_checks[track] = k8s.apiextensions.CustomResource(
                    f"{name}-{track}-hc", api_version="networking.gke.io/v1", kind="HealthCheckPolicy",
                    metadata=meta(object_name, track),
                    spec={"default": {"config": check},
                          "targetRef": {"group": "", "kind": "Service", "name": object_name}},
                    opts=self.child(provider=args.provider, depends_on=[self.services[track]]))
                backend = backend_policy(args.security_policy, args.iap)
                if backend:
                    self.backend_policies[track] = k8s.apiextensions.CustomResource(
                        f"{name}-{track}-backend", api_version="networking.gke.io/v1", kind="GCPBackendPolicy",
                        metadata=meta(object_name, track),
                        spec={"default": backend, "targetRef": {"group": "", "kind": "Service", "name": object_name}},
                        opts=self.child(provider=args.provider, depends_on=[self.services[track]]))

        metrics_port = metrics_port_of(spec)
        ingress = [{"ports": [{"protocol": "TCP", "port": run.port}], "from": [{"podSelector": {}}] + (
            [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": args.gateway[1]}}}]
            + [{"ipBlock": {"cidr": cidr}} for cidr in args.lb_source_ranges] if args.gateway is not None else [])}]
        if metrics_port is not None:
            ingress.append({"ports": [{"protocol": "TCP", "port": metrics_port}],
                            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": GMP_NAMESPACE}}}]})
        # Ingress only: egress stays open for the metadata server, Cloud Storage and the FUSE sidecar.
        self.network_policy = k8s.networking.v1.NetworkPolicy(f"{name}-netpol", metadata=meta(spec.name), spec={
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": spec.name}},
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        }, opts=k8s_opts)

        self.pod_monitoring = None
        if metrics_port is not None:
            self.pod_monitoring = k8s.apiextensions.CustomResource(
                f"{name}-metrics", api_version="monitoring.googleapis.com/v1", kind="PodMonitoring", metadata=meta(spec.name),
                spec={"selector": {"matchLabels": {"app.kubernetes.io/name": spec.name}},
                      "endpoints": [{"port": port_name(spec) if metrics_port == run.port else "metrics",
                                     "path": "/metrics", "interval": "15s"}]},
                opts=k8s_opts)

        self.route = None
        if args.gateway is not None:
            # An HTTPRoute for gRPC too: GKE's Gateway controller implements no GRPCRoute (its
            # conformance run declares HTTPRoute features only; GoogleCloudPlatform/gke-gateway-api#31,
            # open), and a gRPC call is an HTTP/2 POST to /<package>.<Service>/<Method>, which the
            # load balancer routes, splits by weight and balances per call like any request.
            gateway_name, gateway_namespace = args.gateway
            rule: dict = {"backendRefs": [{"name": f"{spec.name}-{track}", "port": SERVICE_PORT, "weight": pct}
                                          for track, pct in weights.items()]}
            if args.path_prefix:
                rule["matches"] = [{"path": {"type": "PathPrefix", "value": args.path_prefix}}]
                rule["filters"] = [{"type": "URLRewrite", "urlRewrite": {
                    "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}]
            parent = {"name": gateway_name, "namespace": gateway_namespace}
            if args.gateway_listener:
                parent["sectionName"] = args.gateway_listener
            route_spec: dict = {"parentRefs": [parent], "rules": [rule]}
            if args.hostnames:
                route_spec["hostnames"] = args.hostnames
            self.route = k8s.apiextensions.CustomResource(
                f"{name}-route", api_version="gateway.networking.k8s.io/v1", kind="HTTPRoute", metadata=meta(spec.name),
                spec=route_spec, opts=self.child(provider=args.provider, depends_on=list(self.services.values())))

        self.namespace = ns
        self.ksa_name = ksa_name
        self.service_names = {track: f"{spec.name}-{track}" for track in weights}
        self.account_email = self.account.email
        self.register_outputs({"namespace": self.namespace, "service_names": self.service_names,
                               "account_email": self.account_email})
