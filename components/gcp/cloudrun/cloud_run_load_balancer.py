"""A Cloud Run service's own global external Application Load Balancer (`loadBalancer:` on the
service): a serverless NEG for the service, a backend service (IAP, Cloud Armor), a URL map, a
target HTTPS proxy serving a Google-managed certificate through a certificate map, with an SSL
policy, a static global address, and port 80 redirected to HTTPS.

IAP is on the backend service rather than on the Cloud Run service (`iap_enabled`): the two
cannot both be on, and the load balancer is where the certificate, Cloud Armor and the hostname
already live. It signs users in with the Google-managed OAuth client (no client to create) and
reaches the service as IAP's service agent, which this component creates (ServiceIdentity) and
lets invoke the service; the `invokers` get IAP-secured Web App User on the backend service.
The service's ingress (internal and Cloud Load Balancing) keeps the run.app URL from bypassing
it (cloud_run_model_server.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.gcp.iam.principals import member_slug
from components.core.spec import Context, ensure_valid
from components.gcp.cloudrun.load_balancer_spec import LoadBalancerSpec
from components.gcp.network.edge import certificate_map, managed_certificate, security_policy

TYPE = "mlinfra:gcp:CloudRunLoadBalancer"
"""What a service's load balancer needs enabled: Compute Engine and Certificate Manager (and IAP's API with iap)."""


@dataclass(frozen=True, kw_only=True)
class CloudRunLoadBalancerArgs:
    spec: LoadBalancerSpec
    """The load balancer as the stack file says it (`services[].loadBalancer`)."""
    service: gcp.cloudrunv2.Service
    """The Cloud Run service behind it."""
    project: str
    """The project of the service and the load balancer."""
    region: str
    """The service's region (its serverless NEG lives there)."""
    iap_members: Sequence[str] = ()
    """The principals IAP admits (the service's `invokers`), with IAP on. Defaults to none."""
    prod: bool = False
    """Protect the static address (losing it breaks the hostname's A record). Defaults to false."""
    http2: bool = False
    """The service speaks HTTP/2 end to end (gRPC, its port named h2c): the backend service speaks
    HTTP/2 to it too. Defaults to false (HTTPS: the load balancer downgrades requests to HTTP/1.1)."""


