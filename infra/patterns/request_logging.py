"""A Cloud Run or GKE service's request log (`services[].logging`) and its drift job, as children
of the pattern: the log after the server (its Google account publishes; a GKE pod's by Workload
Identity), the drift job (a Cloud Run job on either platform) and its alert in prod or with
`drift.alert: true`, notifying the stack's `mlinfra:alerts` channels."""

from __future__ import annotations

from components.core.naming import dns_name
from components.gcp.cloudrun.cloud_run_job_spec import cloud_run_job_name
from components.gcp.monitoring.drift_watch import DriftWatch, DriftWatchArgs, psi_descriptor
from components.gcp.monitoring.request_log import RequestLog, RequestLogArgs


def build_request_log(pattern, spec, server, service_name: str) -> None:
    """Sets `pattern.request_logs[spec.name]` to (log, drift watch or None); `service_name` is
    what the topic and dataset are named after (the Cloud Run service, a GKE server's `<name>-<stack>`)."""
    args = pattern.args
    log = RequestLog(f"{pattern.name}-log-{spec.name}", RequestLogArgs(
        spec=spec.logging, service_name=service_name, publisher=server.account, project=args.project,
        region=args.region, protect=args.prod), opts=pattern.after_apis)
    drift = None
    if spec.logging.drift is not None:
        d = spec.logging.drift
        alert = d.alert if d.alert is not None else args.prod
        if getattr(pattern, "_psi_descriptor", None) is None:
            pattern._psi_descriptor = psi_descriptor(f"{pattern.name}-drift-psi", args.project, pattern.after_apis)
        job = dns_name("drift", spec.name, max_len=40)
        drift = DriftWatch(f"{pattern.name}-drift-{spec.name}", DriftWatchArgs(
            spec=d, service=spec.name, job_spec_name=job, job_name=cloud_run_job_name(job, args.stack),
            table=log.table, table_ref=log.table_ref, project=args.project, region=args.region,
            descriptor=pattern._psi_descriptor, alert=alert, channels=pattern.alert_channels() if alert else (),
            deletion_protection=args.prod), opts=pattern.after_apis)
    pattern.request_logs[spec.name] = (log, drift)
