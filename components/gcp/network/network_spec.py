"""The stack's VPC as the stack file says it, and the rules its ranges must follow."""

from __future__ import annotations

import ipaddress
from typing import Literal, Optional

from pydantic import Field

from components.core.issues import Issue
from components.core.spec import Context, Spec

# Google Front End and health-check ranges: where Google's load balancers and health checkers
# connect from (cloud.google.com/load-balancing/docs/health-check-concepts#ip-ranges).
GOOGLE_LB_RANGES = ("35.191.0.0/16", "130.211.0.0/22")
_PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")]
# Compute Engine resource names (networks, subnets, secondary ranges).
GCE_NAME = r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
RANGE_KEYS = ("subnetCidr", "podsCidr", "servicesCidr", "proxyOnlyCidr", "privateServicesCidr", "flowLogs")


class ExistingNetworkSpec(Spec):
    """A VPC the stack uses instead of creating one: its own, or a Shared VPC of a host project."""

    host_project: Optional[str] = Field(None, pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
    """The project that owns the VPC (a Shared VPC's host project). Defaults to the stack's project."""
    network: str = Field(pattern=GCE_NAME)
    """The VPC's name. Required."""
    subnet: str = Field(pattern=GCE_NAME)
    """The subnet in the stack's region that nodes and serverless egress use. Required."""
    pods_range: Optional[str] = Field(None, pattern=GCE_NAME)
    """The subnet's secondary range for GKE pods. Required when the stack has a cluster."""
    services_range: Optional[str] = Field(None, pattern=GCE_NAME)
    """The subnet's secondary range for GKE services. Required when the stack has a cluster."""
    proxy_only_subnet: bool = False
    """The VPC already has an active proxy-only subnet in the stack's region, which the GKE
    Gateway's internal load balancer needs (mlinfra cannot create one in a VPC it does not own).
    Defaults to false."""
    memorystore_policy: bool = False
    """The VPC already has a service connection policy for service class `gcp-memorystore` in
    the stack's region and subnet, which a Memorystore for Valkey cache needs (mlinfra cannot
    create one in a VPC it does not own). Defaults to false."""
    private_services_range: Optional[str] = Field(None, pattern=GCE_NAME)
    """The name of the VPC's allocated range peered with `servicenetworking.googleapis.com`
    (private services access), which a Memorystore for Redis cache is placed in. Required for
    a Redis cache on an existing VPC. Defaults to none."""


class NetworkSpec(Spec):
    """The stack's VPC. Defaults fit a cluster of up to ~1000 nodes and 4000 services."""

    subnet_cidr: str = "10.10.0.0/20"
    """Primary range of the regional subnet (nodes, Cloud Run direct VPC egress). Defaults to 10.10.0.0/20."""
    pods_cidr: str = "10.20.0.0/14"
    """Secondary range for GKE pods. Defaults to 10.20.0.0/14."""
    services_cidr: str = "10.24.0.0/20"
    """Secondary range for GKE services. Defaults to 10.24.0.0/20."""
    proxy_only_cidr: str = "10.11.0.0/23"
    """Proxy-only subnet for internal Application Load Balancers (GKE Gateway); created only by
    patterns that route through one. Defaults to 10.11.0.0/23."""
    private_services_cidr: str = "10.12.0.0/20"
    """Range allocated to private services access (peered with Google's service producers), where
    a Memorystore for Redis cache gets its addresses; created only with a Redis cache.
    Defaults to 10.12.0.0/20."""
    egress: Literal["privateRangesOnly", "allTraffic", "none"] = "privateRangesOnly"
    """Which outbound traffic of serverless workloads goes through the VPC; `none`: no VPC at
    all (the stack creates no network, NAT or firewall, and services and functions reach only
    public endpoints; not with a cluster). Defaults to privateRangesOnly."""
    existing: Optional[ExistingNetworkSpec] = None
    """Use this VPC (or Shared VPC) instead of creating one: the stack then creates no network,
    subnet, router, NAT or firewall rule, and the range keys above do not apply. Defaults to none."""
    flow_logs: Optional[bool] = None
    """VPC flow logs on the subnet (sampled at 50%). Defaults to on in prod, off elsewhere."""
    nat_log_errors: bool = True
    """Log Cloud NAT translation errors. Defaults to true."""

    def issues(self, ctx: Context) -> list[Issue]:
        if self.existing is None:
            return network_issues(self)
        issues = [Issue((key,), "belongs to the VPC the stack creates; with `existing:` the network's own settings apply",
                        fix=f"remove {key}, or remove `existing:` to let the stack create its VPC")
                  for key in RANGE_KEYS if _field_of(key) in self.model_fields_set]
        if self.egress == "none":
            issues.append(Issue(("egress",), "`none` means no VPC, but `existing:` names one", "none",
                                allowed="privateRangesOnly, allTraffic", fix="remove `existing:`, or choose an egress"))
        return issues


def _field_of(key: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in key)


def network_issues(spec: "NetworkSpec") -> list[Issue]:
    issues: list[Issue] = []
    ranges = {}
    minimum = {"subnetCidr": 26, "podsCidr": 21, "servicesCidr": 24, "proxyOnlyCidr": 26}
    for key, value in (("subnetCidr", spec.subnet_cidr), ("podsCidr", spec.pods_cidr),
                       ("servicesCidr", spec.services_cidr), ("proxyOnlyCidr", spec.proxy_only_cidr)):
        try:
            net = ipaddress.ip_network(value, strict=True)
        except ValueError:
            issues.append(Issue((key,), "is not an IPv4 CIDR block with its host bits zero", value,
                                allowed="a private range such as 10.10.0.0/20",
                                fix=f"write the network address, e.g. {_network_of(value)}"))
            continue
        if net.version != 4 or not any(net.subnet_of(p) for p in _PRIVATE):
            issues.append(Issue((key,), "is not a private IPv4 range", value,
                                allowed="inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10",
                                fix="pick a block inside 10.0.0.0/8"))
            continue
        if net.prefixlen > minimum[key]:
            issues.append(Issue((key,), f"is too small: at least a /{minimum[key]} is needed", value,
                                fix=f"use a /{minimum[key]} or larger block"))
        ranges[key] = net
    keys = list(ranges)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            if ranges[a].overlaps(ranges[b]):
                issues.append(Issue((b,), f"overlaps {a} ({ranges[a]})", str(ranges[b]),
                                    fix=f"choose a block that does not overlap {ranges[a]}"))
    return issues


def _network_of(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        return "10.10.0.0/20"


def private_services_issues(spec: "NetworkSpec") -> list[Issue]:
    """The private-services range of a stack that creates one (a Redis cache): a private block of
    at least a /24 (Google's minimum for private services access) that overlaps no other range."""
    key, value = "privateServicesCidr", spec.private_services_cidr
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return [Issue((key,), "is not an IPv4 CIDR block with its host bits zero", value,
                      fix=f"write the network address, e.g. {_network_of(value)}")]
    if net.version != 4 or not any(net.subnet_of(p) for p in _PRIVATE):
        return [Issue((key,), "is not a private IPv4 range", value, fix="pick a block inside 10.0.0.0/8")]
    if net.prefixlen > 24:
        return [Issue((key,), "is too small: private services access needs at least a /24", value,
                      fix="use a /24 or larger block")]
    for other, cidr in (("subnetCidr", spec.subnet_cidr), ("podsCidr", spec.pods_cidr),
                        ("servicesCidr", spec.services_cidr), ("proxyOnlyCidr", spec.proxy_only_cidr)):
        try:
            if net.overlaps(ipaddress.ip_network(cidr, strict=True)):
                return [Issue((key,), f"overlaps {other} ({cidr})", value,
                              fix=f"choose a block that does not overlap {cidr}")]
        except ValueError:
            continue  # that range's own rule reports it
    return []
