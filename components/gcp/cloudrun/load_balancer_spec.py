"""A Cloud Run service behind its own global external Application Load Balancer, as the stack
file says it (`services[].loadBalancer`), and the rules the APIs would otherwise enforce at apply
time (no Pulumi).

Facts the rules encode (cloud.google.com/iap/docs/enabling-cloud-run, .../run/docs/securing/
identity-aware-proxy-cloud-run, .../load-balancing/docs/negs/serverless-neg-concepts):
- IAP on the load balancer's backend service signs users in with a Google-managed OAuth client
  (users of the project's organization) and reaches Cloud Run as the IAP service agent
  `service-<project-number>@gcp-sa-iap.iam.gserviceaccount.com`, which needs roles/run.invoker
  on the service; users need IAP-secured Web App User on the backend service;
- IAP cannot be on both the load balancer and the Cloud Run service; IAP on the load balancer
  does not guard the run.app URL, so the service's ingress must be internal and Cloud Load
  Balancing; IAP signs in over HTTPS, so it needs the hostname's certificate;
- Cloud Armor security policies attach to a global external ALB's backend service whatever
  its backend, serverless NEGs included.
"""

from __future__ import annotations

from typing import Literal, Optional, Sequence

from components.core.issues import Issue
from components.core.spec import Context, Spec
from components.gcp.gke.gateway_spec import HOSTNAME, CloudArmorSpec


class LoadBalancerSpec(Spec):
    """A global external Application Load Balancer in front of one Cloud Run service: HTTPS on
    a hostname with a Google-managed certificate, HTTP redirected to HTTPS, optionally IAP and
    Cloud Armor; the service then takes traffic only from it (ingress internalAndLoadBalancer)."""

    hostname: str
    """Serve the service on this name, e.g. api.example.com: a Google-managed certificate from
    Certificate Manager (authorized by the DNS record the plan outputs as `service_load_balancers`)
    and a static global address to point the name's A record at. Required."""
    iap: bool = False
    """Sign users in with Identity-Aware Proxy (Google-managed OAuth client: users of your
    organization) before any request reaches the service; `invokers` become the principals IAP
    lets through (IAP-secured Web App User), and only IAP's service agent may invoke the service.
    Defaults to false (the service's own IAM checks callers' ID tokens, or `public: true`)."""
    cloud_armor: Optional[CloudArmorSpec] = None
    """A Cloud Armor policy on the load balancer's backend: OWASP rules and a per-IP rate limit
    the stack creates, or an existing policy by name. Defaults to none."""
    tls_profile: Literal["COMPATIBLE", "MODERN", "RESTRICTED"] = "MODERN"
    """The SSL policy's profile (TLS 1.2 at least) on the HTTPS proxy. Defaults to MODERN."""

    def issues(self, ctx: Context) -> list[Issue]:
        if not HOSTNAME.match(self.hostname):
            return [Issue(("hostname",), "is not a DNS name a managed certificate can cover", self.hostname,
                          allowed="lowercase labels of letters, digits and hyphens, dot-separated, no wildcard",
                          fix="e.g. api.example.com")]
        return []


def load_balancer_issues(lb: Optional[LoadBalancerSpec], ingress_set: bool, ingress: str, public: bool,
                         invokers: list[str]) -> list[Issue]:
    """The service-level combinations the APIs refuse or that would bypass the load balancer
    (paths relative to the service)."""
    if lb is None:
        return []
    issues: list[Issue] = []
    if ingress_set and ingress != "internalAndLoadBalancer":
        why = ("would refuse the load balancer's requests" if ingress == "internal" else
               "would let requests bypass the load balancer (and its IAP and Cloud Armor) through the run.app URL")
        issues.append(Issue(("ingress",), f"{ingress} {why}", ingress, allowed="internalAndLoadBalancer",
                            fix="remove ingress (a service with a loadBalancer takes internalAndLoadBalancer)"))
    if lb.iap and public:
        issues.append(Issue(("public",), "a service behind IAP is not public: IAP signs every caller in",
                            True, fix="remove public, or set loadBalancer.iap: false"))
    if lb.iap and not invokers:
        issues.append(Issue(("invokers",), "IAP would let nobody through: invokers are the principals it admits",
                            fix="add users or groups, e.g. group:ml-team@example.com"))
    return issues


APIS = ("compute.googleapis.com", "certificatemanager.googleapis.com")


def apis(specs: Sequence[Optional[LoadBalancerSpec]]) -> tuple[str, ...]:
    """The APIs the stack's load balancers (None: a service without one) need enabled."""
    lbs = [lb for lb in specs if lb is not None]
    return (APIS if lbs else ()) + (("iap.googleapis.com",) if any(lb.iap for lb in lbs) else ())
