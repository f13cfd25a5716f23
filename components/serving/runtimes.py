"""Serving runtimes: how each model server is started against a model directory (plain data).

Shared by every platform that runs model servers. A preset gives the image (CPU and GPU
builds), command, args, port and health endpoints; the model directory is where the platform
mounts the model version from the artifact bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

RUNTIMES = ("triton", "torchserve", "tfserving", "vllm", "custom")


@dataclass(frozen=True)
class Launch:
    image: Optional[str]
    command: list[str]
    args: list[str]
    port: int
    ready_path: Optional[str]
    live_path: Optional[str]
    metrics_port: Optional[int]


@dataclass(frozen=True)
class Runtime:
    name: str
    cpu_image: Optional[str]
    gpu_image: Optional[str]
    port: int
    command: tuple[str, ...]
    args: Callable[[str, str, int], list[str]]
    """(model name, model directory, port) -> args."""
    ready_path: Callable[[str], Optional[str]]
    live_path: Callable[[str], Optional[str]]
    metrics_port: Optional[int]
    needs_gpu: bool = False
    gpu_args: Callable[[int], list[str]] = lambda gpus: []
    """GPUs per server -> extra args (vLLM shards the model over them: tensor parallelism)."""
    public_registry: bool = True
    """The default image is on Docker Hub, which Cloud Run can pull; nvcr.io is not."""
    cache_args: Callable[[bool, str], list[str]] = lambda tls, ca_file: []
    """(TLS, CA file) -> args that turn on the runtime's own response cache in the stack's cache
    (host and port from `$(CACHE_HOST)`/`$(CACHE_PORT)`, which Kubernetes expands from the env)."""
    grpc_port: Optional[int] = None
    """The runtime's gRPC port, for `protocol: grpc`; None: it has no gRPC server it can expose."""
    grpc_args: Callable[[list[str], int], list[str]] = lambda args, port: args
    """(HTTP preset args, gRPC port) -> the args that serve gRPC on that port."""
    grpc_health: bool = False
    """The gRPC server implements the standard grpc.health.v1 service (gRPC probes); else TCP probes."""


PRESETS: dict[str, Runtime] = {
    "triton": Runtime(
        "triton", "nvcr.io/nvidia/tritonserver:24.10-py3", "nvcr.io/nvidia/tritonserver:24.10-py3", 8000,
        ("tritonserver",),
        lambda name, path, port: [f"--model-repository={path.rsplit('/', 2)[0]}", f"--http-port={port}",
                                  "--allow-grpc=false", "--strict-readiness=true"],
        lambda name: "/v2/health/ready", lambda name: "/v2/health/live", 8002,
        public_registry=False,
        cache_args=lambda tls, ca_file: triton_redis_cache_args(tls, ca_file),
        # gRPC on 8001, Triton's default; grpc.health.v1 since 23.02 (triton-inference-server/server#5267).
        grpc_port=8001, grpc_health=True,
        grpc_args=lambda args, port: [a for a in args if a != "--allow-grpc=false"] + [
            "--allow-grpc=true", f"--grpc-port={port}"],
    ),
    "torchserve": Runtime(
        "torchserve", "pytorch/torchserve:0.12.0-cpu", "pytorch/torchserve:0.12.0-gpu", 8080,
        ("torchserve",),
        lambda name, path, port: ["--start", "--foreground", "--model-store", path, "--models", "all",
                                  "--disable-token-auth", "--ncs"],
        lambda name: "/ping", lambda name: "/ping", 8082,
    ),
    "tfserving": Runtime(
        "tfserving", "tensorflow/serving:2.18.0", "tensorflow/serving:2.18.0-gpu", 8501,
        ("tensorflow_model_server",),
        lambda name, path, port: [f"--model_name={name}", f"--model_base_path={path.rsplit('/', 1)[0]}",
                                  f"--rest_api_port={port}", "--port=8500"],
        lambda name: f"/v1/models/{name}", lambda name: f"/v1/models/{name}", None,
        # `--port` is TF Serving's gRPC port (8500 by default); it has no grpc.health.v1 service.
        grpc_port=8500,
        grpc_args=lambda args, port: [a for a in args if not a.startswith("--port=")] + [f"--port={port}"],
    ),
    "vllm": Runtime(
        "vllm", None, "vllm/vllm-openai:v0.8.5", 8000,
        ("python3", "-m", "vllm.entrypoints.openai.api_server"),
        lambda name, path, port: ["--model", path, "--served-model-name", name, "--port", str(port)],
        lambda name: "/health", lambda name: "/health", 8000,
        needs_gpu=True,
        # Without it vLLM uses one GPU and leaves the others idle (and the model may not fit one).
        gpu_args=lambda gpus: ["--tensor-parallel-size", str(gpus)] if gpus > 1 else [],
    ),
}


