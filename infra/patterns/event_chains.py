"""The triggers with `run`: each becomes an EventWorkflow (components/gcp/workflows/) wired to
the job, pipeline or service it names, which the pattern has already built. Every pattern with
triggers builds them through here, after its workloads (`PatternComponent.build_triggers`)."""

from __future__ import annotations

import math
from typing import Any

from components.core.naming import dns_name
from components.gcp.workflows.event_workflow import (CloudRunJobTarget, DispatchTarget, EventWorkflow,
                                                     EventWorkflowArgs, GkeJobTarget, PipelineTarget)

DEFAULT_TIMEOUT_SECONDS = 86400
MARGIN_SECONDS = 600


def workflow_name(trigger: str, stack: str) -> str:
    """The workflow (and Eventarc trigger) a stack's `triggers[].name` becomes."""
    return dns_name(trigger, stack, max_len=63)


def job_timeout(job_spec: Any) -> int:
    """How long a run of the job may take: its deadline, every retry and every wave of tasks,
    plus a margin for scheduling; a day when the job sets no deadline."""
    deadline = getattr(job_spec, "active_deadline_seconds", None)
    if deadline is not None:  # Kubernetes: the deadline covers every retry
        return deadline + MARGIN_SECONDS
    task_timeout = getattr(job_spec, "timeout_seconds", None)
    if task_timeout is not None:  # Cloud Run: per task attempt
        attempts = (getattr(job_spec, "max_retries", 0) or 0) + 1
        tasks, parallel = getattr(job_spec, "tasks", 1) or 1, getattr(job_spec, "parallelism", None) or 1
        return task_timeout * attempts * math.ceil(tasks / max(1, min(parallel, tasks))) + MARGIN_SECONDS
    return DEFAULT_TIMEOUT_SECONDS


def build_chains(pattern: Any, topics: dict) -> dict[str, EventWorkflow]:
    args = pattern.args
    jobs = getattr(pattern, "jobs", {}) or {}
    job_specs = {j.name: j for j in getattr(args, "jobs", ())}
    pipelines = getattr(pattern, "pipelines", {}) or {}
    services = {s.name: s for s in args.services}
    # Failed runs alert in prod, and wherever the stack names where alerts go.
    channels = pattern.alert_channels() if args.prod or args.alerts.any else None
    chains = {}
    for spec in args.triggers:
        if spec.run is None:
            continue
        run = spec.run
        override = run.timeout_minutes * 60 if run.timeout_minutes else None
        if run.job is not None:
            job = jobs[run.job]
            timeout = override or job_timeout(job_specs[run.job])
            if hasattr(job, "run_manifest"):
                target: Any = GkeJobTarget(
                    cluster=pattern.cluster.cluster_name, location=pattern.cluster.location,
                    namespace=job.run_manifest["metadata"]["namespace"], manifest=job.run_manifest,
                    provider=pattern.cluster.provider, timeout_seconds=timeout,
                    namespace_resource=getattr(pattern, "jobs_namespace", None))
            else:
                target = CloudRunJobTarget(job_id=job.job_id, job_name=job.job_name, location=args.region,
                                           timeout_seconds=timeout)
        elif run.pipeline is not None:
            pipeline = pipelines[run.pipeline]
            target = PipelineTarget(launch=pipeline.launch_request, worker=pipeline.worker,
                                    template_bucket=pipeline.staging, timeout_seconds=override or DEFAULT_TIMEOUT_SECONDS)
        else:
            propose = run.propose_rollout
            model_path = services[propose.service].model.uri.split("/", 3)[3].rstrip("/") + "/"
            target = DispatchTarget(secret=propose.token_secret, repository=propose.repository,
                                    workflow=propose.workflow, ref=propose.ref, stack=args.stack,
                                    service=propose.service, models_prefix=model_path)
        storage, bucket, reads = spec.on.storage, None, []
        if storage is not None and storage.external:
            # A bucket the stack does not own: what runs reads it through a binding on it alone.
            bucket = pattern.existing_bucket(storage.bucket_name)
            reader = jobs[run.job].account if run.job is not None else \
                pipelines[run.pipeline].worker if run.pipeline is not None else None
            reads = [bucket.grant_read(reader)] if reader is not None else []
        elif storage is not None:
            bucket = pattern.storage.buckets[storage.bucket]
        chains[spec.name] = EventWorkflow(f"{pattern.name}-chain-{spec.name}", EventWorkflowArgs(
            spec=spec, workflow_name=workflow_name(spec.name, args.stack), project=args.project, region=args.region,
            target=target, bucket=bucket, read_grants=reads,
            bucket_project=storage.project if storage is not None else None,
            bucket_location=(storage.location or args.region) if storage is not None and storage.external else None,
            topic=topics.get(spec.on.pubsub.topic) if spec.on.pubsub else None, prod=args.prod,
            alert_channels=channels, storage_agent_grant=pattern.triggers.storage_agent_grant if pattern.triggers else None),
            opts=pattern.after_apis)
    return chains
