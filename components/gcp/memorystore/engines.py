"""What each Memorystore engine accepts: sizes, replicas, eviction policies (plain data, no provider).

Valkey (Memorystore for Valkey, `memorystore.googleapis.com`) sizes by node type; one shard with
cluster mode disabled is a single primary plus 0-2 replicas, which plain Redis clients such as
Triton's response cache and Feast's `redis` online store speak to. Redis (Memorystore for Redis,
`redis.googleapis.com`) sizes by GB (1-300): BASIC (no replica) or STANDARD_HA (one replica; 2-5 with read replicas,
which need at least 5 GB).
Sources: cloud.google.com/memorystore/docs/valkey/instance-node-specification (capacities),
cloud.google.com/memorystore/docs/redis/redis-tiers (tiers, sizes, replicas).
"""

from __future__ import annotations

ENGINES = ("valkey", "redis")

VALKEY_NODE_GB: dict[str, float] = {
    "SHARED_CORE_NANO": 1.4,
    "STANDARD_SMALL": 6.5,
    "HIGHMEM_MEDIUM": 13.0,
    "HIGHMEM_XLARGE": 58.0,
}
"""Valkey node types and their total capacity (GB); the writable keyspace is 80% of it."""
VALKEY_NO_SLA = "SHARED_CORE_NANO"
"""Variable performance and no SLA: for development only."""
VALKEY_MAX_REPLICAS = 2
VALKEY_VERSION = "VALKEY_8_0"

REDIS_MIN_GB = 1
REDIS_READ_REPLICAS_MIN_GB = 5
"""More than one replica needs read replicas turned on, which need nodes of at least 5 GB."""
REDIS_MAX_GB = 300
REDIS_MAX_REPLICAS = 5
REDIS_VERSION = "REDIS_7_2"

EVICTION_POLICIES = ("noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
                     "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl")
"""Redis/Valkey `maxmemory-policy` values (both engines accept the same set)."""

CONFIG_KEY = {"valkey": "engine_configs", "redis": "redis_configs"}
"""The provider argument that carries `maxmemory-policy` and the engine's other settings."""


def redis_tier(replicas: int) -> str:
    return "STANDARD_HA" if replicas > 0 else "BASIC"


def capacity_gb(engine: str, node_type: str | None, memory_size_gb: int | None) -> float:
    """The primary's memory (GB) of a one-shard Valkey instance or a Redis instance."""
    if engine == "valkey":
        return VALKEY_NODE_GB[node_type or VALKEY_NO_SLA]
    return float(redis_memory_gb(memory_size_gb, 0))


def redis_memory_gb(memory_size_gb: int | None, replicas: int) -> int:
    """The GB a Redis instance gets: as given, else the smallest its replica count allows."""
    if memory_size_gb is not None:
        return memory_size_gb
    return REDIS_READ_REPLICAS_MIN_GB if replicas > 1 else REDIS_MIN_GB


def size_issues(engine: str, node_type: str | None, memory_size_gb: int | None, replicas: int) -> list[tuple[str, str, str]]:
    """(key, problem, fix) for a size and replica count the engine refuses; keys are the
    stack-file names (`nodeType`, `memoryGb`, `replicas`)."""
    found: list[tuple[str, str, str]] = []
    if engine == "valkey":
        if memory_size_gb is not None:
            found.append(("memoryGb", "sizes Memorystore for Redis; Valkey is sized by node type",
                          f"remove it and choose nodeType from {', '.join(VALKEY_NODE_GB)}"))
        if node_type is not None and node_type not in VALKEY_NODE_GB:
            found.append(("nodeType", f"is not a Memorystore for Valkey node type ({', '.join(VALKEY_NODE_GB)})",
                          "choose one of them (capacity GB: " +
                          ", ".join(f"{k} {v}" for k, v in VALKEY_NODE_GB.items()) + ")"))
        if not 0 <= replicas <= VALKEY_MAX_REPLICAS:
            found.append(("replicas", f"Valkey has 0 to {VALKEY_MAX_REPLICAS} replicas per shard",
                          f"choose 0-{VALKEY_MAX_REPLICAS}"))
        return found
    if node_type is not None:
        found.append(("nodeType", "sizes Memorystore for Valkey; Redis is sized in GB",
                      "remove it and set memoryGb"))
    if not 0 <= replicas <= REDIS_MAX_REPLICAS:
        found.append(("replicas", f"Redis has 0 (BASIC) or 1-{REDIS_MAX_REPLICAS} (STANDARD_HA) replicas",
                      f"choose 0-{REDIS_MAX_REPLICAS}"))
        return found
    low = REDIS_READ_REPLICAS_MIN_GB if replicas > 1 else REDIS_MIN_GB
    gb = redis_memory_gb(memory_size_gb, replicas)
    if not low <= gb <= REDIS_MAX_GB:
        why = f" ({replicas} replicas need read replicas, which need {low} GB)" if replicas > 1 else ""
        found.append(("memoryGb", f"a Redis instance has {low} to {REDIS_MAX_GB} GB{why}",
                      f"choose {low}-{REDIS_MAX_GB}" + (", or 1 replica" if replicas > 1 else "")))
    return found
