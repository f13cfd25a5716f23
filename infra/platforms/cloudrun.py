"""Builds a service with `platform: cloudrun` inside a pattern: a Cloud Run model server on the
stack's network, mounting its model from the stack's artifact bucket."""

from __future__ import annotations

from components.gcp.cloudrun.cloud_run_model_server import CloudRunModelServer, CloudRunModelServerArgs
from components.gcp.cloudrun.cloud_run_service_spec import CloudRunServiceSpec, cloud_run_service_name

APIS = ("run.googleapis.com", "secretmanager.googleapis.com")


def build(pattern, spec: CloudRunServiceSpec) -> CloudRunModelServer:
    args = pattern.args
    return CloudRunModelServer(f"{pattern.name}-svc-{spec.name}", CloudRunModelServerArgs(
        spec=spec, service_name=cloud_run_service_name(spec.name, args.stack), region=args.region,
        project=args.project, network_id=pattern.network.network_id if pattern.network else None,
        subnetwork_id=pattern.network.subnetwork_id if pattern.network else None,
        egress=args.network.egress, model_bucket=pattern.storage.artifacts, deletion_protection=args.prod),
        opts=pattern.after_apis)
