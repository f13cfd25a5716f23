"""`protocol: grpc`: the runtimes' gRPC ports and flags, Cloud Run's HTTP/2 end to end with gRPC
health checks (and an HTTP/2 backend service behind its load balancer), revision names unchanged
for http services, and the runtimes that refuse it naming the key (GKE's side:
tests/components/gcp/gke/test_gke_grpc.py; EKS's: tests/infra/patterns/test_eks_grpc.py)."""

from __future__ import annotations

import pytest

from components.gcp.cloudrun.cloud_run_service_spec import CloudRunServiceSpec
from components.gcp.cloudrun.revisions import revision_name
from components.serving import runtimes
from tests.components.gcp.cloudrun.test_cloud_run_model_server import serve as serve_on_cloud_run
from tests.infra.test_config import ART, errors, service

TRITON = {"name": "tri", "runtime": "triton", "image": "us-docker.pkg.dev/acme/serve/tritonserver:24.10",
          "model": {"uri": "gs://art/models/tri", "version": "3"}, "resources": {"cpu": 2, "memory": "4Gi"}}
TFS = {"name": "tfs", "runtime": "tfserving", "model": {"uri": "gs://art/models/tfs", "version": "2"}}


def container(values: dict) -> dict:
    spec = CloudRunServiceSpec.model_validate(values)
    return serve_on_cloud_run(spec).one("gcp:cloudrunv2/service:Service").inputs["template"]["containers"][0]


def launch(runtime: str, protocol: str, port=None):
    return runtimes.launch(runtime, image=None, gpu=False, model_name="m", version="1", port=port, args=None,
                           command=None, protocol=protocol)


def test_triton_serves_grpc_on_8001_instead_of_refusing_it():
    http, grpc = launch("triton", "http"), launch("triton", "grpc")
    assert "--allow-grpc=false" in http.args and http.port == 8000
    assert grpc.args == ["--model-repository=/models", "--http-port=8000", "--strict-readiness=true",
                         "--allow-grpc=true", "--grpc-port=8001"]
    assert (grpc.port, grpc.ready_path, grpc.live_path) == (8001, None, None)
    assert launch("triton", "grpc", port=9001).args[-1] == "--grpc-port=9001"


def test_tf_serving_serves_grpc_on_its_port_flag():
    grpc = launch("tfserving", "grpc")
    assert grpc.args == ["--model_name=m", "--model_base_path=/models/m", "--rest_api_port=8501", "--port=8500"]
    assert grpc.port == 8500 and grpc.ready_path is None
    assert launch("tfserving", "grpc", port=9500).args[-1] == "--port=9500"


def test_cloud_run_grpc_is_http2_end_to_end_with_grpc_probes_on_triton():
    c = container({**TRITON, "protocol": "grpc"})
    assert c["ports"] == {"containerPort": 8001, "name": "h2c"}
    assert c["startupProbe"] == {"initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 5,
                                 "failureThreshold": 30, "grpc": {"port": 8001}}
    assert c["livenessProbe"] == {"initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 5,
                                  "failureThreshold": 3, "grpc": {"port": 8001}}
    assert "--allow-grpc=true" in c["args"]


def test_cloud_run_grpc_without_a_health_service_gets_a_tcp_startup_check_and_no_liveness():
    c = container({**TFS, "protocol": "grpc"})
    assert c["ports"] == {"containerPort": 8500, "name": "h2c"}
    assert c["startupProbe"]["tcpSocket"] == {"port": 8500}
    assert "grpc" not in c["startupProbe"] and "httpGet" not in c["startupProbe"]
    assert "livenessProbe" not in c


def test_cloud_run_http_keeps_http1_and_its_revision_names():
    c = container(TFS)
    assert c["ports"] == {"containerPort": 8501, "name": "http1"}
    assert c["startupProbe"]["httpGet"] == {"path": "/v1/models/tfs", "port": 8501}
    http = CloudRunServiceSpec.model_validate(TFS)
    explicit = CloudRunServiceSpec.model_validate({**TFS, "protocol": "http"})
    grpc = CloudRunServiceSpec.model_validate({**TFS, "protocol": "grpc"})
    assert revision_name("tfs-dev", http) == revision_name("tfs-dev", explicit) != revision_name("tfs-dev", grpc)


