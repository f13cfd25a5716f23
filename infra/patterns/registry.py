"""The pattern registry: what each pattern allows in a stack file, the couplings it checks, and
what builds it.

Builders are `module:Class` and imported only when their pattern is selected, so a stack pays
the import cost of its own pattern's providers and no other's. A new pattern is one entry here
and one file beside this one; nothing else in the code names a pattern.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Optional

from infra.patterns import cache_couplings, couplings, queued_couplings, rollback_couplings
from infra.platforms.registry import PLATFORMS


@dataclass(frozen=True)
class Pattern:
    name: str
    summary: str
    sections: frozenset[str]
    """The optional sections (`services`, `cluster`, ...) a stack of this pattern may have."""
    platforms: tuple[str, ...]
    """Platforms its services (and, where the platform runs jobs, its jobs) may use; the first is
    the default of a service or job without `platform`."""
    builder: Optional[str]
    """`module:Class` of the pattern's component; None while the pattern is not built."""
    providers: frozenset[str]
    """Provider submodules the pattern may import (checked by the tests and the benchmark)."""
    couplings: tuple[Callable, ...] = ()
    """Rules over several sections at once (infra/patterns/couplings.py)."""
    requires_cluster: bool = False
    tracking_issue: Optional[str] = None
    cloud: str = "gcp"
    """The cloud it builds on (`mlinfra:cloud`); patterns are keyed by (cloud, name)."""

    @property
    def built(self) -> bool:
        return self.builder is not None

    @property
    def default_platform(self) -> str:
        return self.platforms[0]

    @property
    def job_platforms(self) -> tuple[str, ...]:
        """Its platforms that run jobs; the first is the default of a job without `platform`."""
        return tuple(p for p in self.platforms if PLATFORMS[p].job_spec)

    def component(self) -> type:
        module, name = self.builder.split(":")
        return getattr(importlib.import_module(module), name)


_GCP_BASE = frozenset({"pulumi_gcp.artifactregistry", "pulumi_gcp.cloudfunctionsv2", "pulumi_gcp.cloudrunv2",
                       "pulumi_gcp.cloudscheduler", "pulumi_gcp.compute", "pulumi_gcp.eventarc", "pulumi_gcp.projects", "pulumi_gcp.pubsub",
                       "pulumi_gcp.monitoring", "pulumi_gcp.secretmanager", "pulumi_gcp.serviceaccount", "pulumi_gcp.storage",
                       "pulumi_gcp.workflows"})

_GKE = frozenset({"pulumi_gcp.certificatemanager", "pulumi_gcp.container", "pulumi_kubernetes.apiextensions",
                  "pulumi_kubernetes.apiregistration",
                  "pulumi_kubernetes.apps", "pulumi_kubernetes.autoscaling", "pulumi_kubernetes.batch",
                  "pulumi_kubernetes.core", "pulumi_kubernetes.meta", "pulumi_kubernetes.networking",
                  "pulumi_kubernetes.policy", "pulumi_kubernetes.rbac"})

_DATAFLOW = frozenset({"pulumi_gcp.bigquery", "pulumi_gcp.dataflow", "pulumi_gcp.organizations"})
# Memorystore and the private connectivity the network adds for it (stacks with `mlinfra:cache`).
_CACHE = frozenset({"pulumi_gcp.memorystore", "pulumi_gcp.redis", "pulumi_gcp.networkconnectivity",
                    "pulumi_gcp.servicenetworking"})
# Feast (`mlinfra:featureStore`): BigQuery, Bigtable or Memorystore (with its connectivity), its job.
_FEATURE_STORE = _CACHE | {"pulumi_gcp.bigquery", "pulumi_gcp.bigtable"}

# A Cloud Run service's load balancer (`loadBalancer:`): its certificate, IAP access, the project number.
_CLOUD_RUN_LB = frozenset({"pulumi_gcp.certificatemanager", "pulumi_gcp.iap", "pulumi_gcp.organizations"})

# A service's request log (`services[].logging`): its BigQuery table, the project number of the Pub/Sub agent.
_REQUEST_LOG = frozenset({"pulumi_gcp.bigquery", "pulumi_gcp.organizations"})

