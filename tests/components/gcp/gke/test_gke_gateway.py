"""Exposure of GKE model servers (`mlinfra:cluster.gateway`): the internal HTTP Gateway by
default, an external or internal HTTPS Gateway with a Google-managed certificate, a static
address and a redirect, Cloud Armor and IAP on every server's Services, and the rules that
refuse what GKE's load balancers would not do, each naming its key."""

from __future__ import annotations

import copy
import json

import kubernetes_validate
import pytest

from components.gcp.gke import gateway_spec
from infra import config
from infra.errors import ConfigError, key_path
from infra.stackfile import to_engine_config
from policy import gateway as gateway_rules
from tests.conftest import PROJECT, run_config, run_stack, stack_config

GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
BACKEND = "kubernetes:networking.gke.io/v1:GCPBackendPolicy"
GATEWAY_POLICY = "kubernetes:networking.gke.io/v1:GCPGatewayPolicy"
NAMESPACE = "kubernetes:core/v1:Namespace"
CERT = "gcp:certificatemanager/certificate:Certificate"
DNS_AUTH = "gcp:certificatemanager/dnsAuthorization:DnsAuthorization"
CERT_MAP = "gcp:certificatemanager/certificateMap:CertificateMap"
MAP_ENTRY = "gcp:certificatemanager/certificateMapEntry:CertificateMapEntry"
ARMOR = "gcp:compute/securityPolicy:SecurityPolicy"
SSL = "gcp:compute/sSLPolicy:SSLPolicy"
REGION_SSL = "gcp:compute/regionSslPolicy:RegionSslPolicy"
GLOBAL_IP = "gcp:compute/globalAddress:GlobalAddress"
IP = "gcp:compute/address:Address"
SERVICE_API = "gcp:projects/service:Service"
HOST = "llm.dev.acme.example"
IAP = {"clientId": "1234-abcdef.apps.googleusercontent.com", "clientSecret": "iap-oauth"}


def llm_dev(gateway: dict | None = None, **service) -> dict:
    """llm-dev with its chat server alone (its gRPC embedder has tests of its own, test_gke_grpc.py)."""
    values = copy.deepcopy(stack_config("llm-dev"))
    values["mlinfra:services"] = values["mlinfra:services"][:1]
    if gateway is not None:
        values["mlinfra:cluster"]["gateway"] = gateway
    values["mlinfra:services"][0].update(service)
    return values


def errors_of(values: dict, stack: str = "llm-dev") -> list[tuple[str, str]]:
    engine_values, _ = to_engine_config(values)
    with pytest.raises(ConfigError) as caught:
        config.load(engine_values, stack=stack, file=f"stacks/Pulumi.{stack}.yaml", root=PROJECT.root)
    return [(key_path(i.path), str(caught.value)) for i in caught.value.issues]


def listeners(rec) -> list[dict]:
    return rec.one(GATEWAY).inputs["spec"]["listeners"]


def test_by_default_the_servers_sit_behind_an_internal_http_gateway_as_before():
    rec = run_stack("k8s-dev")
    gateway = rec.one(GATEWAY)
    assert gateway.inputs["metadata"] == {"name": "mlinfra", "namespace": "mlinfra-gateway",
                                          "labels": {"mlinfra.dev/exposure": "internal"}}
    assert gateway.inputs["spec"] == {"gatewayClassName": "gke-l7-rilb", "listeners": [
        {"name": "http", "protocol": "HTTP", "port": 80, "allowedRoutes": {"namespaces": {"from": "All"}}}]}
    for kind in (CERT, DNS_AUTH, CERT_MAP, ARMOR, SSL, REGION_SSL, GLOBAL_IP, IP, BACKEND, GATEWAY_POLICY):
        assert not rec.of_type(kind), kind
    route = rec.one(ROUTE, "mlinfra-svc-summarizer-route").inputs["spec"]
    assert route["parentRefs"] == [{"name": "mlinfra", "namespace": "mlinfra-gateway"}] and "hostnames" not in route
    # Moved under the Gateway component, the namespace and Gateway keep their URNs by alias.
    assert rec.one(NAMESPACE, "mlinfra-gateway-ns").aliases
    kubernetes_validate.validate(rec.one(NAMESPACE, "mlinfra-gateway-ns").inputs, "1.35", strict=True)
    assert "certificatemanager.googleapis.com" not in {r.inputs["service"] for r in rec.of_type(SERVICE_API)}


