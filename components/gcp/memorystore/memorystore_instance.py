"""The shared Memorystore component: one Valkey or Redis instance on the stack's VPC, private only.

Valkey (the default engine) is `gcp.memorystore.Instance` with cluster mode disabled and one
shard, reached through a Private Service Connect endpoint Memorystore creates in the VPC (the
network's service connection policy for `gcp-memorystore` must exist first: pass it in `opts`
`depends_on`). Redis is `gcp.redis.Instance` on private services access (the network's
`servicenetworking` peering). TLS is server authentication; the CA that signs the server's
certificate is an output. The instance name is fixed, so a replacement deletes the old instance
first; in prod the instance is protected in Pulumi and, where the engine has the field, by the
API's deletion protection (off in dev so a dev stack can be torn down).

Used by the prediction cache (`mlinfra:cache`) and the Feast online store (`noeviction`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping, Optional

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.core.issues import Issue, InputError
from components.gcp.memorystore.engines import (
    EVICTION_POLICIES, REDIS_VERSION, VALKEY_NO_SLA, VALKEY_VERSION, redis_memory_gb, redis_tier, size_issues,
)

TYPE = "mlinfra:gcp:MemorystoreInstance"


@dataclass(frozen=True, kw_only=True)
class MemorystoreInstanceArgs:
    instance_name: str
    """The instance ID (4-63 lowercase letters, digits, hyphens; unique in the region)."""
    region: str
    """Where the instance runs (the stack's region)."""
    network_id: pulumi.Input[str]
    """The VPC it is reachable from: `projects/<p>/global/networks/<n>`."""
    engine: Literal["valkey", "redis"] = "valkey"
    """Memorystore for Valkey or Memorystore for Redis. Defaults to valkey."""
    node_type: Optional[str] = None
    """Valkey only: the node type (engines.VALKEY_NODE_GB). Defaults to SHARED_CORE_NANO."""
    memory_size_gb: Optional[int] = None
    """Redis only: memory in GB. Defaults to the smallest the replica count allows."""
    replicas: int = 0
    """Replicas of the primary (0: none; Redis: >0 is STANDARD_HA). Defaults to 0."""
    tls: bool = True
    """In-transit encryption with server authentication. Defaults to true."""
    eviction_policy: str = "allkeys-lru"
    """`maxmemory-policy` (a feature store needs `noeviction`). Defaults to allkeys-lru."""
    engine_configs: Mapping[str, str] = field(default_factory=dict)
    """Further engine settings (`maxmemory-policy` is set by eviction_policy). Defaults to none."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Labels of the instance. Defaults to none."""
    protect: bool = False
    """Prod: Pulumi `protect` and the API's deletion protection. Defaults to false."""
    project: Optional[str] = None
    """The instance's project. Defaults to the provider's project."""
    network_project: Optional[pulumi.Input[str]] = None
    """Valkey: the project of the VPC (a Shared VPC host). Defaults to `project`, else the provider's."""
    reserved_ip_range: Optional[pulumi.Input[str]] = None
    """Redis: the allocated private-services range (its name) to take addresses from. Defaults to
    any range of the VPC's private services access."""

    def issues(self) -> list[Issue]:
        found = [Issue((key,), problem, fix=fix) for key, problem, fix in
                 size_issues(self.engine, self.node_type, self.memory_size_gb, self.replicas)]
        if self.eviction_policy not in EVICTION_POLICIES:
            found.append(Issue(("eviction_policy",), "is not a maxmemory-policy", self.eviction_policy,
                               allowed=", ".join(EVICTION_POLICIES)))
        if "maxmemory-policy" in self.engine_configs:
            found.append(Issue(("engine_configs",), "sets maxmemory-policy, which eviction_policy sets",
                               fix="pass it as eviction_policy"))
        return found


class MemorystoreInstance(Component):
    """Outputs: host, port, ca_cert (PEM, empty without TLS), instance_name, engine, tls."""

    def __init__(self, name: str, args: MemorystoreInstanceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        issues = args.issues()
        if issues:
            raise InputError(f"MemorystoreInstance {name}", issues)
        self.engine, self.tls = args.engine, args.tls
        configs = {**dict(args.engine_configs), "maxmemory-policy": args.eviction_policy}
        labels = dict(args.labels) or None
        options = self.child(protect=args.protect, delete_before_replace=True)
        if args.engine == "valkey":
            self.instance = gcp.memorystore.Instance(
                name,
                instance_id=args.instance_name,
                location=args.region,
                project=args.project,
                mode="CLUSTER_DISABLED",
                shard_count=1,
                node_type=args.node_type or VALKEY_NO_SLA,
                replica_count=args.replicas,
                engine_version=VALKEY_VERSION,
                engine_configs=configs,
                authorization_mode="AUTH_DISABLED",
                transit_encryption_mode="SERVER_AUTHENTICATION" if args.tls else "TRANSIT_ENCRYPTION_DISABLED",
                desired_auto_created_endpoints=[gcp.memorystore.InstanceDesiredAutoCreatedEndpointArgs(
                    network=args.network_id,
                    project_id=args.network_project or args.project or gcp.config.project,
                )],
                deletion_protection_enabled=args.protect,
                labels=labels,
                opts=options,
            )
            primary = self.instance.endpoints.apply(_valkey_primary)
            self.host = primary.apply(lambda c: c.get("ip_address") or "")
            self.port = primary.apply(lambda c: int(c.get("port") or 6379))
            self.ca_cert = self.instance.managed_server_cas.apply(_valkey_ca)
        else:
            tier = redis_tier(args.replicas)
            self.instance = gcp.redis.Instance(
                name,
                name=args.instance_name,
                region=args.region,
                project=args.project,
                tier=tier,
                memory_size_gb=redis_memory_gb(args.memory_size_gb, args.replicas),
                replica_count=args.replicas,
                read_replicas_mode="READ_REPLICAS_ENABLED" if args.replicas > 1 else None,
                redis_version=REDIS_VERSION,
                redis_configs=configs,
                connect_mode="PRIVATE_SERVICE_ACCESS",
                authorized_network=args.network_id,
                reserved_ip_range=args.reserved_ip_range,
                auth_enabled=False,
                transit_encryption_mode="SERVER_AUTHENTICATION" if args.tls else "DISABLED",
                deletion_protection=args.protect,
                labels=labels,
                opts=options,
            )
            self.host = self.instance.host
            self.port = self.instance.port
            self.ca_cert = self.instance.server_ca_certs.apply(
                lambda certs: "\n".join(c.cert for c in certs or [] if c.cert))
        self.instance_name = args.instance_name
        self.register_outputs({"host": self.host, "port": self.port, "ca_cert": self.ca_cert,
                               "instance_name": self.instance_name})


def _valkey_primary(endpoints) -> dict:
    """The primary endpoint's PSC connection (cluster mode disabled has a primary and a reader)."""
    connections = [c.psc_auto_connection for e in endpoints or [] for c in e.connections or []
                   if c.psc_auto_connection is not None]
    for c in connections:
        if c.connection_type == "CONNECTION_TYPE_PRIMARY":
            return {"ip_address": c.ip_address, "port": c.port}
    return {"ip_address": connections[0].ip_address, "port": connections[0].port} if connections else {}


def _valkey_ca(cas) -> str:
    """Every certificate of the instance's managed server CAs, PEM, one after the other."""
    return "\n".join(cert for ca in cas or [] for chain in ca.ca_certs or [] for cert in chain.certificates or [])
