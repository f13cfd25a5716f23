"""The hybrid pattern: a real-time path beside a batch path. Services and jobs run on the
platform each one names (Cloud Run or GKE), Dataflow pipelines beside them, triggers as Cloud
Functions or workflows that run a job or pipeline; the cluster exists only when some workload
runs on it. Composed from the same builders as the serverless, kubernetes and dataflow patterns
(the platform registry, gke_workloads and dataflow_workloads), not a copy of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import pulumi

from components.gcp.dataflow.pipeline_spec import PipelineSpec
from components.gcp.gke.cluster_spec import ClusterSpec
from infra.patterns import dataflow_workloads, gke_workloads
from infra.patterns.pattern_component import PatternArgs, PatternComponent
from infra.platforms.cloudrun import APIS as CLOUD_RUN_APIS
from infra.platforms.cloudrun import JOB_APIS as CLOUD_RUN_JOB_APIS
from infra.platforms.registry import PLATFORMS

TYPE = "mlinfra:pattern:Hybrid"


@dataclass(frozen=True, kw_only=True)
class HybridArgs(PatternArgs):
    cluster: Optional[ClusterSpec] = None
    """The GKE cluster, when a service or job on gke runs on it. Defaults to none (no cluster)."""
    jobs: Sequence[Any] = ()
    """Batch jobs, each on its `platform` (GkeJobSpec or CloudRunJobSpec). Defaults to none."""
    pipelines: Sequence[PipelineSpec] = ()
    """Dataflow pipelines, batch or streaming: the batch path. Defaults to none."""


class Hybrid(PatternComponent):
    """Outputs: service_urls (Cloud Run), services (GKE), cluster, kubernetes_version, gateway,
    jobs (every job's name, either platform), cloud_run_jobs (Cloud Run job names and their
    accounts), pipelines, topics, datasets (with pipelines), trigger_urls, workflows (triggers
    with run), buckets, image_repository, network, and cache, feature_store_yaml and
    feature_store when the stack has them."""

    Args = HybridArgs

    def __init__(self, name: str, args: HybridArgs, opts: Optional[pulumi.ResourceOptions] = None):
        on_cluster = [s for s in args.services if PLATFORMS[s.platform].needs_cluster]
        jobs_on_cluster = [j for j in args.jobs if PLATFORMS[j.platform].needs_cluster]
        needs_cluster = bool(on_cluster or jobs_on_cluster)
        serverless_jobs = len(jobs_on_cluster) < len(args.jobs)
        apis = (CLOUD_RUN_JOB_APIS if serverless_jobs else CLOUD_RUN_APIS) + (gke_workloads.apis(args.cluster) if needs_cluster else ()) + \
            (dataflow_workloads.APIS if args.pipelines else ())
        super().__init__(TYPE, name, args, apis, opts, proxy_only_subnet=bool(on_cluster))
        self.gateway_ref = None
        if needs_cluster:
            gke_workloads.build_cluster(self, args.cluster, on_cluster)
        self.serve()
        self.run_jobs(args.jobs)
        if args.pipelines:
            dataflow_workloads.build_pipelines(self, args.pipelines)
        self.build_triggers()
        self.build_dashboard()

        platforms = {spec.name: PLATFORMS[spec.platform] for spec in args.services}
        cloud_run = {n: s for n, s in self.services.items() if not platforms[n].needs_cluster}
        cloud_run_jobs = {j.name for j in args.jobs if not PLATFORMS[j.platform].needs_cluster}
        self.outputs = {
            "service_urls": {n: s.url for n, s in cloud_run.items()},
            "services": {n: {"namespace": s.namespace, "path": f"/{n}/", "tracks": s.service_names}
                         for n, s in self.services.items() if n not in cloud_run},
            **(gke_workloads.cluster_outputs(self) if needs_cluster else {}),
            "jobs": sorted(self.jobs),
            "cloud_run_jobs": {n: {"job": self.jobs[n].job_name, "service_account": self.jobs[n].service_account}
                               for n in sorted(cloud_run_jobs)},
            **(dataflow_workloads.pipeline_outputs(self) if args.pipelines else {}),
            **self.common_outputs(),
        }
        self.register_outputs(self.outputs)
