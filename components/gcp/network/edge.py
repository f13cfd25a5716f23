"""What every mlinfra HTTPS load balancer in front of model servers shares, whichever builds it
(a GKE Gateway, gke/gke_gateway.py, or a Cloud Run service's own load balancer,
cloudrun/cloud_run_load_balancer.py): a Google-managed Certificate Manager certificate for one
hostname, authorized by DNS, and the Cloud Armor policy the stack creates.

A Certificate Manager certificate is issued once the CNAME record of its DNS authorization
(returned here as `record`) exists in the domain's zone; it serves a global external Application
Load Balancer through a certificate map (a target HTTPS proxy's `certificate_map`, or a GKE
Gateway's `networking.gke.io/certmap` annotation).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

# OWASP ModSecurity Core Rule Set 3.3 expressions Cloud Armor preconfigures.
WAF_RULES = (("sqli-v33-stable", "SQL injection"), ("xss-v33-stable", "cross-site scripting"))


@dataclass(frozen=True)
class ManagedCertificate:
    dns_authorization: gcp.certificatemanager.DnsAuthorization
    certificate: gcp.certificatemanager.Certificate
    record: pulumi.Output
    """The DNS authorization's CNAME record: {name, type, data}."""


def managed_certificate(owner, name: str, hostname: str, project: str, location: str, what: str) -> ManagedCertificate:
    """`<name>-dns-auth` and `<name>-cert`, children of the component `owner`."""
    auth = gcp.certificatemanager.DnsAuthorization(
        f"{name}-dns-auth", domain=hostname, location=location, project=project,
        description=f"{what} {hostname}", opts=owner.child())
    certificate = gcp.certificatemanager.Certificate(
        f"{name}-cert", location=location, project=project, description=f"{what} {hostname} (Google-managed)",
        managed=gcp.certificatemanager.CertificateManagedArgs(domains=[hostname], dns_authorizations=[auth.id]),
        opts=owner.child())
    record = auth.dns_resource_records.apply(lambda rs: rs[0] if rs else None).apply(
        lambda r: None if r is None else {"name": _get(r, "name"), "type": _get(r, "type"), "data": _get(r, "data")})
    return ManagedCertificate(auth, certificate, record)


def certificate_map(owner, name: str, hostname: str, project: str, certificate, what: str):
    """`<name>-certmap` with one entry for the hostname: what a global external load balancer takes."""
    cert_map = gcp.certificatemanager.CertificateMap(
        f"{name}-certmap", project=project, description=f"{what} {hostname}", opts=owner.child())
    entry = gcp.certificatemanager.CertificateMapEntry(
        f"{name}-certmap-entry", map=cert_map.name, certificates=[certificate.id], hostname=hostname,
        project=project, opts=owner.child())
    return cert_map, entry


def security_policy(owner, name: str, project: str, rate_limit_per_minute: int) -> gcp.compute.SecurityPolicy:
    """`<name>-armor`: OWASP SQL-injection and XSS rules, a per-IP rate limit, allow for the rest."""
    rules = [gcp.compute.SecurityPolicyRuleArgs(
        priority=1000 + i, action="deny(403)", description=f"OWASP CRS 3.3: {what}",
        match=gcp.compute.SecurityPolicyRuleMatchArgs(
            expr=gcp.compute.SecurityPolicyRuleMatchExprArgs(expression=f"evaluatePreconfiguredWaf('{rule}')")))
        for i, (rule, what) in enumerate(WAF_RULES)]
    rules.append(gcp.compute.SecurityPolicyRuleArgs(
        priority=2000, action="throttle", description=f"{rate_limit_per_minute} requests a minute per client IP",
        match=gcp.compute.SecurityPolicyRuleMatchArgs(
            versioned_expr="SRC_IPS_V1", config=gcp.compute.SecurityPolicyRuleMatchConfigArgs(src_ip_ranges=["*"])),
        rate_limit_options=gcp.compute.SecurityPolicyRuleRateLimitOptionsArgs(
            conform_action="allow", exceed_action="deny(429)", enforce_on_key="IP",
            rate_limit_threshold=gcp.compute.SecurityPolicyRuleRateLimitOptionsRateLimitThresholdArgs(
                count=rate_limit_per_minute, interval_sec=60))))
    rules.append(gcp.compute.SecurityPolicyRuleArgs(
        priority=2147483647, action="allow", description="default rule",
        match=gcp.compute.SecurityPolicyRuleMatchArgs(
            versioned_expr="SRC_IPS_V1", config=gcp.compute.SecurityPolicyRuleMatchConfigArgs(src_ip_ranges=["*"]))))
    return gcp.compute.SecurityPolicy(
        f"{name}-armor", project=project, type="CLOUD_ARMOR", rules=rules,
        description="mlinfra model servers: OWASP rules and a per-IP rate limit", opts=owner.child())


def _get(record, key: str):
    return record.get(key) if isinstance(record, dict) else getattr(record, key, None)