PATTERNS: dict[str, Pattern] = {
    "serverless": Pattern(
        "serverless",
        "Cloud Run model servers (GPU optional) and Cloud Functions triggers; scales to zero.",
        frozenset({"services", "triggers", "cache", "featureStore"}), ("cloudrun",),
        "infra.patterns.serverless:Serverless", _GCP_BASE | _FEATURE_STORE | _CLOUD_RUN_LB | _REQUEST_LOG,
        couplings=(couplings.models_in_artifact_bucket, couplings.serverless_names_unique,
                   couplings.prod_alerts_go_somewhere, couplings.run_targets_exist,
                   cache_couplings.cache_wired, couplings.feature_store_has_a_network,
                   rollback_couplings.auto_rollback_wired),
    ),
    "kubernetes": Pattern(
        "kubernetes",
        "GKE with CPU, GPU and spot node pools, autoscalers, model servers and jobs.",
        frozenset({"cluster", "services", "jobs", "triggers", "cache", "featureStore"}), ("gke",),
        # organizations: the project number of the rollback channel's publisher (rollout.autoRollback)
        # and of request logging's BigQuery subscription.
        "infra.patterns.kubernetes:Kubernetes", _GCP_BASE | _GKE | _FEATURE_STORE | _REQUEST_LOG,
        couplings=(couplings.cluster_needed, couplings.gateway_has_servers, couplings.grpc_through_gateway,
                   couplings.gke_names_fit,
                   couplings.placement_on_pools,
                   couplings.workloads_fit_pools, queued_couplings.queued_jobs_on_queued_pools,
                   couplings.system_pods_have_a_pool,
                   couplings.models_in_artifact_bucket, couplings.network_fits_cluster,
                   couplings.prod_alerts_go_somewhere, couplings.run_targets_exist,
                   cache_couplings.cache_wired, couplings.feature_store_has_a_network,
                   rollback_couplings.auto_rollback_wired),
        requires_cluster=True,
    ),
    "dataflow": Pattern(
        "dataflow",
        "Batch and streaming Dataflow pipelines with their Pub/Sub topics, buckets and sinks.",
        frozenset({"pipelines", "triggers", "featureStore"}), ("cloudrun",),
        "infra.patterns.dataflow:Dataflow",
        _GCP_BASE | _DATAFLOW | _FEATURE_STORE,
        couplings=(couplings.pipeline_models_in_artifact_bucket, couplings.pipeline_topics_and_tables,
                   couplings.workers_have_a_network, couplings.prod_alerts_go_somewhere,
                   couplings.run_targets_exist, couplings.feature_store_has_a_network),
    ),
    "hybrid": Pattern(
        "hybrid",
        "A real-time path (services on Cloud Run or GKE) beside a batch path (jobs on GKE or Cloud Run Jobs, "
        "pipelines), wired by events.",
        frozenset({"cluster", "services", "jobs", "pipelines", "triggers", "cache", "featureStore"}), ("gke", "cloudrun"),
        "infra.patterns.hybrid:Hybrid",
        _GCP_BASE | _GKE | _DATAFLOW | _CACHE | _FEATURE_STORE | _CLOUD_RUN_LB | _REQUEST_LOG,
        couplings=(couplings.cluster_needed, couplings.gateway_has_servers, couplings.grpc_through_gateway,
                   couplings.gke_names_fit,
                   couplings.placement_on_pools,
                   couplings.workloads_fit_pools, queued_couplings.queued_jobs_on_queued_pools,
                   couplings.system_pods_have_a_pool,
                   couplings.models_in_artifact_bucket, couplings.network_fits_cluster,
                   couplings.serverless_names_unique, couplings.prod_alerts_go_somewhere,
                   couplings.pipeline_models_in_artifact_bucket, couplings.pipeline_topics_and_tables,
                   couplings.workers_have_a_network, couplings.run_targets_exist,
                   cache_couplings.cache_wired, couplings.feature_store_has_a_network,
                   rollback_couplings.auto_rollback_wired),
    ),
}

