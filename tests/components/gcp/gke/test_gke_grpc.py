"""`protocol: grpc` on GKE: the container's gRPC port and native gRPC probes (Triton) or TCP ones
(TF Serving), the h2c Service port, the Gateway's gRPC or TCP health check, the unprefixed
HTTPRoute carrying the canary's weights, strict Kubernetes validation of what has a schema, and
the rules that refuse what cannot work, each naming its key."""

from __future__ import annotations

import copy

import pytest

from infra import config
from infra.errors import ConfigError, key_path
from infra.stackfile import to_engine_config
from tests.conftest import PROJECT, run_config, run_stack, stack_config

from components.gcp.gke.gke_service_spec import GkeServiceSpec
from components.core.issues import InputError
from tests.components.gcp.gke.test_gke_workloads import DEPLOYMENT, HPA, NETPOL, PDB, ROUTE, pod, serve, validate_all

SERVICE = "kubernetes:core/v1:Service"
CHECK = "kubernetes:networking.gke.io/v1:HealthCheckPolicy"
TRITON = {"name": "tri", "runtime": "triton", "model": {"uri": "gs://art/models/tri", "version": "3"},
          "resources": {"cpu": 2, "memory": "4Gi"}, "protocol": "grpc",
          "rollout": {"canary": {"version": "4", "percent": 20}}}
TFS = {"name": "tfs", "runtime": "tfserving", "model": {"uri": "gs://art/models/tfs", "version": "2"},
       "resources": {"cpu": 1, "memory": "2Gi"}, "protocol": "grpc"}
GRPC_PROBE = {"grpc": {"port": 8001}, "initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 5}


def grpc_server(values: dict, **extra):
    return serve(GkeServiceSpec.model_validate(values), hostnames=["ml.acme.example"], gateway_listener="https",
                 **extra)


def test_triton_serves_grpc_on_its_port_with_native_grpc_probes():
    rec = grpc_server(TRITON)
    container = pod(rec, "srv-stable")["containers"][0]
    assert container["ports"] == [{"name": "grpc", "containerPort": 8001, "protocol": "TCP"},
                                  {"name": "metrics", "containerPort": 8002, "protocol": "TCP"}]
    assert container["args"][-2:] == ["--allow-grpc=true", "--grpc-port=8001"]
    assert container["startupProbe"] == {**GRPC_PROBE, "failureThreshold": 30}
    assert container["readinessProbe"] == {**GRPC_PROBE, "failureThreshold": 3}
    assert container["livenessProbe"] == {**GRPC_PROBE, "failureThreshold": 3}


def test_the_service_port_is_h2c_and_the_gateway_checks_grpc_health():
    rec = grpc_server(TRITON)
    for track in ("stable", "canary"):
        assert rec.one(SERVICE, f"srv-{track}-svc").inputs["spec"]["ports"] == [
            {"name": "grpc", "port": 80, "targetPort": "grpc", "protocol": "TCP", "appProtocol": "kubernetes.io/h2c"}]
        assert rec.one(CHECK, f"srv-{track}-hc").inputs["spec"] == {
            "default": {"config": {"type": "GRPC", "grpcHealthCheck": {"port": 8001}}},
            "targetRef": {"group": "", "kind": "Service", "name": f"tri-{track}"}}


def test_the_route_takes_the_hostnames_calls_unprefixed_and_splits_them_by_the_canarys_weight():
    rec = grpc_server(TRITON)
    route = rec.one(ROUTE).inputs
    assert route["kind"] == "HTTPRoute" and route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"] == {
        "parentRefs": [{"name": "gw", "namespace": "mlinfra-gateway", "sectionName": "https"}],
        "hostnames": ["ml.acme.example"],
        "rules": [{"backendRefs": [{"name": "tri-stable", "port": 80, "weight": 80},
                                   {"name": "tri-canary", "port": 80, "weight": 20}]}]}


def test_scaling_disruption_and_network_policy_are_those_of_any_server():
    rec = grpc_server(TRITON)
    assert [r.inputs["spec"]["minReplicas"] for r in rec.of_type(HPA)] == [1, 1]
    assert {r.inputs["spec"]["maxUnavailable"] for r in rec.of_type(PDB)} == {1}
    ingress = rec.one(NETPOL).inputs["spec"]["ingress"]
    assert ingress[0]["ports"] == [{"protocol": "TCP", "port": 8001}]
    assert ingress[1]["ports"] == [{"protocol": "TCP", "port": 8002}]


