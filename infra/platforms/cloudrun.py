"""Builds a service with `platform: cloudrun` inside a pattern: a Cloud Run model server on the
stack's network, mounting its model from the stack's artifact bucket; and the jobs with
`platform: cloudrun`: Cloud Run jobs on the same network, reading the data lake and writing the
artifact bucket."""

from __future__ import annotations

from typing import Sequence

from components.gcp.cloudrun.cloud_run_job import CloudRunJob, CloudRunJobArgs
from components.gcp.cloudrun.cloud_run_job_spec import CloudRunJobSpec, cloud_run_job_name
from components.gcp.cloudrun.cloud_run_model_server import CloudRunModelServer, CloudRunModelServerArgs
from components.gcp.cloudrun.cloud_run_service_spec import CloudRunServiceSpec, cloud_run_service_name
from infra.patterns.cache import connection

APIS = ("run.googleapis.com", "secretmanager.googleapis.com")
JOB_APIS = APIS + ("cloudscheduler.googleapis.com",)
"""What Cloud Run jobs need enabled: Cloud Run, Secret Manager and Cloud Scheduler for their schedules."""


def build(pattern, spec: CloudRunServiceSpec) -> CloudRunModelServer:
    args = pattern.args
    server = CloudRunModelServer(f"{pattern.name}-svc-{spec.name}", CloudRunModelServerArgs(
        spec=spec, service_name=cloud_run_service_name(spec.name, args.stack, spec.service_name), region=args.region,
        project=args.project, network_id=pattern.network.network_id if pattern.network else None,
        subnetwork_id=pattern.network.subnetwork_id if pattern.network else None,
        egress=args.network.egress, deletion_protection=args.prod,
        # A server without a model keeps the artifact bucket in its revisions' fingerprint, as before.
        model_bucket=pattern.model_bucket(spec) if spec.model is not None else pattern.storage.artifacts,
        cache=connection(pattern) if spec.cache else None),
        opts=pattern.after_apis)
    if spec.logging is not None:
        from infra.patterns.request_logging import build_request_log  # only stacks that log requests

        build_request_log(pattern, spec, server, cloud_run_service_name(spec.name, args.stack, spec.service_name))
    return server


def build_jobs(pattern, specs: Sequence[CloudRunJobSpec]) -> dict[str, CloudRunJob]:
    """Each job as the pattern's child `<pattern>-job-<name>` (job names are unique across platforms)."""
    args = pattern.args
    return {spec.name: CloudRunJob(f"{pattern.name}-job-{spec.name}", CloudRunJobArgs(
        spec=spec, job_name=cloud_run_job_name(spec.name, args.stack), region=args.region, project=args.project,
        network_id=pattern.network.network_id if pattern.network else None,
        subnetwork_id=pattern.network.subnetwork_id if pattern.network else None, egress=args.network.egress,
        read_buckets=[pattern.storage.data_lake], write_buckets=[pattern.storage.artifacts],
        deletion_protection=args.prod, cache=connection(pattern) if spec.cache else None),
        opts=pattern.after_apis) for spec in specs}


def monitor(pattern, spec: CloudRunServiceSpec, server: CloudRunModelServer, slo, channels):
    """Objectives from Cloud Run's own request metrics of the service (every revision, so a
    canary counts against the budget too)."""
    from components.gcp.monitoring.service_slo import Series, ServiceSlo, ServiceSloArgs  # only stacks with objectives

    service = cloud_run_service_name(spec.name, pattern.args.stack, spec.service_name)
    where = f'resource.type="cloud_run_revision" resource.label."service_name"="{service}"'
    return ServiceSlo(f"{pattern.name}-slo-{spec.name}", ServiceSloArgs(
        service=spec.name, slo=slo, project=pattern.args.project,
        requests=Series("run.googleapis.com/request_count", where),
        errors=Series("run.googleapis.com/request_count", f'{where} metric.label."response_code_class"="5xx"'),
        latency=Series("run.googleapis.com/request_latencies", where),
        channels=channels, **pattern.rollback_alerting(spec), runbook=f"Check the revisions of Cloud Run service {service} (`mlinfra plan` shows the "
                                   "traffic split), their logs and their instance count against maxReplicas."),
        opts=pattern.after_apis)


def charts(pattern, spec: CloudRunServiceSpec, cluster) -> list:
    """The service's dashboard charts: requests by response class, latency, instances."""
    from components.gcp.monitoring.dashboard_layout import cloud_run_charts

    return cloud_run_charts(spec.name, cloud_run_service_name(spec.name, pattern.args.stack))
