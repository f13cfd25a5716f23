"""Rules that couple a queued job (`jobs[].queued`) with the cluster's pools and the stack's
triggers: the pool exists and is queued, offers the job's GPU and fits its pods; no trigger
starts it. No provider import."""

from __future__ import annotations

from typing import Any

from components.core.issues import Issue
from components.core.spec import Context
from components.gcp.gke.pod_fit import pod_fit_issues
from infra.patterns.couplings import on_cluster


def queued_jobs_on_queued_pools(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    cluster = config.cluster
    queued_jobs = [(i, j) for i, j in on_cluster(config.jobs) if getattr(j, "queued", None) is not None]
    issues: list[Issue] = []
    if cluster is not None:
        pools = {p.name: p for p in cluster.node_pools}
        queued_pools = [p.name for p in cluster.node_pools if p.queued_provisioning]
        for i, job in queued_jobs:
            where = ("jobs", i)
            pool = pools.get(job.queued.pool)
            if pool is None or not pool.queued_provisioning:
                what = "is not a node pool of the cluster" if pool is None else \
                    "is not a queued pool: its nodes scale up for pending pods, not for ProvisioningRequests"
                issues.append(Issue(where + ("queued", "pool"), what, job.queued.pool,
                                    allowed=", ".join(queued_pools) or "no queued pool",
                                    fix="name a pool with `flexStart: true` and `queuedProvisioning: true`"
                                        + ("" if pool is None else f", or set them on pool {pool.name}")))
                continue
            gpu = job.resources.gpu
            if gpu is None:
                continue  # the job's own rule says so
            if pool.gpu is not None and gpu.type != pool.gpu.type:
                issues.append(Issue(where + ("resources", "gpu", "type"), f"pool {pool.name} has {pool.gpu.type} GPUs",
                                    gpu.type, allowed=pool.gpu.type, fix=f"set type to {pool.gpu.type}, or name another pool"))
                continue
            # The pods tolerate the pool's queued taint: fit them as if it had none.
            unqueued = pool.model_copy(update={"queued_provisioning": False})
            issues += [x.under(*where) for x in pod_fit_issues(job.resources, "prefer", [unqueued])]
            # All of the request's nodes come at once, so they must fit under the pool's node limit
            # (a total one: per-zone limits depend on where GKE finds capacity). GPUs bind first.
            count = job.parallelism or 1
            per_node = pool.gpu.count // gpu.count if pool.gpu is not None and pool.gpu.sharing is None else 0
            nodes = -(-count // per_node) if per_node else 0
            if not pool.autoscaling.per_zone and nodes > pool.autoscaling.max:
                issues.append(Issue(where + ("parallelism",), f"{count} pods need {nodes} nodes of pool {pool.name} at "
                                    f"once ({per_node} per node), above its autoscaling.max ({pool.autoscaling.max}): "
                                    "the request could never be provisioned", count,
                                    fix=f"raise autoscaling.max of pool {pool.name} to {nodes}, or lower parallelism"))
    names = {j.name for _, j in queued_jobs}
    for i, trigger in enumerate(config.triggers):
        run = getattr(trigger, "run", None)
        if run is not None and getattr(run, "job", None) in names:
            issues.append(Issue(("triggers", i, "run", "job"), "names a queued job: each run would need a "
                                "ProvisioningRequest of its own, which a trigger's workflow does not create", run.job,
                                fix="remove the trigger's run, or `queued` from the job"))
    return issues
