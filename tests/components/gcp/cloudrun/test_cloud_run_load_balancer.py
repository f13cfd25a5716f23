"""A Cloud Run service behind its own load balancer (`services[].loadBalancer`): the serverless
NEG, backend service, URL map, HTTPS proxy with a managed certificate through a certificate map,
address, forwarding rules and redirect; IAP's agent as the only invoker behind IAP; Cloud Armor;
the service's ingress; the rules that refuse what the APIs would, each naming its key; and
revision names that a load balancer leaves alone."""

from __future__ import annotations

import copy

import pytest

from components.gcp.cloudrun.cloud_run_service_spec import CloudRunServiceSpec
from components.gcp.cloudrun.revisions import traffic_split
from infra import config
from infra.errors import ConfigError, key_path
from infra.mocks import project_number
from infra.stackfile import to_engine_config
from tests.conftest import PROJECT, run_config, run_stack, stack_config

NEG = "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup"
BACKEND = "gcp:compute/backendService:BackendService"
URL_MAP = "gcp:compute/uRLMap:URLMap"
HTTPS_PROXY = "gcp:compute/targetHttpsProxy:TargetHttpsProxy"
HTTP_PROXY = "gcp:compute/targetHttpProxy:TargetHttpProxy"
RULE = "gcp:compute/globalForwardingRule:GlobalForwardingRule"
GLOBAL_IP = "gcp:compute/globalAddress:GlobalAddress"
SSL = "gcp:compute/sSLPolicy:SSLPolicy"
ARMOR = "gcp:compute/securityPolicy:SecurityPolicy"
CERT = "gcp:certificatemanager/certificate:Certificate"
DNS_AUTH = "gcp:certificatemanager/dnsAuthorization:DnsAuthorization"
CERT_MAP = "gcp:certificatemanager/certificateMap:CertificateMap"
MAP_ENTRY = "gcp:certificatemanager/certificateMapEntry:CertificateMapEntry"
RUN = "gcp:cloudrunv2/service:Service"
INVOKER = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
IAP_USER = "gcp:iap/webBackendServiceIamMember:WebBackendServiceIamMember"
AGENT = "gcp:projects/serviceIdentity:ServiceIdentity"
SERVICE_API = "gcp:projects/service:Service"
HOST = "summarizer.dev.acme.example"
LB = "mlinfra-svc-summarizer-lb"
LB_TYPES = (NEG, BACKEND, URL_MAP, HTTPS_PROXY, HTTP_PROXY, RULE, GLOBAL_IP, SSL, ARMOR, CERT, DNS_AUTH, CERT_MAP,
            MAP_ENTRY, IAP_USER, AGENT)


def dev(**summarizer) -> dict:
    values = copy.deepcopy(stack_config("dev"))
    values["mlinfra:services"][1].update(summarizer)
    values["mlinfra:services"][1] = {k: v for k, v in values["mlinfra:services"][1].items() if v is not None}
    return values


def errors_of(values: dict) -> list[tuple[str, str]]:
    engine_values, _ = to_engine_config(values)
    with pytest.raises(ConfigError) as caught:
        config.load(engine_values, stack="dev", file="stacks/Pulumi.dev.yaml", root=PROJECT.root)
    return [(key_path(i.path), str(caught.value)) for i in caught.value.issues]


def invokers(rec, service: str) -> list[str]:
    return sorted(r.inputs["member"] for r in rec.of_type(INVOKER) if r.inputs["name"] == service)


def test_the_dev_summarizer_sits_behind_https_on_its_hostname_and_its_invokers_keep_their_grants():
    rec = run_stack("dev")
    run = rec.one(RUN, "mlinfra-svc-summarizer")
    assert run.inputs["ingress"] == "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
    assert rec.one(RUN, "mlinfra-svc-churn").inputs["ingress"] == "INGRESS_TRAFFIC_ALL", "only the summarizer moves"
    assert invokers(rec, "summarizer-dev") == ["group:ml-engineers@acme.example"]
    assert rec.one(BACKEND).inputs.get("iap") is None and not rec.of_type(IAP_USER) and not rec.of_type(AGENT)
    assert rec.one(BACKEND).inputs.get("securityPolicy") is None and not rec.of_type(ARMOR)
    assert rec.one(DNS_AUTH).inputs["domain"] == HOST and len(rec.of_type(RULE)) == 2
    lb_out = rec.outputs["service_load_balancers"]["summarizer"]
    assert (lb_out["hostname"], lb_out["iap"]) == (HOST, False)
    apis = {r.inputs["service"] for r in rec.of_type(SERVICE_API)}
    assert {"compute.googleapis.com", "certificatemanager.googleapis.com"} <= apis
    assert "iap.googleapis.com" not in apis


