"""A model server on any Kubernetes cluster: the spec, its rules and the per-track objects.

The "stable" track always exists; `rollout.canary` adds a "canary" track (a Deployment,
Service and HPA of its own) running the new model version or image, and the route splits
traffic between the two tracks' Services by weight (100 - percent / percent). Plain functions
return the objects' specs as Kubernetes API dicts; a platform's component (GKE's
`GkeModelServer`) creates them with its identity, model mount and ingress.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Literal, Optional, Union

from pydantic import Field, StrictFloat, StrictInt

from components.core.issues import Issue, first_per_key
from components.core.spec import Context, Spec
from components.core.units import memory_mib
from components.kubernetes.pods import (NodeScheme, PlacementSpec, PodResourcesSpec, filesystem, label_value,
                                        resources, restricted_security, scheduling, scratch_volumes,
                                        with_secret_files)
from components.kubernetes import grpc_serving
from components.serving import cache_wiring, runtimes
from components.serving.model_serving_spec import CanarySpec, ModelServingSpec, ProbeSpec

TRACKS = ("stable", "canary")
SERVICE_PORT = 80

# Gauges the serving runtimes export (Prometheus names); a platform says how its metrics
# adapter names them to the HPA (GKE: `prometheus.googleapis.com|<metric>|gauge`). GKE's own tutorials scale
# vLLM on `prometheus.googleapis.com|vllm:num_requests_waiting|gauge`
# (https://docs.cloud.google.com/kubernetes-engine/docs/tutorials/serve-vllm-tpu) and TGI on
# `tgi_queue_size` the same way
# (https://cloud.google.com/kubernetes-engine/docs/how-to/machine-learning/inference/autoscaling).
# vLLM's gauges: https://docs.vllm.ai/en/latest/serving/metrics.html; Triton's pending request
# count ("awaiting execution by a backend"): its metrics guide,
# https://docs.nvidia.com/deeplearning/triton-inference-server/user-guide/docs/user_guide/metrics.html.
# vLLM's KV-cache usage (a 0..1 gauge, "1 means 100 percent usage") is `vllm:gpu_cache_usage_perc`
# in the pinned v0.8.5; vLLM 0.9 added `vllm:kv_cache_usage_perc` and deprecated the old name
# (vllm/v1/metrics/loggers.py: "Deprecated in 0.9 - Renamed as vllm:kv_cache_usage_perc"), so a
# newer vLLM image names the new gauge with `prometheusMetric`.
SERVER_METRICS: dict[tuple[str, str], str] = {
    ("vllm", "requestsInFlight"): "vllm:num_requests_running",
    ("vllm", "queueDepth"): "vllm:num_requests_waiting",
    ("vllm", "kvCacheUsage"): "vllm:gpu_cache_usage_perc",
    ("triton", "queueDepth"): "nv_inference_pending_request_count",
}
DEFAULT_TARGETS: dict[str, Union[int, float]] = {"cpu": 70, "requestsInFlight": 16, "queueDepth": 5, "kvCacheUsage": 0.8}
RATIO_METRICS = ("kvCacheUsage",)
"""Metrics that are a fraction 0..1: their target is a ratio, written to the HPA in milli-units."""
COUNT_MAX = 100000


class PodScalingSpec(Spec):
    min_replicas: int = Field(1, ge=1, le=1000)
    """Pods kept running, split between the tracks while a canary runs (each at least 1). Defaults to 1."""
    max_replicas: int = Field(5, ge=1, le=1000)
    """Upper bound on pods (a cost control: each GPU pod holds its GPUs), split like minReplicas. Defaults to 5."""
    metric: Literal["cpu", "requestsInFlight", "queueDepth", "kvCacheUsage"] = "cpu"
    """What the autoscaler follows: cpu (utilization of the CPU request), requestsInFlight (requests
    the server is processing; vllm), queueDepth (requests waiting; vllm, triton) or kvCacheUsage
    (the fraction of vLLM's KV cache in use, 0 to 1; vllm). Defaults to cpu."""
    target: Optional[Union[StrictInt, StrictFloat]] = None
    """The per-pod value to hold: a whole percent 1 to 100 for cpu, a whole number of requests for
    requestsInFlight and queueDepth, a fraction above 0 and at most 1 (three decimals at most) for
    kvCacheUsage. Defaults to 70 (percent) for cpu; 16 requests for requestsInFlight (set it near
    the concurrent batch at which your latency target still holds, well below vLLM's
    --max-num-seqs); 5 waiting requests for queueDepth (a queue that stays above a few requests
    means the pod is saturated); 0.8 for kvCacheUsage (a cache near full preempts requests)."""
    prometheus_metric: Optional[str] = Field(None, pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    """For a custom runtime scaled on a server metric: the Prometheus gauge your server exports on
    metricsPort; for a runtime whose `image` you replaced, the gauge that image exports instead of
    the preset's (e.g. vllm:kv_cache_usage_perc from vLLM 0.9 on). Defaults to the runtime's own metric."""


class PodProbesSpec(Spec):
    startup: ProbeSpec = ProbeSpec()
    """Gates traffic until the model is loaded. Defaults to the runtime's readiness endpoint (TCP
    when it has none), every 10 s, 30 failures (60 with a GPU)."""
    readiness: Optional[ProbeSpec] = None
    """Takes a pod out of the Service while it cannot serve. Defaults to the runtime's readiness
    endpoint (TCP when it has none), 3 failures."""
    liveness: Optional[ProbeSpec] = None
    """Restarts a stuck container. Defaults to the runtime's liveness endpoint (TCP when it has none), 3 failures."""


class TrackRolloutSpec(Spec):
    canary: Optional[CanarySpec] = None
    """Run a new model version (or image) as a canary track with a share of the Gateway's traffic."""


class KubernetesServingSpec(ModelServingSpec):
    """One model server on a Kubernetes cluster (a platform spec adds `platform`)."""

    metrics_port: Optional[int] = Field(None, ge=1, le=65535)
    """Port of the Prometheus /metrics endpoint to scrape. Defaults to the runtime's (triton 8002,
    torchserve 8082, vllm the serving port); tfserving and custom have none unless set."""
    env: dict[str, str] = {}
    """Plain environment variables."""
    resources: PodResourcesSpec = PodResourcesSpec()
    """CPU, memory and GPUs per pod (requests equal limits)."""
    scaling: PodScalingSpec = PodScalingSpec()
    """Replicas and the metric the autoscaler follows."""
    placement: PlacementSpec = PlacementSpec()
    """Spot or on-demand nodes. Defaults to on-demand only."""
    probes: PodProbesSpec = PodProbesSpec()
    """Startup, readiness and liveness checks. Default to the runtime's health endpoints."""
    termination_grace_period_seconds: int = Field(30, ge=0, le=3600)
    """Seconds a pod gets to finish in-flight requests when stopped. Defaults to 30 (a spot
    preemption may cut it short)."""
    read_only_root_filesystem: Optional[bool] = None
    """Mount the container's root filesystem read-only (writable emptyDirs at /tmp and the
    runtime's cache directories). Defaults to true."""
    rollout: TrackRolloutSpec = TrackRolloutSpec()
    """Model versioning: canary rollout."""

    def issues(self, ctx: Context) -> list[Issue]:
        """Everything Kubernetes would reject or run badly, checked before planning. Whether a node
        pool offers the GPU type, or a spot pool exists, is checked against the cluster by the pattern."""
        spec = self
        issues: list[Issue] = []
        res, gpu = spec.resources, spec.resources.gpu
        preset = runtimes.PRESETS.get(spec.runtime or "")

        issues += spec.shipping_issues()
        issues += grpc_serving.probe_issues(spec)
        if preset is not None and preset.needs_gpu and gpu is None:
            issues.append(Issue(("resources", "gpu"), f"runtime {spec.runtime} needs a GPU",
                                fix="add `gpu: {type: nvidia-l4, count: 1}` under resources"))

        if gpu is not None and gpu.count < 1:
            issues.append(Issue(("resources", "gpu", "count"), "must be at least 1", gpu.count,
                                fix="set count to 1 or more, or remove the gpu"))
        if spec.runtime == "vllm" and gpu is not None and "memory" not in res.model_fields_set:
            issues.append(Issue(("resources", "memory"), f"a vLLM server on {gpu.count} GPU(s) cannot run in the default "
                                f"{res.memory}: it loads the weights through host memory and its /dev/shm (a quarter of the memory) "
                                "counts against the limit, so the pod is OOM-killed and its Deployment never becomes ready",
                                res.memory, allowed="a size for your model, typically 4 CPUs and 16Gi per GPU",
                                fix=f"set resources.cpu and resources.memory, e.g. {{cpu: {3 * gpu.count}, memory: "
                                    f"{12 * gpu.count}Gi}} (within the node's allocatable)"))
        try:
            memory_mib(res.memory)
        except ValueError:
            issues.append(Issue(("resources", "memory"), "is not a memory quantity", res.memory,
                                allowed="e.g. 512Mi, 4Gi, 16Gi", fix="write a number with Mi or Gi"))

        scaling = spec.scaling
        if scaling.min_replicas > scaling.max_replicas:
            issues.append(Issue(("scaling", "maxReplicas"), f"is below minReplicas ({scaling.min_replicas})",
                                scaling.max_replicas, fix=f"set maxReplicas to at least {scaling.min_replicas}"))
        issues += target_issues(scaling)
        if scaling.metric == "cpu":
            if scaling.prometheus_metric is not None:
                issues.append(Issue(("scaling", "prometheusMetric"), "only applies to a server metric", scaling.prometheus_metric,
                                    fix="remove it, or set metric to requestsInFlight, queueDepth or kvCacheUsage"))
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
            elif scaling.prometheus_metric is not None and spec.image is None:
                issues.append(Issue(("scaling", "prometheusMetric"), f"runtime {runtime} has its own {scaling.metric} metric "
                                    f"({SERVER_METRICS[(runtime, scaling.metric)]}) in the preset's image",
                                    scaling.prometheus_metric, fix="remove it (or use runtime custom, or your own `image:`)"))

        if spec.cache:
            issues += [Issue(("env", name), "is set by mlinfra for the cache (`cache: true`)", name,
                             allowed=f"any name but {', '.join(cache_wiring.ENV_NAMES)}", fix="rename or remove it")
                       for name in spec.env if name in cache_wiring.ENV_NAMES]
        issues += spec.canary_issues(spec.rollout.canary)
        return first_per_key(issues)


def target_issues(scaling: PodScalingSpec) -> list[Issue]:
    """A target fits its metric: whole percents and request counts, a fraction for a ratio."""
    t, metric, key = scaling.target, scaling.metric, ("scaling", "target")
    if t is None:
        return []
    if metric in RATIO_METRICS:
        if not 0 < t <= 1:
            return [Issue(key, f"is a fraction for {metric} (1 means a full cache)", t, allowed="above 0, at most 1",
                          fix="set a fraction such as 0.8")]
        if abs(t * 1000 - round(t * 1000)) > 1e-9:
            return [Issue(key, "has more than three decimals (the HPA's quantity is in thousandths)", t,
                          allowed="e.g. 0.8 or 0.875", fix=f"round it to {round(t, 3)}")]
        return []
    top, what = (100, "a CPU utilization percent; limits equal requests, so it never exceeds 100") if metric == "cpu" \
        else (COUNT_MAX, f"a number of requests per pod for {metric}")
    if isinstance(t, float) or not 1 <= t <= top:
        return [Issue(key, f"is {what}: a whole number", t, allowed=f"1 to {top}",
                      fix="set a percent such as 70" if metric == "cpu" else f"set a whole number such as {DEFAULT_TARGETS[metric]}")]
    return []


def quantity(value: Union[int, float]) -> str:
    """A Kubernetes quantity in its canonical form (what the API server stores, so no diff): whole
    numbers as they are, fractions in milli-units (0.8 -> 800m)."""
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{round(value * 1000)}m"


def track_weights(spec: KubernetesServingSpec) -> dict[str, int]:
    """Traffic percent per track: all to stable, or split by the canary's percent."""
    canary = spec.rollout.canary
    if canary is None:
        return {"stable": 100}
    return {"stable": 100 - canary.percent, "canary": canary.percent}


def track_replicas(spec: KubernetesServingSpec) -> dict[str, tuple[int, int]]:
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


def hpa_metric(spec: KubernetesServingSpec, metric_name: Callable[[str], str]) -> dict:
    """The HPA's one metric: CPU utilization, or the runtime's gauge averaged per pod, named as
    the platform's metrics adapter serves it (`metric_name`)."""
    scaling = spec.scaling
    target = scaling.target if scaling.target is not None else DEFAULT_TARGETS[scaling.metric]
    if scaling.metric == "cpu":
        return {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}}
    gauge = scaling.prometheus_metric or SERVER_METRICS[(spec.runtime or "custom", scaling.metric)]
    return {"type": "Pods", "pods": {"metric": {"name": metric_name(gauge)},
                                     "target": {"type": "AverageValue", "averageValue": quantity(target)}}}


def metrics_port_of(spec: KubernetesServingSpec) -> Optional[int]:
    """The /metrics port: the spec's, else the runtime's (vLLM serves metrics on its serving port)."""
    if spec.metrics_port is not None:
        return spec.metrics_port
    preset = runtimes.PRESETS.get(spec.runtime or "")
    if preset is None or preset.metrics_port is None:
        return None
    return spec.launch(gpu=spec.resources.gpu is not None).port if preset.metrics_port == preset.port else preset.metrics_port


def labels(spec: KubernetesServingSpec, track: Optional[str] = None) -> dict[str, str]:
    out = {"app.kubernetes.io/name": spec.name, "app.kubernetes.io/part-of": "mlinfra",
           "app.kubernetes.io/component": "model-server"}
    if track is not None:
        out["mlinfra.dev/track"] = track
    return out


def selector(spec: KubernetesServingSpec, track: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": spec.name, "mlinfra.dev/track": track}


def _probe(spec: KubernetesServingSpec, port: int, probe: ProbeSpec, path: Optional[str], failures: int) -> dict:
    check = grpc_serving.probe_check(spec, port, path)
    return {**check, "initialDelaySeconds": probe.initial_delay_seconds, "periodSeconds": probe.period_seconds,
            "timeoutSeconds": probe.timeout_seconds, "failureThreshold": probe.failure_threshold or failures}


def pod_template(spec: KubernetesServingSpec, track: str, *, service_account: Any, environment: str,
                 nodes: NodeScheme, model_volume: Optional[tuple[dict, dict]] = None,
                 cache_secret: Optional[tuple[str, bool]] = None, secrets_volume: Optional[dict] = None,
                 extra_env: Optional[dict[str, str]] = None) -> dict:
    """The Deployment's pod template for one track (`spec` already the track's variant).

    `model_volume` is `(volume, pod annotations)` of the platform's mount of the model version
    (GKE: the Cloud Storage FUSE CSI driver), mounted read-only at the runtime's model directory.
    `cache_secret` is `(Secret name, TLS)` of the stack's cache: its address and CA reach the
    container, and a runtime with its own response cache (Triton) is pointed at it.
    `secrets_volume` is the platform's volume of secret files, exported as environment
    variables (`pods.with_secret_files`). `extra_env` are the platform's variables of this track
    (GKE's request log), names the spec's rules keep out of `env`."""
    run = spec.launch(gpu=spec.resources.gpu is not None)
    gpu = spec.resources.gpu
    fs = filesystem(spec.runtime)
    read_only = spec.read_only_root_filesystem if spec.read_only_root_filesystem is not None else fs.read_only_root
    pod_security, container_security = restricted_security(read_only)
    volumes, mounts, env = scratch_volumes(fs, spec.resources.memory)
    annotations: dict[str, str] = {}
    if spec.model is not None and spec.model.is_hf:
        # The runtime downloads the model into its cache directory: size it for the model.
        volumes = [{**v, "emptyDir": {**v["emptyDir"], "sizeLimit": spec.model.download_size}}
                   if v["name"] == "cache" else v for v in volumes]
    if spec.model is not None and model_volume is not None:
        mount = runtimes.model_dir(spec.model_name, spec.model.version)
        volume, annotations = model_volume
        volumes.insert(0, volume)
        mounts.insert(0, {"name": volume["name"], "mountPath": mount, "readOnly": True})
        env += [{"name": "MODEL_NAME", "value": spec.model_name},
                {"name": "MODEL_VERSION", "value": spec.model.version}, {"name": "MODEL_DIR", "value": mount}]
    # The spec's variables win over the ones mlinfra sets.
    env = [{"name": k, "value": v} for k, v in sorted(spec.env.items())] + [e for e in env if e["name"] not in spec.env]
    env += [{"name": k, "value": v} for k, v in (extra_env or {}).items()]
    args = list(run.args)
    if cache_secret is not None:
        secret, tls = cache_secret
        env += cache_wiring.config_env(tls, secret)
        cache_volumes, cache_mounts = cache_wiring.config_volume(tls, secret)
        volumes, mounts = volumes + cache_volumes, mounts + cache_mounts
        if spec.args is None:  # with `args` the whole argument list is the spec's own
            args += runtimes.cache_args(spec.runtime, tls, cache_wiring.CA_FILE)

    ports = [{"name": grpc_serving.port_name(spec), "containerPort": run.port, "protocol": "TCP"}]
    metrics_port = metrics_port_of(spec)
    if metrics_port is not None and metrics_port != run.port:
        ports.append({"name": "metrics", "containerPort": metrics_port, "protocol": "TCP"})

    startup_failures = 60 if gpu is not None else 30
    container = {
        "name": "server",
        "image": run.image,
        **({"command": run.command} if run.command else {}),
        **({"args": args} if args else {}),
        "ports": ports,
        "env": env,
        "resources": resources(spec.resources),
        "volumeMounts": mounts,
        "securityContext": container_security,
        "startupProbe": _probe(spec, run.port, spec.probes.startup, spec.probes.startup.path or run.ready_path,
                               startup_failures),
        "readinessProbe": _probe(spec, run.port, spec.probes.readiness or ProbeSpec(),
                                 (spec.probes.readiness.path if spec.probes.readiness else None) or run.ready_path, 3),
        "livenessProbe": _probe(spec, run.port, spec.probes.liveness or ProbeSpec(),
                                (spec.probes.liveness.path if spec.probes.liveness else None) or run.live_path, 3),
    }
    with_secret_files(container, volumes, secrets_volume)
    metadata: dict = {"labels": {**labels(spec, track), "mlinfra.dev/environment": label_value(environment),
                                 "mlinfra.dev/model-version": label_value(spec.version) or "unknown"}}
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
            **scheduling(spec.placement, gpu, nodes),
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