_AWS_K8S = frozenset({"pulumi_aws.cloudwatch", "pulumi_aws.ec2", "pulumi_aws.ecr", "pulumi_aws.eks", "pulumi_aws.iam",
                      "pulumi_aws.kms", "pulumi_aws.s3", "pulumi_kubernetes.apps", "pulumi_kubernetes.autoscaling",
                      "pulumi_kubernetes.batch", "pulumi_kubernetes.core", "pulumi_kubernetes.meta",
                      "pulumi_kubernetes.networking", "pulumi_kubernetes.policy", "pulumi_kubernetes.rbac",
                      # Karpenter (cluster.autoscaler: karpenter): its queue, its charts, its NodePools.
                      "pulumi_aws.sqs", "pulumi_kubernetes.helm", "pulumi_kubernetes.apiextensions",
                      # The servers' ALB and target groups, their alarms and the alert topic.
                      "pulumi_aws.lb", "pulumi_aws.vpc", "pulumi_aws.sns",
                      # A service's request log (`services[].logging`): its Firehose stream.
                      "pulumi_aws.kinesis"})

# Patterns on AWS (`mlinfra:cloud: aws`), by the same names as on Google Cloud.
AWS_PATTERNS: dict[str, Pattern] = {
    "kubernetes": Pattern(
        "kubernetes",
        "EKS with CPU, GPU and spot managed node groups, model servers behind an internal ALB, and jobs.",
        frozenset({"cluster", "services", "jobs"}), ("eks",),
        "infra.patterns.eks:EksKubernetes", _AWS_K8S,
        couplings=(couplings.cluster_needed, couplings.grpc_through_gateway, couplings.eks_placement_on_pools,
                   couplings.models_in_s3_artifact_bucket, cache_couplings.cache_wired,
                   couplings.eks_prod_alerts_go_somewhere, couplings.eks_listener_rules_unique),
        requires_cluster=True, cloud="aws",
    ),
}

# The bootstrap stack (`mlinfra:pattern: bootstrap`): what the CI stacks' workflows assume, on
# every cloud they use and on GitHub. Its cloud is GitHub's; it imports a cloud's provider only
# when some CI stack is on that cloud.
BOOTSTRAP_PATTERNS: dict[str, Pattern] = {
    "bootstrap": Pattern(
        "bootstrap",
        "The identities (workload identity federation, AWS OIDC roles) and the GitHub environments, branch "
        "ruleset and variables the generated workflows assume; applied by an administrator.",
        frozenset(), (), "infra.patterns.bootstrap:Bootstrap",
        frozenset({"pulumi_gcp.iam", "pulumi_gcp.projects", "pulumi_gcp.serviceaccount", "pulumi_gcp.storage",
                   "pulumi_aws.iam", "pulumi_github"}),
        cloud="github",
    ),
}
CLOUDS: dict[str, dict[str, Pattern]] = {"gcp": PATTERNS, "aws": AWS_PATTERNS, "github": BOOTSTRAP_PATTERNS}


def pattern_for(cloud: str, name: str) -> Optional[Pattern]:
    """The pattern `name` on `cloud`, or None where that cloud does not have it."""
    return CLOUDS.get(cloud, {}).get(name)


# Every section some pattern allows, by its stack-file key; each pattern allows a subset.
OPTIONAL_SECTIONS = ("cluster", "services", "jobs", "pipelines", "triggers", "cache", "featureStore")


def patterns_allowing(section: str) -> list[str]:
    return [p.name for p in PATTERNS.values() if section in p.sections]


def patterns_running_jobs_on(platform: str) -> list[str]:
    """Built Google Cloud patterns whose jobs may run on `platform`."""
    return [p.name for p in PATTERNS.values() if platform in p.job_platforms and p.built and "jobs" in p.sections]


def patterns_serving_on(platform: str) -> list[str]:
    """Built patterns whose services may run on `platform`; on another cloud than gcp, with the cloud."""
    return [p.name if cloud == "gcp" else f"{p.name} (mlinfra:cloud: {cloud})"
            for cloud, table in CLOUDS.items() for p in table.values()
            if platform in p.platforms and p.built and "services" in p.sections]