def test_tf_serving_has_no_health_service_so_probes_and_the_gateway_check_tcp():
    rec = grpc_server(TFS)
    container = pod(rec, "srv-stable")["containers"][0]
    assert container["ports"] == [{"name": "grpc", "containerPort": 8500, "protocol": "TCP"}]
    tcp = {"tcpSocket": {"port": "grpc"}, "initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 5}
    assert container["startupProbe"] == {**tcp, "failureThreshold": 30}
    assert container["livenessProbe"] == {**tcp, "failureThreshold": 3}
    assert rec.one(CHECK).inputs["spec"]["default"] == {"config": {"type": "TCP", "tcpHealthCheck": {"port": 8500}}}


def test_grpc_objects_validate_strictly_and_the_custom_ones_are_asserted_above():
    assert validate_all(grpc_server(TRITON)) == ["HTTPRoute", "HealthCheckPolicy", "PodMonitoring"]
    assert validate_all(grpc_server(TFS)) == ["HTTPRoute", "HealthCheckPolicy"]


def test_an_http_server_keeps_its_http_port_probes_and_check():
    rec = serve(GkeServiceSpec.model_validate({**TFS, "protocol": "http"}))
    assert rec.one(SERVICE).inputs["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http",
                                                         "protocol": "TCP"}]
    assert pod(rec, "srv-stable")["containers"][0]["startupProbe"]["httpGet"] == {"path": "/v1/models/tfs",
                                                                                  "port": "http"}


def test_a_path_prefix_cannot_route_grpc_calls():
    with pytest.raises(InputError, match="pathPrefix.*method"):
        grpc_server(TFS, path_prefix="/tfs")


def test_an_http_probe_path_on_the_grpc_port_is_refused_naming_the_key():
    spec = GkeServiceSpec.model_validate({**TFS, "probes": {"readiness": {"path": "/v1/models/tfs"}}})
    found = [i for i in spec.issues(None) if i.path[0] == "probes"]
    assert [i.path for i in found] == [("probes", "readiness", "path")] and "HTTP/2" in found[0].message



def llm_dev(gateway: dict | None = None, extra: tuple = ()) -> dict:
    values = copy.deepcopy(stack_config("llm-dev"))
    if gateway is not None:
        values["mlinfra:cluster"]["gateway"] = gateway
    values["mlinfra:services"] += list(extra)
    return values


def errors_of(values: dict) -> list[tuple[str, str]]:
    engine_values, _ = to_engine_config(values)
    with pytest.raises(ConfigError) as caught:
        config.load(engine_values, stack="llm-dev", file="stacks/Pulumi.llm-dev.yaml", root=PROJECT.root)
    return [(key_path(i.path), i.message) for i in caught.value.issues]


def test_the_llm_dev_embedder_answers_grpc_on_the_https_gateways_hostname_beside_the_chat_prefix():
    rec = run_stack("llm-dev")
    routes = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in rec.of_type(ROUTE)
              if r.inputs["metadata"]["namespace"] != "mlinfra-gateway"}
    assert routes["embed"] == {
        "parentRefs": [{"name": "mlinfra", "namespace": "mlinfra-gateway", "sectionName": "https"}],
        "hostnames": ["llm.dev.acme.example"],
        "rules": [{"backendRefs": [{"name": "embed-stable", "port": 80, "weight": 100}]}]}
    assert routes["chat"]["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/chat"}}]
    embed = rec.one(SERVICE, "mlinfra-svc-embed-stable-svc").inputs["spec"]["ports"]
    assert embed == [{"name": "grpc", "port": 80, "targetPort": "grpc", "protocol": "TCP",
                      "appProtocol": "kubernetes.io/h2c"}]
    assert rec.one(SERVICE, "mlinfra-svc-chat-stable-svc").inputs["spec"]["ports"][0]["name"] == "http"
    # Cloud Armor guards the gRPC server's backend as it guards the chat's.
    policies = {r.inputs["metadata"]["name"] for r in rec.of_type("kubernetes:networking.gke.io/v1:GCPBackendPolicy")}
    assert policies == {"chat-stable", "embed-stable"}


def test_grpc_on_gke_needs_the_gateways_https_naming_the_key():
    found = errors_of(llm_dev(gateway={"exposure": "internal"}))
    assert [k for k, _ in found] == ["mlinfra:services[1].protocol"]
    assert "over HTTPS" in found[0][1] and "TLS" in found[0][1]


def test_a_second_grpc_server_on_the_gateway_is_refused_naming_its_key():
    second = {"name": "rank", "runtime": "tfserving", "protocol": "grpc",
              "model": {"uri": "gs://acme-ml-dev-llm-dev-artifacts/models/rank", "version": "1"}}
    found = errors_of(llm_dev(extra=(second,)))
    assert [k for k, _ in found] == ["mlinfra:services[2].protocol"]
    assert "embed already takes" in found[0][1]
