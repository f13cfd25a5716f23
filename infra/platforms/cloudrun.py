"""Builds a service with `platform: cloudrun` inside a pattern: a Cloud Run model server on the
stack's network, mounting its model from the stack's artifact bucket."""

from __future__ import annotations

from components.gcp.cloudrun.cloud_run_model_server import CloudRunModelServer, CloudRunModelServerArgs
from components.gcp.cloudrun.cloud_run_service_spec import CloudRunServiceSpec, cloud_run_service_name
from infra.patterns.cache import connection

APIS = ("run.googleapis.com", "secretmanager.googleapis.com")


def build(pattern, spec: CloudRunServiceSpec) -> CloudRunModelServer:
    args = pattern.args
    return CloudRunModelServer(f"{pattern.name}-svc-{spec.name}", CloudRunModelServerArgs(
        spec=spec, service_name=cloud_run_service_name(spec.name, args.stack), region=args.region,
        project=args.project, network_id=pattern.network.network_id if pattern.network else None,
        subnetwork_id=pattern.network.subnetwork_id if pattern.network else None,
        egress=args.network.egress, model_bucket=pattern.storage.artifacts, deletion_protection=args.prod,
        cache=connection(pattern) if spec.cache else None),
        opts=pattern.after_apis)


def monitor(pattern, spec: CloudRunServiceSpec, server: CloudRunModelServer, slo, channels):
    """Objectives from Cloud Run's own request metrics of the service (every revision, so a
    canary counts against the budget too)."""
    from components.gcp.monitoring.service_slo import ServiceSlo, ServiceSloArgs  # only stacks with objectives

    service = cloud_run_service_name(spec.name, pattern.args.stack)
    requests = (f'metric.type="run.googleapis.com/request_count" resource.type="cloud_run_revision" '
                f'resource.label."service_name"="{service}"')
    return ServiceSlo(f"{pattern.name}-slo-{spec.name}", ServiceSloArgs(
        service=spec.name, slo=slo, project=pattern.args.project, requests_filter=requests,
        errors_filter=f'{requests} metric.label."response_code_class"="5xx"',
        latency_filter=(f'metric.type="run.googleapis.com/request_latencies" resource.type="cloud_run_revision" '
                        f'resource.label."service_name"="{service}"'),
        channels=channels, runbook=f"Check the revisions of Cloud Run service {service} (`mlinfra plan` shows the "
                                   "traffic split), their logs and their instance count against maxReplicas."),
        opts=pattern.after_apis)