def test_with_iap_the_summarizer_is_reached_through_https_and_only_iap_invokes_it():
    rec = run_config(dev(loadBalancer={"hostname": HOST, "iap": True}), stack="dev")
    run = rec.one(RUN, "mlinfra-svc-summarizer")
    assert run.inputs["ingress"] == "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
    assert rec.one(RUN, "mlinfra-svc-churn").inputs["ingress"] == "INGRESS_TRAFFIC_ALL", "only the summarizer moves"

    neg = rec.one(NEG, f"{LB}-neg").inputs
    assert neg == {"project": "acme-ml-dev", "region": "us-central1", "networkEndpointType": "SERVERLESS",
                   "cloudRun": {"service": "summarizer-dev"}}
    backend = rec.one(BACKEND, f"{LB}-backend")
    assert {k: backend.inputs.get(k) for k in ("loadBalancingScheme", "protocol", "iap", "securityPolicy", "backends",
                                               "healthChecks", "timeoutSec", "logConfig")} == {
        "loadBalancingScheme": "EXTERNAL_MANAGED", "protocol": "HTTPS", "iap": {"enabled": True},
        "securityPolicy": None, "backends": [{"group": rec.one(NEG).id}], "healthChecks": None, "timeoutSec": None,
        "logConfig": {"enable": True, "sampleRate": 1.0}}
    assert "oauth2ClientId" not in backend.inputs["iap"], "the Google-managed OAuth client"

    # IAP's service agent, created, is the only invoker; the engineers are the principals IAP admits.
    agent = f"serviceAccount:service-{project_number('acme-ml-dev')}@gcp-sa-iap.iam.gserviceaccount.com"
    assert invokers(rec, "summarizer-dev") == [agent]
    grant = rec.one(INVOKER, f"{LB}-iap-invoker")
    assert grant.inputs["role"] == "roles/run.invoker" and rec.one(AGENT).urn in grant.dependencies
    assert rec.one(AGENT).inputs == {"project": "acme-ml-dev", "service": "iap.googleapis.com"}
    user = rec.one(IAP_USER).inputs
    assert user == {"project": "acme-ml-dev", "webBackendService": backend.outputs["name"],
                    "role": "roles/iap.httpsResourceAccessor", "member": "group:ml-engineers@acme.example"}
    assert invokers(rec, "churn-dev") == ["serviceAccount:web-backend@acme-ml-dev.iam.gserviceaccount.com"]

    auth, cert = rec.one(DNS_AUTH).inputs, rec.one(CERT).inputs
    assert (auth["domain"], auth["location"]) == (HOST, "global")
    assert cert["managed"] == {"domains": [HOST], "dnsAuthorizations": [rec.one(DNS_AUTH).id]}
    assert rec.one(MAP_ENTRY).inputs["hostname"] == HOST
    assert rec.one(MAP_ENTRY).inputs["certificates"] == [rec.one(CERT).id]
    proxy = rec.one(HTTPS_PROXY).inputs
    assert proxy["certificateMap"] == f"//certificatemanager.googleapis.com/{rec.one(CERT_MAP).id}"
    assert proxy["urlMap"] == rec.one(URL_MAP, f"{LB}-urlmap").id and proxy["sslPolicy"] == rec.one(SSL).id
    assert rec.one(URL_MAP, f"{LB}-urlmap").inputs["defaultService"] == backend.id
    assert {k: rec.one(SSL).inputs[k] for k in ("minTlsVersion", "profile")} == {"minTlsVersion": "TLS_1_2",
                                                                                 "profile": "MODERN"}
    redirect = rec.one(URL_MAP, f"{LB}-redirect").inputs
    assert redirect["defaultUrlRedirect"] == {"httpsRedirect": True, "stripQuery": False,
                                              "redirectResponseCode": "MOVED_PERMANENTLY_DEFAULT"}
    assert rec.one(HTTP_PROXY).inputs["urlMap"] == rec.one(URL_MAP, f"{LB}-redirect").id
    address = rec.one(GLOBAL_IP).id
    rules = {r.inputs["portRange"]: r.inputs for r in rec.of_type(RULE)}
    assert {port: (r["target"], r["ipAddress"], r["loadBalancingScheme"]) for port, r in rules.items()} == {
        "443": (rec.one(HTTPS_PROXY).id, address, "EXTERNAL_MANAGED"),
        "80": (rec.one(HTTP_PROXY).id, address, "EXTERNAL_MANAGED")}
    assert not rec.of_type(ARMOR)
    apis = {r.inputs["service"] for r in rec.of_type(SERVICE_API)}
    assert {"compute.googleapis.com", "certificatemanager.googleapis.com", "iap.googleapis.com"} <= apis
    assert rec.outputs["service_load_balancers"]["summarizer"]["iap"] is True


