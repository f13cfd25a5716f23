"""The Gateway the cluster's model servers sit behind, as the stack file says it
(`mlinfra:cluster.gateway`), and the rules of GKE's Gateway classes (no Pulumi).

Facts the rules encode, from GKE's Gateway API types and docs
(github.com/GoogleCloudPlatform/gke-gateway-api, apis/networking/v1; "Secure a Gateway" and
"GatewayClass capabilities" in cloud.google.com/kubernetes-engine/docs):
- a global external Gateway takes Certificate Manager certificates through a certificate map
  (the `networking.gke.io/certmap` annotation); a regional Gateway takes regional certificates
  by name in its HTTPS listener's `tls.options` (`networking.gke.io/cert-manager-certs`);
- Cloud Armor (GCPBackendPolicy `securityPolicy`) is for the global external class here;
- IAP on GCPBackendPolicy needs `clientID` and `oauth2ClientSecret` (a Kubernetes Secret in the
  policy's namespace): GKE's Gateway has no Google-managed OAuth client yet
  (GoogleCloudPlatform/gke-gateway-api#57, open), unlike Ingress' BackendConfig.
"""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import Field

from components.core.issues import Issue
from components.core.spec import Context, Spec

# (exposure, scope) -> GKE GatewayClass.
GATEWAY_CLASSES = {
    ("internal", "regional"): "gke-l7-rilb",
    ("external", "global"): "gke-l7-global-external-managed",
    ("external", "regional"): "gke-l7-regional-external-managed",
}
EXTERNAL_CLASSES = frozenset(c for (exposure, _), c in GATEWAY_CLASSES.items() if exposure == "external")
# Classes whose backends take a Cloud Armor policy through GCPBackendPolicy (GKE's capabilities
# table; regional external Gateways do not, whatever regional Cloud Armor does on hand-built LBs).
CLOUD_ARMOR_CLASSES = frozenset({"gke-l7-global-external-managed"})
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
HOSTNAME = _HOSTNAME
"""A DNS name a Google-managed certificate can cover (no wildcard)."""
_OAUTH_CLIENT = re.compile(r"^[0-9]+-[a-z0-9]+\.apps\.googleusercontent\.com$")


