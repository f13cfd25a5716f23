"""The kubernetes pattern: a private GKE cluster with CPU, GPU and spot node pools, model
servers behind a Gateway (canary by HTTPRoute weights), training and batch jobs, beside the
data lake and the model-artifact bucket. For high, steady traffic and customisation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi

from components.gcp.gke.cluster_spec import ClusterSpec
from components.gcp.gke.gke_job_spec import GkeJobSpec
from infra.patterns import gke_workloads
from infra.patterns.pattern_component import PatternArgs, PatternComponent

TYPE = "mlinfra:pattern:Kubernetes"


@dataclass(frozen=True, kw_only=True)
class KubernetesArgs(PatternArgs):
    cluster: ClusterSpec
    """The GKE cluster and its node pools."""
    jobs: Sequence[GkeJobSpec] = ()
    """Batch jobs on the cluster. Defaults to none."""


class Kubernetes(PatternComponent):
    """Outputs: cluster, kubernetes_version, gateway, services, jobs, trigger_urls, buckets,
    image_repository, network."""

    Args = KubernetesArgs

    def __init__(self, name: str, args: KubernetesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        # The internal Gateway the model servers sit behind needs a proxy-only subnet.
        super().__init__(TYPE, name, args, gke_workloads.apis(args.cluster), opts,
                         proxy_only_subnet=bool(args.services))
        gke_workloads.build_cluster(self, args.cluster, args.services)
        # Servers share the Gateway, each under its own path: /<service>/...
        self.serve()
        self.run_jobs(args.jobs)
        self.build_triggers()
        self.build_dashboard()

        self.outputs = {
            **gke_workloads.cluster_outputs(self),
            "services": {n: {"namespace": s.namespace, "path": f"/{n}/", "tracks": s.service_names}
                         for n, s in self.services.items()},
            **self.common_outputs(),
        }
        self.register_outputs(self.outputs)