def test_without_iap_the_invokers_keep_their_grants_and_cloud_armor_guards_the_backend():
    rec = run_config(dev(loadBalancer={"hostname": HOST, "cloudArmor": {"rateLimitPerMinute": 120},
                                       "tlsProfile": "RESTRICTED"}), stack="dev")
    assert invokers(rec, "summarizer-dev") == ["group:ml-engineers@acme.example"]
    assert not rec.of_type(IAP_USER) and not rec.of_type(AGENT)
    backend = rec.one(BACKEND).inputs
    assert backend.get("iap") is None
    armor = rec.one(ARMOR, f"{LB}-armor")
    assert backend["securityPolicy"] == armor.outputs["name"]
    throttle = next(r for r in armor.inputs["rules"] if r["action"] == "throttle")
    assert throttle["rateLimitOptions"]["rateLimitThreshold"] == {"count": 120, "intervalSec": 60}
    assert rec.one(SSL).inputs["profile"] == "RESTRICTED"
    assert "iap.googleapis.com" not in {r.inputs["service"] for r in rec.of_type(SERVICE_API)}


def test_an_existing_armor_policy_is_named_and_a_public_service_says_so():
    rec = run_config(dev(loadBalancer={"hostname": HOST, "cloudArmor": {"policy": "org-edge"}}, public=True,
                         invokers=None), stack="dev")
    assert rec.one(BACKEND).inputs["securityPolicy"] == "org-edge" and not rec.of_type(ARMOR)
    assert invokers(rec, "summarizer-dev") == ["allUsers"]
    assert rec.one(RUN, "mlinfra-svc-summarizer").inputs["labels"]["public"] == "true"


def test_without_a_load_balancer_nothing_of_it_is_built():
    rec = run_config(dev(loadBalancer=None), stack="dev")
    for kind in LB_TYPES:
        assert not rec.of_type(kind), kind
    assert rec.one(RUN, "mlinfra-svc-summarizer").inputs["ingress"] == "INGRESS_TRAFFIC_ALL"
    assert "service_load_balancers" not in rec.outputs
    assert "certificatemanager.googleapis.com" not in {r.inputs["service"] for r in rec.of_type(SERVICE_API)}


def test_a_load_balancer_renames_no_revision():
    base = {"name": "llm", "image": "us-docker.pkg.dev/p/r/llm:1", "invokers": ["group:ml@acme.example"]}
    plain = CloudRunServiceSpec.model_validate(base)
    behind = CloudRunServiceSpec.model_validate(base | {"loadBalancer": {"hostname": HOST, "iap": True}})
    assert traffic_split("llm-dev", plain) == traffic_split("llm-dev", behind)
    assert behind.resolved_ingress == "internalAndLoadBalancer" and plain.resolved_ingress == "all"


@pytest.mark.parametrize("change,key,words", [
    ({"loadBalancer": {"hostname": "*.acme.example"}}, "mlinfra:services[1].loadBalancer.hostname",
     "not a DNS name a managed certificate can cover"),
    ({"loadBalancer": {"iap": True}}, "mlinfra:services[1].loadBalancer.hostname", "required"),
    ({"loadBalancer": {"hostname": HOST}, "ingress": "internal"}, "mlinfra:services[1].ingress",
     "would refuse the load balancer's requests"),
    ({"loadBalancer": {"hostname": HOST}, "ingress": "all"}, "mlinfra:services[1].ingress",
     "bypass the load balancer"),
    ({"loadBalancer": {"hostname": HOST, "iap": True}, "public": True}, "mlinfra:services[1].public",
     "a service behind IAP is not public"),
    ({"loadBalancer": {"hostname": HOST, "iap": True}, "invokers": None}, "mlinfra:services[1].invokers",
     "IAP would let nobody through"),
    ({"loadBalancer": {"hostname": HOST, "cloudArmor": {"policy": "org-edge", "rateLimitPerMinute": 5}}},
     "mlinfra:services[1].loadBalancer.cloudArmor.rateLimitPerMinute", "not to an existing one"),
    ({"loadBalancer": {"hostname": HOST, "tlsProfile": "OLD"}}, "mlinfra:services[1].loadBalancer.tlsProfile", "RESTRICTED"),
])
def test_bad_load_balancer_settings_fail_naming_their_key(change, key, words):
    errors = errors_of(dev(**change))
    assert [k for k, _ in errors] == [key], errors
    assert words in errors[0][1]


def test_in_prod_the_address_is_protected():
    values = copy.deepcopy(stack_config("prod"))
    values["mlinfra:services"][0]["loadBalancer"] = {"hostname": "ranker.acme.example"}
    rec = run_config(values, stack="prod")
    assert rec.one(GLOBAL_IP).protect is True
    assert not run_stack("dev").one(GLOBAL_IP).protect


def test_an_explicit_internal_and_load_balancer_ingress_is_accepted():
    rec = run_config(dev(ingress="internalAndLoadBalancer"), stack="dev")
    assert rec.one(RUN, "mlinfra-svc-summarizer").inputs["ingress"] == "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
