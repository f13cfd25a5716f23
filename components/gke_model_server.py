"""A model server on GKE: its own namespace and identity, autoscaled, with a canary track.

Two ways to ship a model, as on Cloud Run: model-in-image (`image` alone) or model-loading (a
serving `runtime` plus `model.uri` and `model.version`), where the version directory of the
artifact bucket is mounted read-only at `/models/<name>/<version>` by the Cloud Storage FUSE
CSI driver, under the pod's own Google service account (Workload Identity).

Model versioning: the "stable" track always exists; `rollout.canary` adds a "canary" track
(a Deployment, Service and HPA of its own) running the new model version or image. The
HTTPRoute on the shared Gateway splits traffic between the two tracks' Services by weight
(100 - percent / percent). Promote by moving the new version into `model.version` and removing
the canary; roll back with `percent: 0`.

Autoscaling: one HorizontalPodAutoscaler per track, on CPU utilization or on the serving
runtime's own queue metrics, which Managed Service for Prometheus scrapes (PodMonitoring) and
the Custom Metrics Stackdriver Adapter (components/gke_metrics_adapter.py) serves to the HPA.
"""

from __future__ import annotations

import math
from typing import Literal, Optional, Sequence

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
from pydantic import Field

from components import model_runtimes
from components.base import Component
from components.bucket import Bucket
from components.cloud_run_service import CanarySpec, ProbeSpec, canary_issues, probe_issues
from components.model_runtimes import ModelServingSpec, ModelSpec
from components.k8s_workload import (GkeResourcesSpec, PlacementSpec, filesystem, gcs_fuse_volume, label_value,
                                     resources, restricted_security, scheduling, scratch_volumes)
from components.naming import DNS_LABEL, image_tag
from components.service_account import ServiceAccount, ServiceAccountArgs
from components.units import memory_mib
from components.validation import Issue, Spec, first_per_key, one_of, raise_if_any

TRACKS = ("stable", "canary")
SERVICE_PORT = 80
# Google Front End and health-check ranges: where a GKE Gateway's load balancer connects from.
GOOGLE_LB_RANGES = ("35.191.0.0/16", "130.211.0.0/22")
# The namespace of Managed Service for Prometheus' managed collectors.
GMP_NAMESPACE = "gmp-system"

# Gauges the serving runtimes export, as the HPA names them through the Custom Metrics
# Stackdriver Adapter: `prometheus.googleapis.com|<metric>|gauge`. GKE's own tutorials scale
# vLLM on `prometheus.googleapis.com|vllm:num_requests_waiting|gauge`
# (https://docs.cloud.google.com/kubernetes-engine/docs/tutorials/serve-vllm-tpu) and TGI on
# `tgi_queue_size` the same way
# (https://cloud.google.com/kubernetes-engine/docs/how-to/machine-learning/inference/autoscaling).
# vLLM's gauges: https://docs.vllm.ai/en/latest/serving/metrics.html; Triton's pending request
# count ("awaiting execution by a backend"): its metrics guide,
# https://docs.nvidia.com/deeplearning/triton-inference-server/user-guide/docs/user_guide/metrics.html.
SERVER_METRICS: dict[tuple[str, str], str] = {
    ("vllm", "requestsInFlight"): "vllm:num_requests_running",
    ("vllm", "queueDepth"): "vllm:num_requests_waiting",
    ("triton", "queueDepth"): "nv_inference_pending_request_count",
}
DEFAULT_TARGETS = {"cpu": 70, "requestsInFlight": 16, "queueDepth": 5}


def hpa_metric_name(prometheus_metric: str) -> str:
    return f"prometheus.googleapis.com|{prometheus_metric}|gauge"