def test_an_external_https_gateway_with_a_hostname_builds_certificate_address_redirect_and_armor():
    rec = run_stack("llm-dev")
    auth = rec.one(DNS_AUTH)
    assert {k: auth.inputs[k] for k in ("domain", "location", "project")} == {
        "domain": HOST, "location": "global", "project": "acme-ml-dev"}
    cert = rec.one(CERT)
    assert cert.inputs["location"] == "global"
    assert cert.inputs["managed"] == {"domains": [HOST], "dnsAuthorizations": [auth.id]}
    cert_map = rec.one(CERT_MAP)
    entry = rec.one(MAP_ENTRY).inputs
    assert (entry["map"], entry["hostname"], entry["certificates"]) == (cert_map.outputs["name"], HOST,
                                                                        [cert.id])
    address = rec.one(GLOBAL_IP)
    assert address.inputs["ipVersion"] == "IPV4" and not rec.of_type(IP)
    ssl = rec.one(SSL).inputs
    assert (ssl["minTlsVersion"], ssl["profile"]) == ("TLS_1_2", "MODERN")

    gateway = rec.one(GATEWAY).inputs
    assert gateway["metadata"] == {"name": "mlinfra", "namespace": "mlinfra-gateway",
                                   "labels": {"mlinfra.dev/exposure": "external"},
                                   "annotations": {"networking.gke.io/certmap": cert_map.outputs["name"]}}
    # The certificate comes from the map: no tls block on the listener (GKE rejects both at once).
    assert gateway["spec"] == {
        "gatewayClassName": "gke-l7-global-external-managed",
        "addresses": [{"type": "NamedAddress", "value": address.outputs["name"]}],
        "listeners": [{"name": "http", "protocol": "HTTP", "port": 80, "allowedRoutes": {"namespaces": {"from": "Same"}}},
                      {"name": "https", "protocol": "HTTPS", "port": 443, "hostname": HOST,
                       "allowedRoutes": {"namespaces": {"from": "All"}}}]}
    assert rec.one(GATEWAY_POLICY).inputs["spec"] == {
        "default": {"sslPolicy": rec.one(SSL).outputs["name"]},
        "targetRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "mlinfra"}}
    assert rec.one(ROUTE, "mlinfra-gateway-redirect").inputs["spec"] == {
        "parentRefs": [{"name": "mlinfra", "sectionName": "http"}], "hostnames": [HOST],
        "rules": [{"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]}]}

    route = rec.one(ROUTE, "mlinfra-svc-chat-route").inputs["spec"]
    assert route["parentRefs"] == [{"name": "mlinfra", "namespace": "mlinfra-gateway", "sectionName": "https"}]
    assert route["hostnames"] == [HOST]
    armor = rec.one(ARMOR)
    assert [(r["priority"], r["action"]) for r in armor.inputs["rules"]] == [
        (1000, "deny(403)"), (1001, "deny(403)"), (2000, "throttle"), (2147483647, "allow")]
    assert [r["match"].get("expr", {}).get("expression") for r in armor.inputs["rules"][:2]] == [
        "evaluatePreconfiguredWaf('sqli-v33-stable')", "evaluatePreconfiguredWaf('xss-v33-stable')"]
    assert armor.inputs["rules"][2]["rateLimitOptions"] == {
        "conformAction": "allow", "exceedAction": "deny(429)", "enforceOnKey": "IP",
        "rateLimitThreshold": {"count": 600, "intervalSec": 60}}
    chat = rec.one(BACKEND, "mlinfra-svc-chat-stable-backend").inputs
    assert chat["spec"] == {
        "default": {"securityPolicy": armor.outputs["name"]},
        "targetRef": {"group": "", "kind": "Service", "name": "chat-stable"}}
    assert chat["metadata"]["namespace"] == "ml-chat"
    assert "certificatemanager.googleapis.com" in {r.inputs["service"] for r in rec.of_type(SERVICE_API)}
    assert rec.outputs["gateway_hostname"] == HOST
    assert {"gateway_address", "gateway_dns_authorization"} <= set(rec.outputs)


def test_the_done_when_server_two_l4s_a_hugging_face_model_and_its_token():
    rec = run_stack("llm-dev")
    pod = rec.one("kubernetes:apps/v1:Deployment", "mlinfra-svc-chat-stable").inputs["spec"]["template"]["spec"]
    server = next(c for c in pod["containers"] if c["name"] == "server")
    assert server["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert "--tensor-parallel-size" in server["args"] and server["args"][server["args"].index("--tensor-parallel-size") + 1] == "2"
    assert "meta-llama/Llama-3.1-8B-Instruct" in json.dumps(server)
    spc = rec.one("kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass").inputs
    assert "projects/acme-ml-dev/secrets/hf-token/versions/latest" in json.dumps(spc)
    pool = rec.one("gcp:container/nodePool:NodePool", "mlinfra-gke-l4x2").inputs
    assert pool["nodeConfig"]["machineType"] == "g2-standard-24"
    assert pool["nodeConfig"]["guestAccelerators"][0]["count"] == 2


def test_a_regional_external_gateway_takes_a_regional_certificate_in_its_listener():
    rec = run_config(llm_dev({"exposure": "external", "scope": "regional", "hostname": HOST}), stack="llm-dev")
    cert = rec.one(CERT)
    assert cert.inputs["location"] == "us-central1" and rec.one(DNS_AUTH).inputs["location"] == "us-central1"
    assert not rec.of_type(CERT_MAP) and not rec.of_type(MAP_ENTRY) and not rec.of_type(GLOBAL_IP)
    address = rec.one(IP).inputs
    assert (address["addressType"], address["networkTier"], address["region"]) == ("EXTERNAL", "PREMIUM", "us-central1")
    gateway = rec.one(GATEWAY).inputs
    assert "annotations" not in gateway["metadata"]
    assert gateway["spec"]["gatewayClassName"] == "gke-l7-regional-external-managed"
    assert listeners(rec)[1] == {
        "name": "https", "protocol": "HTTPS", "port": 443, "hostname": HOST,
        "allowedRoutes": {"namespaces": {"from": "All"}},
        "tls": {"mode": "Terminate", "options": {"networking.gke.io/cert-manager-certs": cert.outputs["name"]}}}
    ssl = rec.one(REGION_SSL).inputs
    assert (ssl["region"], ssl["minTlsVersion"], ssl["profile"]) == ("us-central1", "TLS_1_2", "MODERN")
    assert rec.one(GATEWAY_POLICY).inputs["spec"]["default"] == {"sslPolicy": rec.one(REGION_SSL).outputs["name"]}


def test_an_internal_https_gateway_gets_a_shared_internal_address_in_the_subnet():
    rec = run_config(llm_dev({"hostname": HOST, "tlsProfile": "RESTRICTED"}), stack="llm-dev")
    assert rec.one(GATEWAY).inputs["spec"]["gatewayClassName"] == "gke-l7-rilb"
    assert rec.one(GATEWAY).inputs["metadata"]["labels"] == {"mlinfra.dev/exposure": "internal"}
    address = rec.one(IP).inputs
    subnet = rec.one("gcp:compute/subnetwork:Subnetwork", "mlinfra-network-subnet")
    assert (address["addressType"], address["purpose"], address["subnetwork"]) == (
        "INTERNAL", "SHARED_LOADBALANCER_VIP", subnet.id)
    assert rec.one(REGION_SSL).inputs["profile"] == "RESTRICTED"
    assert not rec.of_type(ARMOR) and not rec.of_type(BACKEND)


def test_iap_names_the_client_and_a_kubernetes_secret_never_a_value_on_every_track():
    rec = run_config(llm_dev({**stack_config("llm-dev")["mlinfra:cluster"]["gateway"], "iap": IAP},
                             rollout={"canary": {"version": "v2", "percent": 10}}), stack="llm-dev")
    policies = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in rec.of_type(BACKEND)}
    armor = rec.one(ARMOR).outputs["name"]
    assert policies == {f"chat-{track}": {
        "default": {"securityPolicy": armor, "iap": {"enabled": True, "clientID": IAP["clientId"],
                                                     "oauth2ClientSecret": {"name": "iap-oauth"}}},
        "targetRef": {"group": "", "kind": "Service", "name": f"chat-{track}"}} for track in ("stable", "canary")}
    assert not [r for r in rec.of_type("kubernetes:core/v1:Secret") if "iap" in json.dumps(r.inputs)]


def test_an_existing_cloud_armor_policy_is_referenced_by_name_and_none_is_created():
    rec = run_config(llm_dev({"exposure": "external", "hostname": HOST, "cloudArmor": {"policy": "org-edge"}}),
                     stack="llm-dev")
    assert not rec.of_type(ARMOR)
    assert rec.one(BACKEND).inputs["spec"]["default"] == {"securityPolicy": "org-edge"}


def test_plain_http_outside_only_when_the_stack_says_so_and_labelled_for_the_guardrail():
    rec = run_config(llm_dev({"exposure": "external", "allowPlainHttp": True}), stack="llm-dev")
    gateway = rec.one(GATEWAY).inputs
    assert gateway["metadata"]["labels"] == {"mlinfra.dev/exposure": "external", "mlinfra.dev/plain-http": "allowed"}
    assert [l["protocol"] for l in gateway["spec"]["listeners"]] == ["HTTP"]
    assert gateway["spec"]["listeners"][0]["allowedRoutes"] == {"namespaces": {"from": "All"}}
    assert not rec.of_type(CERT) and not rec.of_type(GATEWAY_POLICY)
    route = rec.one(ROUTE, "mlinfra-svc-chat-route").inputs["spec"]
    assert route["parentRefs"] == [{"name": "mlinfra", "namespace": "mlinfra-gateway"}] and "hostnames" not in route


BAD = [
    ({"exposure": "external"}, "mlinfra:cluster.gateway.hostname", "an external Gateway must serve HTTPS"),
    ({"exposure": "internal", "scope": "global"}, "mlinfra:cluster.gateway.scope", "multi-cluster only"),
    ({"hostname": "*.acme.example"}, "mlinfra:cluster.gateway.hostname", "is not a DNS name"),
    ({"hostname": "LLM.acme.example"}, "mlinfra:cluster.gateway.hostname", "is not a DNS name"),
    ({"hostname": HOST, "allowPlainHttp": True}, "mlinfra:cluster.gateway.allowPlainHttp", "only matters"),
    ({"allowPlainHttp": True}, "mlinfra:cluster.gateway.allowPlainHttp", "only matters"),
    ({"tlsProfile": "RESTRICTED"}, "mlinfra:cluster.gateway.tlsProfile", "there is none without a hostname"),
    ({"hostname": HOST, "cloudArmor": {}}, "mlinfra:cluster.gateway.cloudArmor",
     "the gke-l7-rilb load balancer does not take Cloud Armor"),
    ({"exposure": "external", "scope": "regional", "hostname": HOST, "cloudArmor": {}},
     "mlinfra:cluster.gateway.cloudArmor", "gke-l7-regional-external-managed load balancer does not take Cloud Armor"),
    ({"exposure": "external", "hostname": HOST, "cloudArmor": {"policy": "org-edge", "rateLimitPerMinute": 10}},
     "mlinfra:cluster.gateway.cloudArmor.rateLimitPerMinute", "not to an existing one"),
    ({"exposure": "external", "hostname": HOST, "cloudArmor": {"policy": "Org_Edge"}},
     "mlinfra:cluster.gateway.cloudArmor.policy", "has a form that"),
    ({"iap": IAP}, "mlinfra:cluster.gateway.iap", "it needs a hostname"),
    ({"hostname": HOST, "iap": {**IAP, "clientId": "my-client"}}, "mlinfra:cluster.gateway.iap.clientId",
     "is not an OAuth client ID"),
    ({"hostname": HOST, "iap": {**IAP, "clientSecret": "Not A Name"}}, "mlinfra:cluster.gateway.iap.clientSecret",
     "has a form that"),
    ({"hostname": HOST, "iap": {"clientId": IAP["clientId"]}}, "mlinfra:cluster.gateway.iap.clientSecret", "required"),
    ({"exposure": "public"}, "mlinfra:cluster.gateway.exposure", "internal"),
]


@pytest.mark.parametrize("gateway,key,message", BAD, ids=[f"{b[1].rsplit('.', 1)[-1]}: {b[2][:30]}" for b in BAD])
def test_each_bad_gateway_value_fails_naming_its_key(gateway, key, message):
    found = errors_of(llm_dev(gateway))
    assert [k for k, _ in found] == [key], found
    assert message in found[0][1]


def test_the_guardrails_external_classes_cover_every_class_the_spec_builds_outside():
    assert gateway_spec.EXTERNAL_CLASSES <= gateway_rules.EXTERNAL_CLASSES
    assert not set(gateway_spec.GATEWAY_CLASSES.values()) - gateway_spec.EXTERNAL_CLASSES & gateway_rules.EXTERNAL_CLASSES


@pytest.mark.parametrize("gateway,prefix,resource", [
    (None, "loadbalancing.googleapis.com/https", "https_lb_rule"),
    ({"exposure": "external", "scope": "regional", "hostname": HOST}, "loadbalancing.googleapis.com/https/external/regional",
     "http_external_regional_lb_rule"),
    ({"hostname": HOST}, "loadbalancing.googleapis.com/https/internal", "internal_http_lb_rule"),
])
def test_objectives_read_the_metrics_of_the_gateways_load_balancer(gateway, prefix, resource):
    rec = run_config(llm_dev(gateway, slo={"availability": 99.5, "latency": {"thresholdMs": 2000, "percent": 95}}),
                     stack="llm-dev")
    rule = f'resource.type="{resource}" resource.label."matched_url_path_rule"="/chat"'
    slos = {r.inputs["sloId"]: r.inputs["requestBasedSli"] for r in rec.of_type("gcp:monitoring/slo:Slo")}
    assert slos["availability"]["goodTotalRatio"] == {
        "totalServiceFilter": f'metric.type="{prefix}/request_count" {rule}',
        "badServiceFilter": f'metric.type="{prefix}/request_count" {rule} metric.label."response_code_class"=500'}
    assert slos["latency"]["distributionCut"]["distributionFilter"] == f'metric.type="{prefix}/total_latencies" {rule}'


def test_the_hybrid_pattern_exposes_its_gke_servers_through_the_same_keys():
    values = stack_config("hybrid-dev")
    values["mlinfra:cluster"]["gateway"] = {"exposure": "external", "hostname": HOST}
    rec = run_config(values, stack="hybrid-dev")
    assert rec.one(GATEWAY).inputs["spec"]["gatewayClassName"] == "gke-l7-global-external-managed"
    assert rec.one(CERT).inputs["managed"]["domains"] == [HOST]
    gke_routes = [r.inputs["spec"] for r in rec.of_type(ROUTE) if r.name != "mlinfra-gateway-redirect"]
    assert gke_routes and all(r["hostnames"] == [HOST] and r["parentRefs"][0]["sectionName"] == "https"
                              for r in gke_routes)
    assert rec.outputs["gateway_hostname"] == HOST


def test_gateway_keys_without_a_server_on_the_cluster_fail_at_gateway():
    values = llm_dev({"exposure": "external", "hostname": HOST})
    values["mlinfra:services"] = []
    values["mlinfra:jobs"] = [{"name": "score", "image": "us-central1-docker.pkg.dev/acme-ml-dev/x/score:1",
                               "resources": {"cpu": 1, "memory": "2Gi"}}]
    found = errors_of(values)
    assert [k for k, _ in found] == ["mlinfra:cluster.gateway"]
    assert "no service runs on the cluster" in found[0][1]


def test_the_gateways_static_address_is_protected_in_prod_only():
    import copy

    from tests.conftest import run_config, stack_config

    values = copy.deepcopy(stack_config("llm-dev"))
    dev = run_config(values, stack="llm-dev")
    [address] = [r for r in dev if r.type in ("gcp:compute/globalAddress:GlobalAddress", "gcp:compute/address:Address")
                 and r.name.endswith("-ip")]
    assert address.protect is False
    values["mlinfra:environment"] = "prod"
    values["mlinfra:alerts"] = {"emails": ["oncall@acme.example"]}
    values["mlinfra:cluster"].pop("zone", None)  # prod clusters are regional
    prod = run_config(values, stack="llm-dev")
    [address] = [r for r in prod if r.type in ("gcp:compute/globalAddress:GlobalAddress", "gcp:compute/address:Address")
                 and r.name.endswith("-ip")]
    assert address.protect is True