@pytest.mark.parametrize("runtime, fragment", [
    ("vllm", "vLLM's OpenAI server has no gRPC API"),
    ("torchserve", "grpc_inference_address"),
])
def test_runtimes_without_a_reachable_grpc_server_refuse_it_naming_the_key(runtime, fragment):
    svc = {"name": "s", "runtime": runtime, "model": {"uri": ART, "version": "1"}, "protocol": "grpc"}
    if runtime == "vllm":
        svc |= {"resources": {"cpu": 8, "memory": "32Gi", "gpu": {"type": "nvidia-l4"}}, "scaling": {"maxReplicas": 2}}
    found = errors(service(svc))
    assert [path for path, _ in found] == ["mlinfra:services[0].protocol"]
    assert fragment in found[0][1]


def test_an_http_probe_path_on_a_grpc_port_is_refused():
    found = errors(service({**TFS, "model": {"uri": ART, "version": "1"}, "protocol": "grpc",
                            "probes": {"startup": {"path": "/v1/models/tfs"}}}))
    assert [path for path, _ in found] == ["mlinfra:services[0].probes.startup.path"]
    assert "HTTP/1.1 probe" in found[0][1]


def test_the_kubernetes_platforms_take_grpc_and_eks_asks_for_its_https_listeners_certificate():
    from components.gcp.gke.gke_service_spec import GkeServiceSpec
    from components.aws.eks.eks_service_spec import EksServiceSpec
    values = {"name": "s", "image": "us-docker.pkg.dev/acme/serve/s:1", "protocol": "grpc"}
    found = [i for i in EksServiceSpec.model_validate(values).issues(None) if i.path[0] in ("protocol", "certificateArn")]
    assert [i.path for i in found] == [("certificateArn",)] and "HTTPS listener" in found[0].message
    assert [i for i in GkeServiceSpec.model_validate(values).issues(None) if i.path == ("protocol",)] == []


def test_behind_a_load_balancer_the_backend_service_speaks_http2_to_a_grpc_service():
    from tests.components.gcp.cloudrun.test_cloud_run_load_balancer import BACKEND, HOST, LB, dev
    from tests.conftest import run_config
    rec = run_config(dev(loadBalancer={"hostname": HOST}, protocol="grpc", runtime="triton", secrets=None,
                         resources={"cpu": 4, "memory": "16Gi", "gpu": {"type": "nvidia-l4", "zonalRedundancy": False}},
                         image="us-docker.pkg.dev/acme/serve/tritonserver:24.10"), stack="dev")
    assert rec.one(BACKEND, f"{LB}-backend").inputs["protocol"] == "HTTP2"
    assert rec.one("gcp:cloudrunv2/service:Service", "mlinfra-svc-summarizer").inputs["template"]["containers"][0][
        "ports"] == {"containerPort": 8001, "name": "h2c"}
    assert run_config(dev(), stack="dev").one(BACKEND, f"{LB}-backend").inputs["protocol"] == "HTTPS"


def test_a_stack_file_with_a_grpc_service_plans_it_beside_an_http_one():
    from tests.conftest import run_config
    from tests.infra.test_config import with_keys
    grpc = {**TFS, "name": "tfs-grpc", "model": {"uri": ART, "version": "2"}, "protocol": "grpc"}
    plan = run_config(with_keys(services=[{**TFS, "model": {"uri": ART, "version": "2"}}, grpc]))
    ports = sorted((s.inputs["name"], s.inputs["template"]["containers"][0]["ports"]["name"])
                   for s in plan.of_type("gcp:cloudrunv2/service:Service"))
    assert ports == [("tfs-grpc-test", "h2c"), ("tfs-test", "http1")]