class GkeScalingSpec(Spec):
    min_replicas: int = Field(1, ge=1, le=1000)
    """Pods kept running, split between the tracks while a canary runs (each at least 1). Defaults to 1."""
    max_replicas: int = Field(5, ge=1, le=1000)
    """Upper bound on pods (a cost control: each GPU pod holds its GPUs), split like minReplicas. Defaults to 5."""
    metric: Literal["cpu", "requestsInFlight", "queueDepth"] = "cpu"
    """What the autoscaler follows: cpu (utilization of the CPU request), requestsInFlight (requests
    the server is processing; vllm) or queueDepth (requests waiting; vllm, triton). Defaults to cpu."""
    target: Optional[int] = Field(None, ge=1, le=100000)
    """The per-pod value to hold. Defaults to 70 (percent) for cpu; 16 requests for requestsInFlight
    (set it near the concurrent batch at which your latency target still holds, well below vLLM's
    --max-num-seqs); 5 waiting requests for queueDepth (a queue that stays above a few requests
    means the pod is saturated)."""
    prometheus_metric: Optional[str] = Field(None, pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    """For a custom runtime with requestsInFlight or queueDepth: the Prometheus gauge your server
    exports on metricsPort. Defaults to the runtime's own metric."""


class GkeProbesSpec(Spec):
    startup: ProbeSpec = ProbeSpec()
    """Gates traffic until the model is loaded. Defaults to the runtime's readiness endpoint (TCP
    when it has none), every 10 s, 30 failures (60 with a GPU)."""
    readiness: Optional[ProbeSpec] = None
    """Takes a pod out of the Service while it cannot serve. Defaults to the runtime's readiness
    endpoint (TCP when it has none), 3 failures."""
    liveness: Optional[ProbeSpec] = None
    """Restarts a stuck container. Defaults to the runtime's liveness endpoint (TCP when it has none), 3 failures."""


class GkeRolloutSpec(Spec):
    canary: Optional[CanarySpec] = None
    """Run a new model version (or image) as a canary track with a share of the Gateway's traffic."""


class GkeServiceSpec(ModelServingSpec):
    """One model server on GKE."""

    platform: Literal["gke"] = "gke"
    """Where it runs: gke (the kubernetes pattern's default)."""
    metrics_port: Optional[int] = Field(None, ge=1, le=65535)
    """Port of the Prometheus /metrics endpoint to scrape. Defaults to the runtime's (triton 8002,
    torchserve 8082, vllm the serving port); tfserving and custom have none unless set."""
    env: dict[str, str] = {}
    """Plain environment variables."""
    resources: GkeResourcesSpec = GkeResourcesSpec()
    """CPU, memory and GPUs per pod (requests equal limits)."""
    scaling: GkeScalingSpec = GkeScalingSpec()
    """Replicas and the metric the autoscaler follows."""
    placement: PlacementSpec = PlacementSpec()
    """Spot or on-demand nodes. Defaults to on-demand only."""
    probes: GkeProbesSpec = GkeProbesSpec()
    """Startup, readiness and liveness checks. Default to the runtime's health endpoints."""
    termination_grace_period_seconds: int = Field(30, ge=0, le=3600)
    """Seconds a pod gets to finish in-flight requests when stopped. Defaults to 30 (a spot
    preemption may cut it short)."""
    read_only_root_filesystem: Optional[bool] = None
    """Mount the container's root filesystem read-only (writable emptyDirs at /tmp and the
    runtime's cache directories). Defaults to true."""
    rollout: GkeRolloutSpec = GkeRolloutSpec()
    """Model versioning: canary rollout."""


def gke_service_issues(spec: GkeServiceSpec) -> list[Issue]:
    """Everything GKE would reject or run badly, checked before planning. Whether a node pool
    offers the GPU type, or a spot pool exists, is checked against the cluster by the caller."""
    issues: list[Issue] = []
    res, gpu = spec.resources, spec.resources.gpu
    preset = model_runtimes.PRESETS.get(spec.runtime or "")

    issues += model_runtimes.shipping_issues(spec.image, spec.runtime, spec.model)
    if preset is not None and preset.needs_gpu and gpu is None:
        issues.append(Issue(("resources", "gpu"), f"runtime {spec.runtime} needs a GPU",
                            fix="add `gpu: {type: nvidia-l4, count: 1}` under resources"))

    if gpu is not None and gpu.count < 1:
        issues.append(Issue(("resources", "gpu", "count"), "must be at least 1", gpu.count,
                            fix="set count to 1 or more, or remove the gpu"))
    try:
        memory_mib(res.memory)
    except ValueError:
        issues.append(Issue(("resources", "memory"), "is not a memory quantity", res.memory,
                            allowed="e.g. 512Mi, 4Gi, 16Gi", fix="write a number with Mi or Gi"))

    scaling = spec.scaling
    if scaling.min_replicas > scaling.max_replicas:
        issues.append(Issue(("scaling", "maxReplicas"), f"is below minReplicas ({scaling.min_replicas})",
                            scaling.max_replicas, fix=f"set maxReplicas to at least {scaling.min_replicas}"))
    if scaling.metric == "cpu":
        if scaling.target is not None and scaling.target > 100:
            issues.append(Issue(("scaling", "target"), "is a CPU utilization percent; limits equal requests, so it never exceeds 100",
                                scaling.target, allowed="1 to 100", fix="set a percent such as 70"))
        if scaling.prometheus_metric is not None:
            issues.append(Issue(("scaling", "prometheusMetric"), "only applies to requestsInFlight or queueDepth",
                                scaling.prometheus_metric, fix="remove it, or set metric to requestsInFlight or queueDepth"))
    else:
        runtime = spec.runtime or "custom"
        exporters = sorted({r for r, m in SERVER_METRICS if m == scaling.metric})
        if runtime == "custom":
            if scaling.prometheus_metric is None:
                issues.append(Issue(("scaling", "prometheusMetric"), f"a custom server scaled on {scaling.metric} must name its gauge",
                                    fix="add `prometheusMetric: <gauge your server exports>`"))
            if spec.metrics_port is None:
                issues.append(Issue(("metricsPort",), f"scaling on {scaling.metric} needs the port your server serves /metrics on",
                                    fix="add `metricsPort: <port>`"))
        elif (runtime, scaling.metric) not in SERVER_METRICS:
            issues.append(Issue(("scaling", "metric"), f"runtime {runtime} exports no {scaling.metric} metric", scaling.metric,
                                allowed=f"cpu; {scaling.metric} with runtime {' or '.join(exporters + ['custom'])}",
                                fix="scale on cpu, or use a runtime that exports it"))
        elif scaling.prometheus_metric is not None:
            issues.append(Issue(("scaling", "prometheusMetric"), f"runtime {runtime} has its own {scaling.metric} metric",
                                scaling.prometheus_metric, fix="remove it (or use runtime custom)"))

    issues += probe_issues(spec.probes, ("startup", "readiness", "liveness"))
    issues += canary_issues(spec.rollout.canary, spec.model, spec.image)
    return first_per_key(issues)


def track_variant(spec: GkeServiceSpec, track: str) -> GkeServiceSpec:
    """The spec as one track runs it: stable, or the canary's version or image."""
    c = spec.rollout.canary
    updates: dict = {"rollout": GkeRolloutSpec()}
    if track == "canary" and c is not None:
        if c.version is not None and spec.model is not None:
            updates["model"] = spec.model.model_copy(update={"version": c.version})
        if c.image is not None:
            updates["image"] = c.image
    return spec.model_copy(update=updates)


def track_weights(spec: GkeServiceSpec) -> dict[str, int]:
    """Traffic percent per track: all to stable, or split by the canary's percent."""
    canary = spec.rollout.canary
    if canary is None:
        return {"stable": 100}
    return {"stable": 100 - canary.percent, "canary": canary.percent}


def track_replicas(spec: GkeServiceSpec) -> dict[str, tuple[int, int]]:
    """(min, max) replicas per track, split roughly by traffic share, each at least 1."""
    weights = track_weights(spec)
    lo, hi = spec.scaling.min_replicas, spec.scaling.max_replicas
    if len(weights) == 1:
        return {"stable": (lo, hi)}
    out = {}
    for track, pct in weights.items():
        mn = max(1, round(lo * pct / 100))
        out[track] = (mn, max(mn, math.ceil(hi * pct / 100)))
    return out


def hpa_metric(spec: GkeServiceSpec) -> dict:
    """The HPA's one metric: CPU utilization, or the runtime's gauge averaged per pod."""
    scaling = spec.scaling
    target = scaling.target or DEFAULT_TARGETS[scaling.metric]
    if scaling.metric == "cpu":
        return {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}}
    gauge = scaling.prometheus_metric or SERVER_METRICS[(spec.runtime or "custom", scaling.metric)]
    return {"type": "Pods", "pods": {"metric": {"name": hpa_metric_name(gauge)},
                                     "target": {"type": "AverageValue", "averageValue": str(target)}}}


