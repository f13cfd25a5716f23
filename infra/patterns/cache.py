"""What a pattern builds for `mlinfra:cache`: the Memorystore instance on the stack's VPC (whose
network component adds the engine's private connectivity), and the connection its workloads
with `cache: true` are handed."""

from __future__ import annotations

from typing import Any, Optional

from components.core.issues import Issue, raise_if_any
from components.core.spec import Context
from components.gcp.memorystore.cache_spec import CacheSpec
from components.gcp.memorystore.memorystore_instance import MemorystoreInstance, MemorystoreInstanceArgs
from components.serving.cache_wiring import CacheConnection

APIS = {
    "valkey": ("memorystore.googleapis.com", "networkconnectivity.googleapis.com", "serviceconsumermanagement.googleapis.com"),
    "redis": ("redis.googleapis.com", "servicenetworking.googleapis.com"),
}
"""The APIs each engine's instance and private connectivity need."""


def cache_apis(spec: Optional[CacheSpec]) -> tuple[str, ...]:
    return APIS[spec.engine] if spec is not None else ()


def network_engines(spec: Optional[CacheSpec]) -> tuple[str, ...]:
    """The Memorystore engines the network needs private connectivity for."""
    return (spec.engine,) if spec is not None else ()


def build_cache(pattern: Any) -> Optional[MemorystoreInstance]:
    """The stack's cache, after the network's connectivity (the instance's endpoints need it)."""
    args, spec = pattern.args, pattern.args.cache
    if spec is None:
        return None
    if pattern.network is None:
        raise_if_any("mlinfra:cache", [Issue(("cache",), "needs the stack's VPC (network.egress is none)",
                                             fix="set network.egress to privateRangesOnly")])
    ctx = Context(project=args.project, region=args.region, stack=args.stack, environment=args.environment)
    network = pattern.network
    return MemorystoreInstance(f"{pattern.name}-cache", MemorystoreInstanceArgs(
        instance_name=spec.instance_name(args.stack), region=args.region, network_id=network.network_id,
        engine=spec.engine, node_type=spec.node_type_for(ctx), memory_size_gb=spec.memory_gb,
        replicas=spec.replica_count(ctx), tls=spec.tls, eviction_policy=spec.eviction_policy,
        protect=args.prod, project=args.project, network_project=network.project,
        reserved_ip_range=network.reserved_range),
        opts=pattern.child(depends_on=list(pattern.apis.resources) + network.memorystore_dependencies))


def connection(pattern: Any) -> Optional[CacheConnection]:
    """What a workload with `cache: true` is handed (None without a cache)."""
    cache = getattr(pattern, "cache", None)
    if cache is None:
        return None
    return CacheConnection(host=cache.host, port=cache.port, ca_cert=cache.ca_cert, tls=cache.tls)


def export(pattern: Any) -> dict[str, Any]:
    """The cache's stack outputs (host, port, instance; the CA is public but long: not exported)."""
    cache = getattr(pattern, "cache", None)
    if cache is None:
        return {}
    return {"cache": {"host": cache.host, "port": cache.port, "instance": cache.instance_name,
                      "engine": cache.engine, "tls": cache.tls}}

