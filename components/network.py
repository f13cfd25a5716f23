"""A private VPC for ML workloads: one regional subnet with secondary ranges for GKE pods and
services, Private Google Access, Cloud NAT for outbound traffic, and a minimal firewall."""

from __future__ import annotations

import ipaddress
from typing import Literal, Optional

import pulumi
import pulumi_gcp as gcp
from pydantic import Field

from components.base import Component
from components.validation import Issue, Spec, raise_if_any

# Google's load balancer and health check ranges.
HEALTH_CHECK_RANGES = ["35.191.0.0/16", "130.211.0.0/22"]
_PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")]


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
    egress: Literal["privateRangesOnly", "allTraffic"] = "privateRangesOnly"
    """Which outbound traffic of serverless workloads goes through the VPC. Defaults to privateRangesOnly."""
    flow_logs: Optional[bool] = None
    """VPC flow logs on the subnet (sampled at 50%). Defaults to on in prod, off elsewhere."""
    nat_log_errors: bool = True
    """Log Cloud NAT translation errors. Defaults to true."""


def network_issues(spec: NetworkSpec) -> list[Issue]:
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


class NetworkArgs:
    def __init__(self, spec: NetworkSpec, region: str, flow_logs: bool = False, proxy_only_subnet: bool = False):
        """`flow_logs` is the resolved default when the spec leaves it unset; `proxy_only_subnet`
        adds the subnet regional internal load balancers (GKE Gateway gke-l7-rilb) need."""
        self.spec = spec
        self.region = region
        self.flow_logs = spec.flow_logs if spec.flow_logs is not None else flow_logs
        self.proxy_only_subnet = proxy_only_subnet


class Network(Component):
    """VPC, subnet, router, NAT and firewall. Outputs: network_id, subnetwork_id, range names."""

    PODS_RANGE = "pods"
    SERVICES_RANGE = "services"

    def __init__(self, name: str, args: NetworkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("mlinfra:gcp:Network", name, opts)
        raise_if_any(f"Network {name}", network_issues(args.spec))
        spec = args.spec

        self.network = gcp.compute.Network(
            name,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            description="mlinfra VPC",
            opts=self.child(),
        )
        log_config = gcp.compute.SubnetworkLogConfigArgs(
            aggregation_interval="INTERVAL_5_SEC", flow_sampling=0.5, metadata="INCLUDE_ALL_METADATA"
        ) if args.flow_logs else None
        self.subnetwork = gcp.compute.Subnetwork(
            f"{name}-subnet",
            region=args.region,
            network=self.network.id,
            ip_cidr_range=spec.subnet_cidr,
            private_ip_google_access=True,
            secondary_ip_ranges=[
                gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=self.PODS_RANGE, ip_cidr_range=spec.pods_cidr),
                gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=self.SERVICES_RANGE, ip_cidr_range=spec.services_cidr),
            ],
            log_config=log_config,
            opts=self.child(),
        )
        self.proxy_only = gcp.compute.Subnetwork(
            f"{name}-proxy-only",
            region=args.region,
            network=self.network.id,
            ip_cidr_range=spec.proxy_only_cidr,
            purpose="REGIONAL_MANAGED_PROXY",
            role="ACTIVE",
            opts=self.child(),
        ) if args.proxy_only_subnet else None
        self.router = gcp.compute.Router(
            f"{name}-router", region=args.region, network=self.network.id, opts=self.child()
        )
        self.nat = gcp.compute.RouterNat(
            f"{name}-nat",
            router=self.router.name,
            region=args.region,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
            subnetworks=[gcp.compute.RouterNatSubnetworkArgs(
                name=self.subnetwork.self_link, source_ip_ranges_to_nats=["ALL_IP_RANGES"])],
            log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY")
            if spec.nat_log_errors else None,
            opts=self.child(),
        )
        internal = [spec.subnet_cidr, spec.pods_cidr, spec.services_cidr] + \
            ([spec.proxy_only_cidr] if args.proxy_only_subnet else [])
        self.allow_internal = gcp.compute.Firewall(
            f"{name}-allow-internal",
            network=self.network.id,
            direction="INGRESS",
            source_ranges=internal,
            allows=[
                gcp.compute.FirewallAllowArgs(protocol="tcp"),
                gcp.compute.FirewallAllowArgs(protocol="udp"),
                gcp.compute.FirewallAllowArgs(protocol="icmp"),
            ],
            description="Traffic between the stack's own nodes, pods and services.",
            opts=self.child(),
        )
        self.allow_health_checks = gcp.compute.Firewall(
            f"{name}-allow-health-checks",
            network=self.network.id,
            direction="INGRESS",
            source_ranges=HEALTH_CHECK_RANGES,
            allows=[gcp.compute.FirewallAllowArgs(protocol="tcp")],
            description="Google Cloud load balancer health checks.",
            opts=self.child(),
        )

        self.network_id = self.network.id
        self.network_name = self.network.name
        self.subnetwork_id = self.subnetwork.id
        self.register_outputs({
            "network_id": self.network.id,
            "subnetwork_id": self.subnetwork.id,
        })