def model_name_of(spec: GkeServiceSpec) -> str:
    return spec.model.uri.rstrip("/").rsplit("/", 1)[-1] if spec.model else spec.name


def version_of(spec: GkeServiceSpec) -> str:
    return spec.model.version if spec.model is not None else image_tag(spec.image or "")


def launch_of(spec: GkeServiceSpec) -> model_runtimes.Launch:
    return model_runtimes.launch(spec.runtime, image=spec.image, gpu=spec.resources.gpu is not None,
                                 model_name=model_name_of(spec), version=spec.model.version if spec.model else None,
                                 port=spec.port, args=spec.args, command=spec.command)


def metrics_port_of(spec: GkeServiceSpec) -> Optional[int]:
    """The /metrics port: the spec's, else the runtime's (vLLM serves metrics on its serving port)."""
    if spec.metrics_port is not None:
        return spec.metrics_port
    preset = model_runtimes.PRESETS.get(spec.runtime or "")
    if preset is None or preset.metrics_port is None:
        return None
    return launch_of(spec).port if preset.metrics_port == preset.port else preset.metrics_port


def labels(spec: GkeServiceSpec, track: Optional[str] = None) -> dict[str, str]:
    out = {"app.kubernetes.io/name": spec.name, "app.kubernetes.io/part-of": "mlinfra",
           "app.kubernetes.io/component": "model-server"}
    if track is not None:
        out["mlinfra.dev/track"] = track
    return out


