"""The GKE Gateway a cluster's model servers share: an internal or external Application Load
Balancer, and for a hostname HTTPS with a Google-managed certificate, a static address, an SSL
policy and an HTTP-to-HTTPS redirect; for Cloud Armor the policy (or an existing one by name).

The certificate is authorized by DNS: Certificate Manager issues it once the CNAME record
output as `dns_authorization_record` exists in the domain's zone, and the hostname's A record
points at `address`. A global external Gateway takes the certificate through a certificate map
(the `networking.gke.io/certmap` annotation); a regional one takes the regional certificate by
name in its HTTPS listener's `tls.options` (`networking.gke.io/cert-manager-certs`), as GKE's
"Secure a Gateway" documents. The servers attach HTTPRoutes on its `https` (or `http`) listener
and GCPBackendPolicies for Cloud Armor and IAP on their own Services (gke_model_server.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.core.component import Component
from components.core.spec import Context, ensure_valid
from components.gcp.gke.gateway_spec import GatewaySpec
from components.gcp.network.edge import certificate_map, managed_certificate, security_policy

TYPE = "mlinfra:gcp:GkeGateway"
GATEWAY_NAME = "mlinfra"
# Labels that say a stack-file key asked for an external Gateway, and for plain HTTP on one
# (the guardrails MLI-GW-001 and MLI-GW-002 read them, policy/gateway.py).
EXPOSURE_LABEL = "mlinfra.dev/exposure"
PLAIN_HTTP_LABEL = "mlinfra.dev/plain-http"


@dataclass(frozen=True, kw_only=True)
class GkeGatewayArgs:
    spec: GatewaySpec
    """The Gateway as the stack file says it (`mlinfra:cluster.gateway`)."""
    project: str
    """The project of its addresses, certificate and policies."""
    region: str
    """The cluster's region (a regional Gateway's certificate, address and SSL policy live there)."""
    environment: str
    """dev, staging or prod."""
    provider: pulumi.ProviderResource
    """The cluster's Kubernetes provider."""
    namespace: str
    """The namespace the component creates for the Gateway."""
    subnetwork_id: Optional[pulumi.Input[str]] = None
    """The subnet an internal Gateway's static address comes from. Defaults to none (required for
    an internal Gateway with a hostname)."""
    depends_on: Sequence[pulumi.Resource] = ()
    """What the Gateway waits for (the proxy-only subnet of a regional Gateway). Defaults to nothing."""
    former_parent: Optional[pulumi.Resource] = None
    """Where the namespace and Gateway lived before this component (the pattern): aliased, so
    existing stacks keep them. Defaults to none."""


