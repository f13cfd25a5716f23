"""`extraArgs`: arguments appended to a runtime's own, on every platform, without restating the
preset; and the options the preset sets refused with the key that says them."""

from __future__ import annotations

import pytest

from components.gcp.cloudrun.revisions import revision_name
from components.gcp.gke.gke_service_spec import GkeServiceSpec
from components.serving import runtimes
from tests.components.gcp.cloudrun.test_cloud_run_model_server import GPU
from tests.components.gcp.cloudrun.test_cloud_run_model_server import serve as serve_on_cloud_run
from tests.components.gcp.gke.test_gke_workloads import LLM, pod, serve as serve_on_gke, spec_of
from tests.infra.test_config import CPU_SVC, GPU_SVC, errors, service, with_keys


def test_extra_args_follow_the_presets_arguments_on_gke():
    args = pod(serve_on_gke(spec_of(extraArgs=["--max-model-len", "8192"])), "srv-stable")["containers"][0]["args"]
    assert args[-2:] == ["--max-model-len", "8192"] and args[0] == "--model"


def test_extra_args_follow_the_gpu_args_and_explicit_args():
    two = {**LLM["resources"], "gpu": {"type": "nvidia-l4", "count": 2}}
    args = pod(serve_on_gke(spec_of(resources=two, extraArgs=["--enable-prefix-caching"])), "srv-stable")
    assert args["containers"][0]["args"][-3:] == ["--tensor-parallel-size", "2", "--enable-prefix-caching"]
    launch = runtimes.launch("vllm", image=None, gpu=True, model_name="m", version="1", port=None,
                             args=["--model", "/m"], command=None, extra_args=["--seed", "1"])
    assert launch.args == ["--model", "/m", "--seed", "1"]


def test_extra_args_reach_the_cloud_run_container_and_make_a_new_revision():
    spec = GPU.model_copy(update={"extra_args": ["--max-model-len", "4096"]})
    container = serve_on_cloud_run(spec).one("gcp:cloudrunv2/service:Service").inputs["template"]["containers"][0]
    assert container["args"] == ["--model", "/models/llm/8", "--served-model-name", "llm", "--port", "8000",
                                 "--max-model-len", "4096"]
    assert revision_name("llm-dev", spec) != revision_name("llm-dev", GPU)


@pytest.mark.parametrize("extra, key, fragment", [
    (["--port", "9000"], "mlinfra:services[0].extraArgs[0]", "is an option the vllm preset already sets"),
    (["--max-model-len", "8192", "--model=/other"], "mlinfra:services[0].extraArgs[2]", "already sets"),
    (["--tensor-parallel-size", "4"], "mlinfra:services[0].extraArgs[0]", "the GPU count sets --tensor-parallel-size"),
], ids=["the port", "the model path as --flag=value", "the tensor parallelism"])
def test_rejects_an_option_the_preset_sets_naming_the_key(extra, key, fragment):
    found = errors(with_keys(services=[{**GPU_SVC, "extraArgs": extra}]))
    assert [path for path, _ in found] == [key]
    assert fragment in found[0][1]


def test_args_may_be_extended_with_any_option():
    spec = GkeServiceSpec.model_validate({**LLM, "args": ["--model", "/m", "--port", "8000"],
                                          "extraArgs": ["--port", "8001"]})
    assert spec.extra_args_issues() == []


def test_rejects_extra_args_on_a_server_that_has_no_arguments_to_extend():
    found = errors(service(CPU_SVC, extraArgs=["--workers", "2"]))
    assert [path for path, _ in found] == ["mlinfra:services[0].extraArgs"]
    assert "would replace the image's own arguments" in found[0][1]