def selector(spec: GkeServiceSpec, track: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": spec.name, "mlinfra.dev/track": track}


def _probe(probe: ProbeSpec, path: Optional[str], failures: int) -> dict:
    check = {"httpGet": {"path": path, "port": "http"}} if path else {"tcpSocket": {"port": "http"}}
    return {**check, "initialDelaySeconds": probe.initial_delay_seconds, "periodSeconds": probe.period_seconds,
            "timeoutSeconds": probe.timeout_seconds, "failureThreshold": probe.failure_threshold or failures}


def pod_template(spec: GkeServiceSpec, track: str, *, service_account: pulumi.Input[str],
                 model_bucket: Optional[pulumi.Input[str]], environment: str) -> dict:
    """The Deployment's pod template for one track (`spec` already the track's variant)."""
    run = launch_of(spec)
    gpu = spec.resources.gpu
    fs = filesystem(spec.runtime)
    read_only = spec.read_only_root_filesystem if spec.read_only_root_filesystem is not None else fs.read_only_root
    pod_security, container_security = restricted_security(read_only)
    volumes, mounts, env = scratch_volumes(fs)
    annotations: dict[str, str] = {}
    if spec.model is not None:
        bucket_path = spec.model.uri[len("gs://"):].split("/", 1)
        prefix = bucket_path[1].strip("/") if len(bucket_path) > 1 else ""
        mount = model_runtimes.model_dir(model_name_of(spec), spec.model.version)
        volume, annotations = gcs_fuse_volume(model_bucket, "/".join(p for p in (prefix, spec.model.version) if p))
        volumes.insert(0, volume)
        mounts.insert(0, {"name": "model", "mountPath": mount, "readOnly": True})
        env += [{"name": "MODEL_NAME", "value": model_name_of(spec)},
                {"name": "MODEL_VERSION", "value": spec.model.version}, {"name": "MODEL_DIR", "value": mount}]
    # The spec's variables win over the ones mlinfra sets.
    env = [{"name": k, "value": v} for k, v in sorted(spec.env.items())] + [e for e in env if e["name"] not in spec.env]

    ports = [{"name": "http", "containerPort": run.port, "protocol": "TCP"}]
    metrics_port = metrics_port_of(spec)
    if metrics_port is not None and metrics_port != run.port:
        ports.append({"name": "metrics", "containerPort": metrics_port, "protocol": "TCP"})

    startup_failures = 60 if gpu is not None else 30
    container = {
        "name": "server",
        "image": run.image,
        **({"command": run.command} if run.command else {}),
        **({"args": run.args} if run.args else {}),
        "ports": ports,
        "env": env,
        "resources": resources(spec.resources),
        "volumeMounts": mounts,
        "securityContext": container_security,
        "startupProbe": _probe(spec.probes.startup, spec.probes.startup.path or run.ready_path, startup_failures),
        "readinessProbe": _probe(spec.probes.readiness or ProbeSpec(),
                                 (spec.probes.readiness.path if spec.probes.readiness else None) or run.ready_path, 3),
        "livenessProbe": _probe(spec.probes.liveness or ProbeSpec(),
                                (spec.probes.liveness.path if spec.probes.liveness else None) or run.live_path, 3),
    }
    metadata: dict = {"labels": {**labels(spec, track), "mlinfra.dev/environment": label_value(environment),
                                 "mlinfra.dev/model-version": label_value(version_of(spec)) or "unknown"}}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "metadata": metadata,
        "spec": {
            "serviceAccountName": service_account,
            # Workload Identity and the FUSE driver get their tokens without the pod's API token.
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": spec.termination_grace_period_seconds,
            "securityContext": pod_security,
            **scheduling(spec.placement, gpu),
            # Replicas spread over zones and nodes (best effort), so one zone's spot reclaim or a
            # node drain takes only part of a server down.
            "topologySpreadConstraints": [
                {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway",
                 "labelSelector": {"matchLabels": selector(spec, track)}}
                for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")],
            "containers": [container],
            "volumes": volumes,
        },
    }


class GkeModelServerArgs:
    def __init__(self, spec: GkeServiceSpec, *, project: str, namespace: str, provider: pulumi.ProviderResource,
                 workload_pool: pulumi.Input[str], environment: str, model_bucket: Optional[Bucket] = None,
                 gateway: Optional[tuple[str, str]] = None, hostnames: Sequence[str] = (),
                 path_prefix: Optional[str] = None, lb_source_ranges: Sequence[str] = GOOGLE_LB_RANGES):
        """`namespace` is created by the component (one per model server); `provider` is the
        cluster's Kubernetes provider; `workload_pool` is the cluster's Workload Identity pool
        (`<project>.svc.id.goog`, taken from the cluster so the binding waits for it);
        `model_bucket` is the artifact bucket the model is mounted from (model-loading);
        `gateway` is `(name, namespace)` of the Gateway the HTTPRoute attaches to, with optional
        `hostnames` or a `path_prefix` (stripped before the request reaches the server) to share
        it; `lb_source_ranges` are where that Gateway's proxies connect from (add the proxy-only
        subnet for a regional Gateway)."""
        self.spec = spec
        self.project = project
        self.namespace = namespace
        self.provider = provider
        self.workload_pool = workload_pool
        self.environment = environment
        self.model_bucket = model_bucket
        self.gateway = gateway
        self.hostnames = list(hostnames)
        self.path_prefix = path_prefix
        self.lb_source_ranges = list(lb_source_ranges)


class GkeModelServer(Component):
    """Outputs: namespace, service_names (per track), account_email, ksa_name."""

    def __init__(self, name: str, args: GkeModelServerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("mlinfra:k8s:ModelServer", name, opts)
        spec = args.spec
        issues = gke_service_issues(spec)
        if spec.model is not None and args.model_bucket is None:
            issues.append(Issue(("model",), "needs the artifact bucket to mount", fix="pass model_bucket"))
        if args.path_prefix is not None and not args.path_prefix.startswith("/"):
            issues.append(Issue(("pathPrefix",), "must start with /", args.path_prefix, fix=f"use /{args.path_prefix}"))
        raise_if_any(f"GkeModelServer {name}", issues)
        ksa_name = spec.name

        # Google identity: reads the model bucket and nothing else.
        self.account = ServiceAccount(f"{name}-sa", ServiceAccountArgs(
            display_name=f"mlinfra model server {spec.name} (GKE)", project=args.project), opts=self.child())
        grants: list[pulumi.Resource] = []
        if spec.model is not None:
            grants.append(args.model_bucket.grant_read(self.account))
        # The member names the cluster's pool, so the binding waits for the cluster: IAM rejects
        # a pool that does not exist yet.
        grants.append(gcp.serviceaccount.IAMMember(
            f"{name}-wi", service_account_id=self.account.account.name, role="roles/iam.workloadIdentityUser",
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

        replicas = track_replicas(spec)
        weights = track_weights(spec)
        run = launch_of(spec)
        bucket_name = args.model_bucket.bucket_name if args.model_bucket is not None else None
        self.deployments, self.services, self.autoscalers, self.budgets, self.health_checks = {}, {}, {}, {}, {}
        for track in weights:
            object_name = f"{spec.name}-{track}"
            variant = track_variant(spec, track)
            # No `replicas`: the HPA owns the count, and a declared count would be reset on every update.
            self.deployments[track] = k8s.apps.v1.Deployment(f"{name}-{track}", metadata=meta(object_name, track), spec={
                "selector": {"matchLabels": selector(spec, track)},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": pod_template(variant, track, service_account=self.ksa.metadata.name,
                                         model_bucket=bucket_name, environment=args.environment),
            }, opts=self.child(provider=args.provider, depends_on=grants,
                               # A new GPU node and a model load can take longer than the 10 min default.
                               custom_timeouts=pulumi.CustomTimeouts(create="30m", update="30m")))
            self.services[track] = k8s.core.v1.Service(f"{name}-{track}-svc", metadata=meta(object_name, track), spec={
                "type": "ClusterIP",
                "selector": selector(spec, track),
                "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}],
            }, opts=k8s_opts)
            low, high = replicas[track]
            self.autoscalers[track] = k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-{track}-hpa", metadata=meta(object_name, track), spec={
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": object_name},
                    "minReplicas": low, "maxReplicas": high, "metrics": [hpa_metric(variant)],
                }, opts=self.child(provider=args.provider, depends_on=[self.deployments[track]]))
            budget = {"maxUnavailable": 1} if low >= 2 else {"minAvailable": 1}
            self.budgets[track] = k8s.policy.v1.PodDisruptionBudget(f"{name}-{track}-pdb", metadata=meta(object_name, track), spec={
                **budget, "selector": {"matchLabels": selector(spec, track)},
                # A crash-looping pod must not block node drains and upgrades.
                "unhealthyPodEvictionPolicy": "AlwaysAllow",
            }, opts=k8s_opts)
            if args.gateway is not None:
                # GKE's load balancer otherwise health-checks `/`, which model servers answer with 404.
                check = ({"type": "HTTP", "httpHealthCheck": {"port": run.port, "requestPath": run.ready_path}}
                         if run.ready_path else {"type": "TCP", "tcpHealthCheck": {"port": run.port}})
                self.health_checks[track] = k8s.apiextensions.CustomResource(
                    f"{name}-{track}-hc", api_version="networking.gke.io/v1", kind="HealthCheckPolicy",
                    metadata=meta(object_name, track),
                    spec={"default": {"config": check},
                          "targetRef": {"group": "", "kind": "Service", "name": object_name}},
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
                      "endpoints": [{"port": "http" if metrics_port == run.port else "metrics",
                                     "path": "/metrics", "interval": "15s"}]},
                opts=k8s_opts)

        self.route = None
        if args.gateway is not None:
            gateway_name, gateway_namespace = args.gateway
            rule: dict = {"backendRefs": [{"name": f"{spec.name}-{track}", "port": SERVICE_PORT, "weight": pct}
                                          for track, pct in weights.items()]}
            if args.path_prefix:
                rule["matches"] = [{"path": {"type": "PathPrefix", "value": args.path_prefix}}]
                rule["filters"] = [{"type": "URLRewrite", "urlRewrite": {
                    "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}]
            route_spec: dict = {"parentRefs": [{"name": gateway_name, "namespace": gateway_namespace}], "rules": [rule]}
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