class GkeGateway(Component):
    """Outputs: gateway_class, listener (the section routes attach to), hostname, address,
    dns_authorization_record, security_policy (name), iap (spec or None)."""

    def __init__(self, name: str, args: GkeGatewayArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        spec = args.spec
        ensure_valid(f"GkeGateway {name}", spec, Context(project=args.project, region=args.region,
                                                          environment=args.environment))
        regional = spec.resolved_scope == "regional"
        location = args.region if regional else "global"
        self.gateway_class = spec.gateway_class
        self.hostname = spec.hostname
        self.listener = "https" if spec.https else "http"
        self.iap = spec.iap

        moved = {"aliases": [pulumi.Alias(parent=args.former_parent)]} if args.former_parent is not None else {}
        self.namespace_object = k8s.core.v1.Namespace(f"{name}-ns", metadata={
            "name": args.namespace, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}},
            opts=self.child(provider=args.provider, **moved))

        annotations: dict = {}
        addresses: list = []
        https_listener: Optional[dict] = None
        self.address = self.dns_authorization_record = None
        self.ssl_policy = None
        if spec.https:
            addresses, self.address = self._address(name, args, regional)
            cert = managed_certificate(self, name, spec.hostname, args.project, location, "mlinfra Gateway")
            self.dns_authorization, self.certificate = cert.dns_authorization, cert.certificate
            self.dns_authorization_record = cert.record
            https_listener = {"name": "https", "protocol": "HTTPS", "port": 443, "hostname": spec.hostname,
                              "allowedRoutes": {"namespaces": {"from": "All"}}}
            if regional:
                https_listener["tls"] = {"mode": "Terminate",
                                         "options": {"networking.gke.io/cert-manager-certs": self.certificate.name}}
            else:
                cert_map, _ = certificate_map(self, name, spec.hostname, args.project, self.certificate,
                                              "mlinfra Gateway")
                annotations["networking.gke.io/certmap"] = cert_map.name
            self.ssl_policy = (gcp.compute.RegionSslPolicy(
                f"{name}-ssl", region=args.region, project=args.project, min_tls_version="TLS_1_2",
                profile=spec.tls_profile, opts=self.child()) if regional else gcp.compute.SSLPolicy(
                f"{name}-ssl", project=args.project, min_tls_version="TLS_1_2", profile=spec.tls_profile,
                opts=self.child()))

        self.security_policy = None
        if spec.cloud_armor is not None:
            self.security_policy = spec.cloud_armor.policy or security_policy(
                self, name, args.project, spec.cloud_armor.rate_limit_per_minute).name

        listeners = [{"name": "http", "protocol": "HTTP", "port": 80, "allowedRoutes": {
            # With HTTPS, port 80 only redirects: the redirect route lives beside the Gateway.
            "namespaces": {"from": "Same" if spec.https else "All"}}}]
        if https_listener is not None:
            listeners.append(https_listener)
        metadata: dict = {"name": GATEWAY_NAME, "namespace": args.namespace,
                          "labels": {EXPOSURE_LABEL: spec.exposure}}
        if spec.allow_plain_http:
            metadata["labels"][PLAIN_HTTP_LABEL] = "allowed"
        if annotations:
            metadata["annotations"] = annotations
        gateway_spec: dict = {"gatewayClassName": spec.gateway_class, "listeners": listeners}
        if addresses:
            gateway_spec["addresses"] = addresses
        self.gateway = k8s.apiextensions.CustomResource(
            f"{name}", api_version="gateway.networking.k8s.io/v1", kind="Gateway", metadata=metadata,
            spec=gateway_spec, opts=self.child(provider=args.provider, **moved,
                                               depends_on=[self.namespace_object, *args.depends_on]))

        self.gateway_policy = self.redirect = None
        if spec.https:
            self.gateway_policy = k8s.apiextensions.CustomResource(
                f"{name}-policy", api_version="networking.gke.io/v1", kind="GCPGatewayPolicy",
                metadata={"name": GATEWAY_NAME, "namespace": args.namespace},
                spec={"default": {"sslPolicy": self.ssl_policy.name},
                      "targetRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GATEWAY_NAME}},
                opts=self.child(provider=args.provider, depends_on=[self.gateway]))
            self.redirect = k8s.apiextensions.CustomResource(
                f"{name}-redirect", api_version="gateway.networking.k8s.io/v1", kind="HTTPRoute",
                metadata={"name": "http-to-https", "namespace": args.namespace},
                spec={"parentRefs": [{"name": GATEWAY_NAME, "sectionName": "http"}],
                      "hostnames": [spec.hostname],
                      "rules": [{"filters": [{"type": "RequestRedirect", "requestRedirect": {
                          "scheme": "https", "statusCode": 301}}]}]},
                opts=self.child(provider=args.provider, depends_on=[self.gateway]))

        self.ref = (GATEWAY_NAME, args.namespace)
        self.register_outputs({"gateway_class": self.gateway_class, "listener": self.listener,
                               "hostname": self.hostname, "address": self.address,
                               "dns_authorization_record": self.dns_authorization_record})

    def _address(self, name: str, args: GkeGatewayArgs, regional: bool):
        """A static address the hostname's A record points at, named in the Gateway's `addresses`;
        protected in prod, where losing it breaks the DNS record until someone repoints it."""
        spec = args.spec
        keep = self.child(protect=args.environment == "prod")
        if not regional:
            address = gcp.compute.GlobalAddress(f"{name}-ip", project=args.project, ip_version="IPV4",
                                                description=f"mlinfra Gateway {spec.hostname}", opts=keep)
        elif spec.external:
            address = gcp.compute.Address(f"{name}-ip", project=args.project, region=args.region,
                                          address_type="EXTERNAL", network_tier="PREMIUM",
                                          description=f"mlinfra Gateway {spec.hostname}", opts=keep)
        else:
            # The HTTP and HTTPS forwarding rules share one internal address.
            address = gcp.compute.Address(f"{name}-ip", project=args.project, region=args.region,
                                          address_type="INTERNAL", purpose="SHARED_LOADBALANCER_VIP",
                                          subnetwork=args.subnetwork_id,
                                          description=f"mlinfra Gateway {spec.hostname}", opts=keep)
        return [{"type": "NamedAddress", "value": address.name}], address.address
