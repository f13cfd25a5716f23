"""Rules that couple sections of a stack file, each run by the patterns that create the coupling.

A spec's own rules sit beside the spec (components/...); these need two sections at once: a
workload's GPU and spot placement against the cluster's pools, a model's URI against the stack's
artifact bucket, the names the cluster component gives GKE. Each is `(config, ctx) -> issues`
with paths from the top of the `mlinfra:` namespace, given the pattern that runs it. No provider import.
"""

from __future__ import annotations

from typing import Any

from components.aws.eks.eks_cluster_spec import offered_gpus as eks_offered_gpus
from components.aws.eks.eks_cluster_spec import spot_pools as eks_spot_pools
from components.aws.storage.s3_storage_spec import bucket_names as s3_bucket_names
from components.core.issues import Issue
from components.core.spec import Context
from components.gcp.gke.cluster_spec import cluster_name_issues, offered_gpus, spot_pools
from components.gcp.storage.storage_spec import bucket_names
from infra.platforms.registry import PLATFORMS

ROOT = "mlinfra"
"""The name of every pattern's top component; children are named from it."""
CLUSTER = f"{ROOT}-gke"
"""The resource name of the stack's GKE cluster component (its pools are `<CLUSTER>-<pool>`)."""


def cluster_needed(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """A cluster section when the pattern requires one or a workload runs on it."""
    needs = [s for s in config.services if PLATFORMS[s.platform].needs_cluster] + list(config.jobs)
    if config.cluster is None and (pattern.requires_cluster or needs):
        return [Issue(("cluster",), f"the {config.pattern} pattern needs a cluster for its services on gke and jobs",
                      fix="add mlinfra:cluster with at least one entry in nodePools (see the README example)")]
    return []


def gke_names_fit(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """GKE's 40-character names for the cluster and its pools, as the cluster component derives them."""
    if config.cluster is None:
        return []
    return [i.under("cluster") for i in cluster_name_issues(CLUSTER, config.cluster)]


def placement_on_pools(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """A cluster workload must fit some node: its GPU type offered, a spot pool when it requires one."""
    cluster = config.cluster
    if cluster is None:
        return []
    workloads = [(("services", i), s) for i, s in enumerate(config.services) if PLATFORMS[s.platform].needs_cluster]
    workloads += [(("jobs", i), j) for i, j in enumerate(config.jobs)]
    offered = offered_gpus(cluster)
    issues = []
    for where, workload in workloads:
        gpu = workload.resources.gpu
        if gpu is not None and gpu.type not in offered:
            issues.append(Issue(where + ("resources", "gpu", "type"), "no node pool (nor auto-provisioning) offers this GPU",
                                gpu.type, allowed=", ".join(sorted(offered)) or "no GPU at all",
                                fix=f"add a node pool with gpu: {{type: {gpu.type}}}, or use an offered type"))
        if workload.placement.spot == "require" and not spot_pools(cluster):
            issues.append(Issue(where + ("placement", "spot"), "requires spot nodes, but no node pool is spot", "require",
                                allowed="never, prefer", fix="add a node pool with `spot: true`, or use prefer"))
    return issues


def models_in_artifact_bucket(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """Model-loading services mount their model from the stack's artifact bucket."""
    artifacts = bucket_names(config.storage, ctx.project, ctx.stack)["artifacts"]
    issues = []
    for i, service in enumerate(config.services):
        if service.model is not None and service.model.bucket != artifacts:
            issues.append(Issue(("services", i, "model", "uri"), "is not in the stack's artifact bucket", service.model.uri,
                                allowed=f"gs://{artifacts}/<path>",
                                fix=f"upload the model there and set uri: gs://{artifacts}/<path>"))
    return issues


def eks_placement_on_pools(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """On EKS: a workload's GPU type offered by some node group, a spot group when it requires one."""
    cluster = config.cluster
    if cluster is None:
        return []
    workloads = [(("services", i), s) for i, s in enumerate(config.services)] + \
        [(("jobs", i), j) for i, j in enumerate(config.jobs)]
    offered = eks_offered_gpus(cluster)
    issues = []
    for where, workload in workloads:
        gpu = workload.resources.gpu
        if gpu is not None and gpu.type not in offered:
            issues.append(Issue(where + ("resources", "gpu", "type"), "no node pool offers this GPU", gpu.type,
                                allowed=", ".join(sorted(offered)) or "no GPU at all",
                                fix=f"add a node pool with gpu: {{type: {gpu.type}}}, or use an offered type"))
        if workload.placement.spot == "require" and not eks_spot_pools(cluster):
            issues.append(Issue(where + ("placement", "spot"), "requires spot nodes, but no node pool is spot", "require",
                                allowed="never, prefer", fix="add a node pool with `spot: true`, or use prefer"))
    return issues


def models_in_s3_artifact_bucket(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """On AWS, model-loading services sync their model from the stack's S3 artifact bucket."""
    artifacts = s3_bucket_names(config.storage, ctx.stack, ctx.region)["artifacts"]
    return [Issue(("services", i, "model", "uri"), "is not in the stack's artifact bucket", s.model.uri,
                  allowed=f"s3://{artifacts}/<path>", fix=f"upload the model there and set uri: s3://{artifacts}/<path>")
            for i, s in enumerate(config.services) if s.model is not None and s.model.bucket != artifacts]
