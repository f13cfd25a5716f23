"""Builds a service with `platform: gke` inside a pattern that has a cluster: a GKE model server
in its own namespace, routed at `/<service>/` on the stack's Gateway (a gRPC server: every call
on the Gateway's hostname that no HTTP server's prefix takes), and with `logging` its request
log and drift job (shared with Cloud Run, infra/patterns/request_logging.py)."""

from __future__ import annotations

import pulumi

from components.core.naming import dns_name
from components.gcp.gke.gke_model_server import GkeModelServer, GkeModelServerArgs
from components.gcp.gke.gke_service_spec import GkeServiceSpec, objectives_refusal
from components.gcp.network.network_spec import GOOGLE_LB_RANGES
from infra.patterns.cache import connection


def namespace(spec: GkeServiceSpec) -> str:
    """The namespace a server's component creates for it."""
    return dns_name("ml", spec.name)


def log_name(spec: GkeServiceSpec, stack: str) -> str:
    """What a logging server's topic and dataset are named after: `<name>-<stack>`, as a Cloud Run
    service's (both are per project, which several stacks may share)."""
    return dns_name(spec.name, stack, max_len=40)


def build(pattern, spec: GkeServiceSpec) -> GkeModelServer:
    args = pattern.args
    server = GkeModelServer(f"{pattern.name}-svc-{spec.name}", GkeModelServerArgs(
        spec=spec, project=args.project, namespace=namespace(spec), provider=pattern.cluster.provider,
        model_bucket=pattern.model_bucket(spec), workload_pool=pattern.cluster.workload_pool,
        gateway=pattern.gateway_ref, environment=args.environment,
        # gRPC calls carry their method as the path: a gRPC server takes the hostname's calls unprefixed.
        path_prefix=None if spec.protocol == "grpc" else f"/{spec.name}",
        **exposure(pattern.gateway),
        # The Gateway's proxies connect from Google's ranges and, for a regional Gateway, the proxy-only subnet.
        lb_source_ranges=GOOGLE_LB_RANGES + (args.network.proxy_only_cidr,),
        cache=connection(pattern) if spec.cache else None,
        log_name=log_name(spec, args.stack) if spec.logging else None), opts=pattern.on_cluster)
    if spec.logging is not None:
        from infra.patterns.request_logging import build_request_log  # only stacks that log requests

        build_request_log(pattern, spec, server, log_name(spec, args.stack))
    return server


def exposure(gateway) -> dict:
    """What the stack's Gateway asks of each server: its hostname and listener, Cloud Armor, IAP."""
    if gateway is None:
        return {}
    return {"hostnames": [gateway.hostname] if gateway.hostname else [],
            "gateway_listener": gateway.listener if gateway.hostname else None,
            "security_policy": gateway.security_policy, "iap": gateway.iap}


# Each GKE Gateway class's load balancer: its request and latency metrics and their resource type.
LB_METRICS = {
    "gke-l7-rilb": ("loadbalancing.googleapis.com/https/internal", "internal_http_lb_rule"),
    "gke-l7-regional-external-managed": ("loadbalancing.googleapis.com/https/external/regional",
                                         "http_external_regional_lb_rule"),
    "gke-l7-global-external-managed": ("loadbalancing.googleapis.com/https", "https_lb_rule"),
}


def monitor(pattern, spec: GkeServiceSpec, server: GkeModelServer, slo, channels):
    """Objectives from the stack's Gateway (the Application Load Balancer of its class): the
    requests its URL map routes by the server's path rule, every track together. A gRPC server's
    route has no path rule and its errors are grpc-status trailers on HTTP 200: its availability
    comes from its runtime's success and failure counters, scraped from every track's pods by the
    server's PodMonitoring (Managed Service for Prometheus, on the cluster, in its namespace)."""
    from components.gcp.monitoring.metrics import SERVER_REQUEST_COUNTERS
    from components.gcp.monitoring.service_slo import Series, ServiceSlo, ServiceSloArgs  # only stacks with objectives

    runbook = (f"Check the Deployments in namespace {namespace(spec)} (`kubectl get pods`), the HPA's replicas "
               "against maxReplicas, and the canary track's weight.")
    if spec.protocol == "grpc":
        good, bad = SERVER_REQUEST_COUNTERS[spec.runtime]
        where = pulumi.Output.concat('resource.type="prometheus_target" resource.label."cluster"="',
                                     pattern.cluster.cluster_name, f'" resource.label."namespace"="{namespace(spec)}"')
        series = {"good": Series(good, where), "errors": Series(bad, where)}
        runbook += " The server's own failure counter by `reason` (its /metrics) tells rejected from failed calls."
    else:
        gateway = getattr(pattern, "gateway", None)
        prefix, resource = LB_METRICS[gateway.gateway_class if gateway is not None else "gke-l7-rilb"]
        rule = f'resource.type="{resource}" resource.label."matched_url_path_rule"="/{spec.name}"'
        series = {"requests": Series(f"{prefix}/request_count", rule),
                  "errors": Series(f"{prefix}/request_count", f'{rule} metric.label."response_code_class"=500'),
                  "latency": Series(f"{prefix}/total_latencies", rule)}
    return ServiceSlo(f"{pattern.name}-slo-{spec.name}", ServiceSloArgs(
        service=spec.name, slo=slo, project=pattern.args.project, **series,
        channels=channels, **pattern.rollback_alerting(spec), runbook=runbook), opts=pattern.after_apis)


def watch_gpus(pattern, spec: GkeServiceSpec, server: GkeModelServer):
    """Idle and memory alerts on a GPU server's GPUs: in prod always, in dev with `gpuAlerts`."""
    from components.gcp.monitoring.gpu_alerts import GpuAlerts, GpuAlertsArgs
    from components.serving.gpu_alerts_spec import GpuAlertsSpec

    alerts = spec.gpu_alerts or (GpuAlertsSpec() if pattern.args.prod else None)
    if spec.resources.gpu is None or alerts is None:
        return None
    return GpuAlerts(f"{pattern.name}-gpu-{spec.name}", GpuAlertsArgs(
        service=spec.name, namespace=namespace(spec), cluster_name=pattern.cluster.cluster_name,
        project=pattern.args.project, spec=alerts, runtime=spec.runtime, channels=pattern.alert_channels()),
        opts=pattern.after_apis)


def charts(pattern, spec: GkeServiceSpec, cluster: str) -> list:
    """The server's dashboard charts: at the Gateway by its path rule (a gRPC server: from its
    runtime's request counters, where objectives come from too, or without them its pods' CPU and
    memory), its replicas, its GPUs."""
    from components.gcp.monitoring.dashboard_layout import gke_charts

    grpc = spec.protocol == "grpc"
    return gke_charts(spec.name, namespace(spec), cluster, gpu=spec.resources.gpu is not None, grpc=grpc,
                      counters=spec.runtime if grpc and objectives_refusal(spec) is None else None)
