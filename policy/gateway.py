"""The GKE Gateway guardrails: a Gateway reachable from the internet says so in the stack
(`exposure: external`, carried as its `mlinfra.dev/exposure` label, as Cloud Run services carry
`public`), and serves HTTPS unless the stack says `allowPlainHttp` (the `mlinfra.dev/plain-http`
label). A Cloud Run service behind a load balancer (a serverless NEG names it) takes traffic
from the load balancer only, so its run.app URL cannot bypass IAP and Cloud Armor. Registered as
rules in policy/rules.py; imports nothing of it, so there is no cycle.
"""

from __future__ import annotations

from typing import Any, Iterator

# Every GKE GatewayClass whose load balancer has an internet-facing address (single- and
# multi-cluster; gke-l7-gxlb is the classic global external one).
EXTERNAL_CLASSES = frozenset({
    "gke-l7-global-external-managed", "gke-l7-regional-external-managed", "gke-l7-gxlb",
    "gke-l7-global-external-managed-mc", "gke-l7-regional-external-managed-mc", "gke-l7-gxlb-mc"})
EXPOSURE_LABEL = "mlinfra.dev/exposure"
PLAIN_HTTP_LABEL = "mlinfra.dev/plain-http"


def _external_gateways(resources) -> Iterator[tuple[Any, dict]]:
    for r in resources:
        if r.k8s_kind == "Gateway" and r.get("spec", "gatewayClassName") in EXTERNAL_CLASSES:
            yield r, dict(r.get("metadata", "labels") or {})


def explicit_exposure(resources, ctx):
    for r, labels in _external_gateways(resources):
        if labels.get(EXPOSURE_LABEL) != "external":
            yield r, (f"the {r.get('spec', 'gatewayClassName')} Gateway is reachable from the internet, but the stack "
                      "does not say exposure: external")


def https_outside(resources, ctx):
    for r, labels in _external_gateways(resources):
        listeners = r.get("spec", "listeners") or []
        if not any(isinstance(l, dict) and l.get("protocol") == "HTTPS" for l in listeners) \
                and labels.get(PLAIN_HTTP_LABEL) != "allowed":
            yield r, "the external Gateway serves no HTTPS listener: set a hostname (or allowPlainHttp: true)"


SERVERLESS_NEG = "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup"
RUN_SERVICE = "gcp:cloudrunv2/service:Service"
# Cloud Run ingress values that admit no internet traffic except through Cloud Load Balancing.
BEHIND_LOAD_BALANCER = ("INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER", "INGRESS_TRAFFIC_INTERNAL_ONLY")


def no_bypass(resources, ctx):
    fronted = {(r.get("region"), r.get("cloudRun", "service")) for r in resources
               if r.type == SERVERLESS_NEG and r.get("cloudRun", "service")}
    for s in resources:
        if s.type == RUN_SERVICE and (s.get("location"), s.get("name")) in fronted \
                and s.get("ingress") not in BEHIND_LOAD_BALANCER:
            yield s, (f"{s.get('name')} sits behind a load balancer but takes ingress {s.get('ingress') or 'ALL'}: its "
                      "run.app URL bypasses the load balancer (remove ingress from the service)")


GATEWAY_RULES = (
    ("MLI-GW-001", "A Gateway reachable from the internet says exposure: external", "mlinfra", explicit_exposure,
     ("Gateway",)),
    ("MLI-GW-002", "An external Gateway serves HTTPS unless the stack says allowPlainHttp", "mlinfra", https_outside,
     ("Gateway",)),
    ("MLI-LB-001", "A Cloud Run service behind a load balancer takes traffic through it only", "mlinfra", no_bypass,
     (SERVERLESS_NEG, RUN_SERVICE)),
)
