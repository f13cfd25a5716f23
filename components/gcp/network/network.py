"""A private VPC for ML workloads: one regional subnet with secondary ranges for GKE pods and
services, Private Google Access, Cloud NAT for outbound traffic, and a minimal firewall.

With Memorystore on it (`memorystore`), the private connectivity each engine needs: for Valkey
a Private Service Connect service connection policy (service class `gcp-memorystore`) on the
subnet, through which Memorystore creates the instance's endpoints; for Redis an allocated
private-services range peered with `servicenetworking.googleapis.com` (private services access)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.core.spec import Context, ensure_valid
from components.gcp.network.network_spec import GOOGLE_LB_RANGES, ExistingNetworkSpec, NetworkSpec

TYPE = "mlinfra:gcp:Network"


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    spec: NetworkSpec
    """The VPC as the stack file says it."""
    region: str
    """The region of the subnet, router and NAT."""
    flow_logs: bool = False
    """VPC flow logs when the spec leaves them unset (the pattern turns them on in prod). Defaults to false."""
    proxy_only_subnet: bool = False
    """Add the proxy-only subnet regional internal load balancers (GKE Gateway gke-l7-rilb) need. Defaults to false."""
    project: Optional[str] = None
    """The stack's project: an existing VPC without a host project is in it. Defaults to the provider's project."""
    memorystore: Sequence[str] = ()
    """Memorystore engines (`valkey`, `redis`) of instances on this VPC, each gets its private
    connectivity. Defaults to none."""

    @property
    def subnet_flow_logs(self) -> bool:
        return self.spec.flow_logs if self.spec.flow_logs is not None else self.flow_logs


class Network(Component):
    """VPC, subnet, router, NAT and firewall. Outputs: network_id, subnetwork_id, range names."""

    PODS_RANGE = "pods"
    SERVICES_RANGE = "services"

    def __init__(self, name: str, args: NetworkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        ensure_valid(f"Network {name}", args.spec, Context(region=args.region))
        spec = args.spec
        if spec.existing is not None:
            self._use_existing(spec.existing, args)
            return

        self.project: Optional[str] = None
        self.pods_range, self.services_range = self.PODS_RANGE, self.SERVICES_RANGE
        self.network = gcp.compute.Network(
            name,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            description="mlinfra VPC",
            opts=self.child(),
        )
        log_config = gcp.compute.SubnetworkLogConfigArgs(
            aggregation_interval="INTERVAL_5_SEC", flow_sampling=0.5, metadata="INCLUDE_ALL_METADATA"
        ) if args.subnet_flow_logs else None
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
            source_ranges=list(GOOGLE_LB_RANGES),
            allows=[gcp.compute.FirewallAllowArgs(protocol="tcp")],
            description="Google Cloud load balancer health checks.",
            opts=self.child(),
        )

        self.network_id = self.network.id
        self.network_name = self.network.name
        self.subnetwork_id = self.subnetwork.id
        self._memorystore(args)
        self.register_outputs({
            "network_id": self.network.id,
            "subnetwork_id": self.subnetwork.id,
        })

    def _use_existing(self, existing: ExistingNetworkSpec, args: NetworkArgs) -> None:
        """Refer to a VPC the stack does not own, by its resource paths: no lookup is needed (a
        wrong name fails the first resource that uses it, as with any reference), and nothing is
        created in a project the deployer may not administer."""
        host = existing.host_project or args.project or gcp.config.project
        self.project = host
        self.pods_range, self.services_range = existing.pods_range, existing.services_range
        self.network = self.subnetwork = self.proxy_only = self.router = self.nat = None
        # The VPC's own administrators set up its Memorystore connectivity (the spec says it exists).
        self.memorystore_policy = self.private_services = self.private_services_range = None
        self.memorystore_dependencies: list[pulumi.Resource] = []
        self.reserved_range = existing.private_services_range
        # Plain text (the stack file names them): what uses them can tell a change at plan time.
        self.network_id = f"projects/{host}/global/networks/{existing.network}"
        self.network_name = existing.network
        self.subnetwork_id = f"projects/{host}/regions/{args.region}/subnetworks/{existing.subnet}"
        pulumi.log.info(f"the stack uses the existing VPC {existing.network} (subnet {existing.subnet}) of project "
                        f"{host}: it creates no network, subnet, router, NAT or firewall rule there", self)
        self.register_outputs({"network_id": self.network_id, "subnetwork_id": self.subnetwork_id})

    def _memorystore(self, args: NetworkArgs) -> None:
        """The private connectivity of the Memorystore engines on this VPC (none without one)."""
        self.memorystore_policy = self.private_services = self.private_services_range = None
        self.reserved_range: Optional[str] = None
        if "valkey" in args.memorystore:
            # One policy per VPC, region and service class: a fixed identity.
            self.memorystore_policy = gcp.networkconnectivity.ServiceConnectionPolicy(
                f"{self.name}-memorystore-psc",
                name=f"{self.name}-memorystore",
                location=args.region,
                network=self.network.id,
                service_class="gcp-memorystore",
                psc_config=gcp.networkconnectivity.ServiceConnectionPolicyPscConfigArgs(
                    subnetworks=[self.subnetwork.id]),
                description="Memorystore for Valkey endpoints on the stack's subnet.",
                opts=self.child(delete_before_replace=True),
            )
        if "redis" in args.memorystore:
            net = ipaddress.ip_network(args.spec.private_services_cidr)
            self.private_services_range = gcp.compute.GlobalAddress(
                f"{self.name}-private-services",
                network=self.network.id,
                purpose="VPC_PEERING",
                address_type="INTERNAL",
                address=str(net.network_address),
                prefix_length=net.prefixlen,
                description="Private services access (Memorystore for Redis).",
                opts=self.child(),
            )
            self.private_services = gcp.servicenetworking.Connection(
                f"{self.name}-private-services-peering",
                network=self.network.id,
                service="servicenetworking.googleapis.com",
                reserved_peering_ranges=[self.private_services_range.name],
                opts=self.child(),
            )
            self.reserved_range = self.private_services_range.name
        self.memorystore_dependencies = [r for r in (self.memorystore_policy, self.private_services) if r is not None]