class CloudRunLoadBalancer(Component):
    """Outputs: hostname, address (the A record's value), dns_authorization_record, iap."""

    def __init__(self, name: str, args: CloudRunLoadBalancerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        spec = args.spec
        ensure_valid(f"CloudRunLoadBalancer {name}", spec, Context(project=args.project, region=args.region))
        what = "mlinfra Cloud Run"
        self.neg = gcp.compute.RegionNetworkEndpointGroup(
            f"{name}-neg", project=args.project, region=args.region, network_endpoint_type="SERVERLESS",
            cloud_run=gcp.compute.RegionNetworkEndpointGroupCloudRunArgs(service=args.service.name),
            opts=self.child())
        armor = spec.cloud_armor
        self.security_policy = None if armor is None else (
            armor.policy or security_policy(self, name, args.project, armor.rate_limit_per_minute).name)
        # No health check, port or timeout: a serverless NEG's backend service takes none. Its
        # protocol is how the load balancer reaches Cloud Run's frontend, over TLS either way:
        # HTTPS (HTTP/1.1), or HTTP2 ("HTTP/2 with SSL" in the Compute API's BackendService.Protocol;
        # H2C is cleartext, for VM and GKE backends) so gRPC calls and streams stay HTTP/2 up to
        # the h2c container (as terraform-google-lb-http#164 and GitLab Runway's gRPC backends set it).
        self.backend = gcp.compute.BackendService(
            f"{name}-backend", project=args.project, load_balancing_scheme="EXTERNAL_MANAGED",
            protocol="HTTP2" if args.http2 else "HTTPS",
            description=f"{what} {spec.hostname}",
            backends=[gcp.compute.BackendServiceBackendArgs(group=self.neg.id)],
            iap=gcp.compute.BackendServiceIapArgs(enabled=True) if spec.iap else None,
            security_policy=self.security_policy,
            log_config=gcp.compute.BackendServiceLogConfigArgs(enable=True, sample_rate=1.0),
            opts=self.child())

        self.iap_grants: list[pulumi.Resource] = []
        if spec.iap:
            agent = gcp.projects.ServiceIdentity(f"{name}-iap-agent", project=args.project,
                                                 service="iap.googleapis.com", opts=self.child())
            number = gcp.organizations.get_project_output(project_id=args.project).number
            self.iap_grants.append(gcp.cloudrunv2.ServiceIamMember(
                f"{name}-iap-invoker", project=args.project, location=args.region, name=args.service.name,
                role="roles/run.invoker",
                member=number.apply(lambda n: f"serviceAccount:service-{n}@gcp-sa-iap.iam.gserviceaccount.com"),
                opts=self.child(depends_on=[agent])))
            self.iap_grants += [gcp.iap.WebBackendServiceIamMember(
                f"{name}-iap-user-{member_slug(member)}", project=args.project, web_backend_service=self.backend.name,
                role="roles/iap.httpsResourceAccessor", member=member, opts=self.child())
                for member in args.iap_members]

        cert = managed_certificate(self, name, spec.hostname, args.project, "global", what)
        cert_map, entry = certificate_map(self, name, spec.hostname, args.project, cert.certificate, what)
        self.ssl_policy = gcp.compute.SSLPolicy(f"{name}-ssl", project=args.project, min_tls_version="TLS_1_2",
                                                profile=spec.tls_profile, opts=self.child())
        self.url_map = gcp.compute.URLMap(f"{name}-urlmap", project=args.project, default_service=self.backend.id,
                                          description=f"{what} {spec.hostname}", opts=self.child())
        self.https_proxy = gcp.compute.TargetHttpsProxy(
            f"{name}-https-proxy", project=args.project, url_map=self.url_map.id, ssl_policy=self.ssl_policy.id,
            certificate_map=pulumi.Output.concat("//certificatemanager.googleapis.com/", cert_map.id),
            opts=self.child(depends_on=[entry]))
        self.address_object = gcp.compute.GlobalAddress(f"{name}-ip", project=args.project, ip_version="IPV4",
                                                        description=f"{what} {spec.hostname}",
                                                        opts=self.child(protect=args.prod))
        self.https_rule = gcp.compute.GlobalForwardingRule(
            f"{name}-https", project=args.project, load_balancing_scheme="EXTERNAL_MANAGED", ip_protocol="TCP",
            port_range="443", ip_address=self.address_object.id, target=self.https_proxy.id, opts=self.child())
        self.redirect_map = gcp.compute.URLMap(
            f"{name}-redirect", project=args.project, description=f"{what} {spec.hostname}: HTTP to HTTPS",
            default_url_redirect=gcp.compute.URLMapDefaultUrlRedirectArgs(
                https_redirect=True, strip_query=False, redirect_response_code="MOVED_PERMANENTLY_DEFAULT"),
            opts=self.child())
        self.http_proxy = gcp.compute.TargetHttpProxy(f"{name}-http-proxy", project=args.project,
                                                      url_map=self.redirect_map.id, opts=self.child())
        self.http_rule = gcp.compute.GlobalForwardingRule(
            f"{name}-http", project=args.project, load_balancing_scheme="EXTERNAL_MANAGED", ip_protocol="TCP",
            port_range="80", ip_address=self.address_object.id, target=self.http_proxy.id, opts=self.child())

        self.hostname = spec.hostname
        self.address = self.address_object.address
        self.dns_authorization_record = cert.record
        self.iap = spec.iap
        self.register_outputs({"hostname": self.hostname, "address": self.address,
                               "dns_authorization_record": self.dns_authorization_record, "iap": self.iap})
