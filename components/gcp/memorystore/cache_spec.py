"""The prediction cache and pre-compute store as the stack file says it (`mlinfra:cache`).

One Memorystore instance on the stack's VPC: services with `cache: true` get its address and CA
(and Triton its response cache); jobs with `cache: true` write pre-computed predictions into it.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from components.core.issues import Issue, one_of
from components.core.naming import dns_name
from components.core.spec import Context, Spec
from components.gcp.memorystore import engines


class CacheSpec(Spec):
    """A Valkey (default) or Redis instance, private to the stack's VPC, TLS on."""

    engine: Literal["valkey", "redis"] = "valkey"
    """Memorystore for Valkey (open source, Redis-compatible, reached through Private Service
    Connect) or Memorystore for Redis (private services access). Defaults to valkey."""
    name: Optional[str] = Field(None, pattern=r"^[a-z][a-z0-9-]{2,61}[a-z0-9]$")
    """The instance ID (4-63 lowercase letters, digits, hyphens), unique in the region. Defaults
    to `mlinfra-<stack>-cache`."""
    node_type: Optional[str] = None
    """Valkey: the node type, SHARED_CORE_NANO (1.4 GB, no SLA), STANDARD_SMALL (6.5 GB),
    HIGHMEM_MEDIUM (13 GB) or HIGHMEM_XLARGE (58 GB). Defaults to SHARED_CORE_NANO in dev,
    STANDARD_SMALL in prod."""
    memory_gb: Optional[int] = None
    """Redis: memory in GB, 1-300 (at least 5 with more than one replica). Defaults to 1 (5 with
    more than one replica)."""
    replicas: Optional[int] = None
    """Replicas of the primary in other zones, taking over when it fails (Valkey 0-2; Redis 0:
    BASIC tier, 1-5: STANDARD_HA). Defaults to 0 in dev, 1 in prod."""
    tls: bool = True
    """In-transit encryption with server authentication; clients verify the server against the
    instance's CA, which mlinfra hands them. Defaults to true."""
    eviction_policy: str = "allkeys-lru"
    """`maxmemory-policy`: which keys go when memory is full. A cache evicts the least recently
    used (allkeys-lru); `noeviction` makes writes fail instead. Defaults to allkeys-lru."""

    def replica_count(self, ctx: Context) -> int:
        return self.replicas if self.replicas is not None else (1 if ctx.prod else 0)

    def node_type_for(self, ctx: Context) -> Optional[str]:
        if self.engine != "valkey":
            return None
        return self.node_type or ("STANDARD_SMALL" if ctx.prod else engines.VALKEY_NO_SLA)

    def instance_name(self, stack: str) -> str:
        return self.name or dns_name("mlinfra", stack, "cache")

    def issues(self, ctx: Context) -> list[Issue]:
        found = [Issue((key,), problem, getattr(self, _field(key)), fix=fix) for key, problem, fix in
                 engines.size_issues(self.engine, self.node_type, self.memory_gb, self.replica_count(ctx))]
        if self.eviction_policy not in engines.EVICTION_POLICIES:
            found.append(Issue(("evictionPolicy",), "is not a maxmemory-policy", self.eviction_policy,
                               allowed=one_of(engines.EVICTION_POLICIES), fix="choose allkeys-lru for a cache"))
        if ctx.prod and self.replicas == 0:
            found.append(Issue(("replicas",), "a prod cache without a replica loses its data and its clients' "
                               "connections when the primary fails (and has no SLA)", 0,
                               fix="set replicas: 1 or more (remove it: prod defaults to 1)"))
        if ctx.prod and self.engine == "valkey" and self.node_type == engines.VALKEY_NO_SLA:
            found.append(Issue(("nodeType",), "has variable performance and no SLA: for development only",
                               self.node_type, allowed=one_of(k for k in engines.VALKEY_NODE_GB if k != engines.VALKEY_NO_SLA),
                               fix="choose STANDARD_SMALL or larger (remove it: prod defaults to STANDARD_SMALL)"))
        if len(self.instance_name(ctx.stack)) < 4:
            found.append(Issue(("name",), "an instance ID has at least 4 characters", self.name, fix="use a longer name"))
        return found


def _field(key: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in key)