def triton_redis_cache_args(tls: bool, ca_file: str) -> list[str]:
    """Triton's response cache in Redis/Valkey (the `redis` cache implementation of
    triton-inference-server/redis_cache, shipped in Triton's containers under
    /opt/tritonserver/caches since 23.02, its TLS options since mid-2023): `--cache-config
    <cache>,<key>=<value>`, repeated; host and port are required, `tls_enabled=true` with
    `cacert` verifies the server. Each model opts
    in with `response_cache { enable: true }` in its config.pbtxt; Triton keys an entry by the
    model's name, version and inputs, so a new model version never reads the old one's results."""
    args = ["--cache-config", "redis,host=$(CACHE_HOST)", "--cache-config", "redis,port=$(CACHE_PORT)"]
    if tls:
        args += ["--cache-config", "redis,tls_enabled=true", "--cache-config", f"redis,cacert={ca_file}"]
    return args


def cache_args(runtime: Optional[str], tls: bool, ca_file: str) -> list[str]:
    """The args that point a runtime's own cache at the stack's cache (none for a runtime without one)."""
    preset = PRESETS.get(runtime or "custom")
    return preset.cache_args(tls, ca_file) if preset is not None else []


def flag(arg: str) -> Optional[str]:
    """The option an argument sets (`--port` of `--port=8000`), or None for a value."""
    return arg.split("=", 1)[0] if arg.startswith("-") else None


def preset_flags(runtime: Optional[str], gpus: int) -> set[str]:
    """The options a runtime's preset arguments set for any model, port and GPU count."""
    preset = PRESETS.get(runtime or "custom")
    if preset is None:
        return set()
    return {f for a in preset.args("m", model_dir("m", "0"), preset.port) + preset.gpu_args(gpus)
            if (f := flag(a)) is not None}


def model_dir(model_name: str, version: str) -> str:
    """Where a model version is mounted: `/models/<name>/<version>` (the layout every preset reads)."""
    return f"/models/{model_name}/{version}"


def launch(runtime: Optional[str], *, image: Optional[str], gpu: bool, model_name: str,
           version: Optional[str], port: Optional[int], args: Optional[list[str]],
           command: Optional[list[str]], gpus: int = 0, extra_args: Sequence[str] = (),
           model_source: Optional[str] = None, protocol: str = "http") -> Launch:
    """Resolve what the container runs. Explicit `image`, `port`, `args`, `command` win; `gpus`
    (per server) adds the preset's GPU args to its default args; `extra_args` are appended to
    whichever arguments that gives. `model_source` is a Hugging Face model id the runtime loads
    itself, at the revision `version`, instead of the mounted directory (vllm). With `protocol`
    grpc the container serves its gRPC port (the preset's, or `port`) and no HTTP health path."""
    preset = PRESETS.get(runtime or "custom")
    if preset is None:  # custom, or model-in-image without a runtime
        return Launch(image, list(command or []), list(args or []) + list(extra_args), port or 8080, None, None, None)
    path = model_source or model_dir(model_name, version or "0")
    grpc = protocol == "grpc" and preset.grpc_port is not None
    chosen_port = port or (preset.grpc_port if grpc else preset.port)
    revision = ["--revision", version] if model_source and version else []
    preset_args = preset.args(model_name, path, preset.port if grpc else chosen_port)
    if grpc:
        preset_args = preset.grpc_args(preset_args, chosen_port)
    return Launch(
        image=image or (preset.gpu_image if gpu else preset.cpu_image),
        command=list(command) if command is not None else list(preset.command),
        args=(list(args) if args is not None else preset_args + revision + preset.gpu_args(gpus)) + list(extra_args),
        port=chosen_port,
        ready_path=None if grpc else preset.ready_path(model_name),
        live_path=None if grpc else preset.live_path(model_name),
        metrics_port=preset.metrics_port,
    )


def grpc_health(runtime: Optional[str]) -> bool:
    """The runtime's gRPC server answers grpc.health.v1 (so probes can be gRPC checks)."""
    preset = PRESETS.get(runtime or "custom")
    return preset.grpc_health if preset is not None else False