class CloudArmorSpec(Spec):
    """A Cloud Armor policy on every model server's backends."""

    policy: Optional[str] = Field(None, pattern=r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
    """An existing Cloud Armor security policy, by name, e.g. org-edge-policy. Defaults to one the
    stack creates: OWASP SQL-injection and XSS rules (deny 403), a per-client-IP rate limit, and
    allow for the rest."""
    rate_limit_per_minute: int = Field(600, ge=1, le=100000)
    """Requests a minute one client IP may send before it gets 429s (the policy the stack creates).
    Defaults to 600."""

    def issues(self, ctx: Context) -> list[Issue]:
        if self.policy is not None and "rate_limit_per_minute" in self.model_fields_set:
            return [Issue(("rateLimitPerMinute",), "applies to the policy the stack creates, not to an existing one",
                          self.rate_limit_per_minute, fix="remove rateLimitPerMinute, or remove policy")]
        return []


class IapSpec(Spec):
    """Identity-Aware Proxy in front of every model server: only signed-in principals with
    IAP-secured Web App User reach them."""

    client_id: str
    """The OAuth client's ID, e.g. 1234-abc.apps.googleusercontent.com (not a secret). Required."""
    client_secret: str = Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
    """The Kubernetes Secret holding the OAuth client's secret under one key, created in each
    server's namespace outside the stack (`kubectl create secret generic <name> -n ml-<service>
    --from-literal=key=...`), so its value never passes through Pulumi. Required."""

    def issues(self, ctx: Context) -> list[Issue]:
        if not _OAUTH_CLIENT.match(self.client_id):
            return [Issue(("clientId",), "is not an OAuth client ID", self.client_id,
                          allowed="<number>-<id>.apps.googleusercontent.com",
                          fix="copy the client ID from APIs & Services > Credentials")]
        return []


class GatewaySpec(Spec):
    """How the model servers are reached: an internal or external Application Load Balancer,
    HTTPS with a Google-managed certificate for a hostname, Cloud Armor and IAP."""

    exposure: Literal["internal", "external"] = "internal"
    """internal: reachable from the VPC only; external: from the internet (then hostname, for
    HTTPS, is required unless allowPlainHttp). Defaults to internal."""
    scope: Optional[Literal["regional", "global"]] = None
    """The load balancer: global (external only: gke-l7-global-external-managed, Cloud Armor) or
    regional (gke-l7-rilb inside, gke-l7-regional-external-managed outside). Defaults to regional
    for internal, global for external."""
    hostname: Optional[str] = None
    """Serve HTTPS on this name, e.g. llm.example.com: a Google-managed certificate from Certificate
    Manager (authorized by the DNS record the plan outputs), a static address to point the name at,
    HTTP redirected to HTTPS, and routes answering on this name only. Defaults to none (HTTP on
    port 80)."""
    allow_plain_http: bool = False
    """Let an external Gateway serve plain HTTP without a hostname. Defaults to false (an external
    Gateway must serve HTTPS)."""
    tls_profile: Literal["COMPATIBLE", "MODERN", "RESTRICTED"] = "MODERN"
    """The SSL policy's profile (TLS 1.2 at least) on the HTTPS listener. Defaults to MODERN."""
    cloud_armor: Optional[CloudArmorSpec] = None
    """Cloud Armor on every server's backends (global external Gateway). Defaults to none."""
    iap: Optional[IapSpec] = None
    """Identity-Aware Proxy on every server's backends (needs hostname: IAP signs in over HTTPS).
    Defaults to none."""

    @property
    def resolved_scope(self) -> str:
        return self.scope or ("global" if self.exposure == "external" else "regional")

    @property
    def gateway_class(self) -> Optional[str]:
        return GATEWAY_CLASSES.get((self.exposure, self.resolved_scope))

    @property
    def external(self) -> bool:
        return self.exposure == "external"

    @property
    def https(self) -> bool:
        return self.hostname is not None

    def issues(self, ctx: Context) -> list[Issue]:
        issues: list[Issue] = []
        if self.gateway_class is None:
            issues.append(Issue(("scope",), "an internal Gateway is regional (gke-l7-rilb); a cross-region internal "
                                "one is multi-cluster only", self.scope, allowed="regional",
                                fix="remove scope, or set exposure: external"))
        if self.hostname is not None and not _HOSTNAME.match(self.hostname):
            issues.append(Issue(("hostname",), "is not a DNS name a managed certificate can cover", self.hostname,
                                allowed="lowercase labels of letters, digits and hyphens, dot-separated, no wildcard",
                                fix="e.g. llm.example.com"))
        if self.external and not self.https and not self.allow_plain_http:
            issues.append(Issue(("hostname",), "an external Gateway must serve HTTPS: without a hostname it would "
                                "serve plain HTTP to the internet",
                                fix="set hostname (a managed certificate is created for it), or allowPlainHttp: true"))
        if self.allow_plain_http and (self.https or not self.external):
            issues.append(Issue(("allowPlainHttp",), "only matters for an external Gateway without a hostname "
                                "(with a hostname, HTTP redirects to HTTPS)", True, fix="remove allowPlainHttp"))
        if "tls_profile" in self.model_fields_set and not self.https:
            issues.append(Issue(("tlsProfile",), "applies to the HTTPS listener, and there is none without a hostname",
                                self.tls_profile, fix="set hostname, or remove tlsProfile"))
        if self.cloud_armor is not None and self.gateway_class is not None \
                and self.gateway_class not in CLOUD_ARMOR_CLASSES:
            issues.append(Issue(("cloudArmor",), f"the {self.gateway_class} load balancer does not take Cloud Armor "
                                "policies from GKE", allowed="exposure: external with scope: global",
                                fix="remove cloudArmor, or use an external global Gateway"))
        if self.iap is not None and not self.https:
            issues.append(Issue(("iap",), "IAP signs users in over HTTPS: it needs a hostname",
                                fix="set hostname, or remove iap"))
        return issues
