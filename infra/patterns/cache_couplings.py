"""The rules that couple `mlinfra:cache` to the rest of the stack: a workload asking for the cache
needs one, and the cache needs the private connectivity of its engine on the stack's VPC. No
provider import; paths from the top of the `mlinfra:` namespace."""

from __future__ import annotations

from typing import Any

from components.core.issues import Issue
from components.core.spec import Context
from components.gcp.network.network_spec import private_services_issues


def cache_wired(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    cache = getattr(config, "cache", None)
    issues: list[Issue] = []
    asking = [(("services", i, "cache"), "service") for i, s in enumerate(config.services) if s.cache]
    # Only GKE jobs take `cache` (a Cloud Run job's spec, from branch hybrid-jobs, has no such key yet).
    asking += [(("jobs", i, "cache"), "job") for i, j in enumerate(getattr(config, "jobs", []))
               if getattr(j, "cache", False)]
    if cache is None:
        on_aws = getattr(config, "cloud", "gcp") == "aws"
        for where, what in asking:
            issues.append(Issue(where, f"the {what} asks for the stack's cache, but the stack has no mlinfra:cache",
                                True, fix="remove `cache: true` (AWS stacks have no cache)" if on_aws else
                                "add `mlinfra:cache: {}` (a Valkey instance), or remove `cache: true`"))
        return issues
    network = config.network
    if network.egress == "none":
        return [Issue(("network", "egress"), "`none` means no VPC, but the cache (mlinfra:cache) is reached only "
                      "privately, through the stack's VPC", "none", allowed="privateRangesOnly, allTraffic",
                      fix="remove network.egress (privateRangesOnly), or remove mlinfra:cache")]
    existing = network.existing
    if existing is not None:
        if cache.engine == "valkey" and not existing.memorystore_policy:
            issues.append(Issue(("network", "existing", "memorystorePolicy"), "a Valkey cache on a VPC the stack does "
                                "not own needs that VPC's service connection policy for gcp-memorystore, which mlinfra "
                                "cannot create there", False,
                                fix="ask the VPC's administrators to create it (service class gcp-memorystore, on "
                                    f"{existing.subnet} in {ctx.region}), then set memorystorePolicy: true"))
        if cache.engine == "redis" and existing.private_services_range is None:
            issues.append(Issue(("network", "existing", "privateServicesRange"), "a Redis cache on a VPC the stack "
                                "does not own needs that VPC's private services access range",
                                fix="set it to the name of the range peered with servicenetworking.googleapis.com, "
                                    "or use engine: valkey"))
    elif cache.engine == "redis":
        issues += [i.under("network") for i in private_services_issues(network)]
    return issues
