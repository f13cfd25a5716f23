"""What every model server says about itself and its model, on any platform.

The vocabulary Cloud Run, GKE and EKS servers share: the model to load (or the image it is
baked into), the serving runtime, a canary of a new version, probes and secrets by reference.
Platform specs extend `ModelServingSpec` with their own resources, scaling and rollout keys.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from components.core.images import image_issues
from components.core.issues import Issue, one_of
from components.core.naming import DNS_LABEL, image_tag
from components.core.spec import Context, Spec
from components.serving import runtimes
from components.serving.slo_spec import SloSpec


HF_SCHEME = "hf://"
HF_TOKEN_ENV = "HF_TOKEN"
"""The variable Hugging Face's libraries (and so vLLM) read a token from."""
HF_RUNTIMES = ("vllm",)
"""Presets that load a Hugging Face model id themselves."""


class ModelSpec(Spec):
    uri: str = Field(pattern=r"^(gs://[a-z0-9][a-z0-9._-]{1,61}[a-z0-9](/[^\s]*)?"
                             r"|hf://[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95})$")
    """gs://<artifact bucket>/<path>: the directory holding one subdirectory per version; or
    gs://<another bucket>/<path> with `external: true`; or hf://<org>/<model>, a Hugging Face
    model id (runtime vllm), downloaded by the server at start."""
    version: str = Field(pattern=r"^[A-Za-z0-9._-]{1,40}$")
    """The version to serve: the subdirectory `<uri>/<version>/`; for a Hugging Face model, the
    revision (a branch, tag or commit hash, e.g. main)."""
    external: bool = False
    """The gs:// URI is in a bucket the stack does not own (another of your buckets, named in
    full): the server's account gets read access on that bucket (objectViewer, a binding on the
    bucket, which your deploy identity must be allowed to set). Defaults to false: the model
    must be in the stack's artifact bucket."""
    token_secret: Optional[str] = Field(None, pattern=r"^[A-Za-z0-9_-]{1,255}$")
    """For an hf:// model that is gated or private: the Secret Manager secret (created outside the
    stack) holding a Hugging Face token, which the server reads as HF_TOKEN. Defaults to none
    (a public model)."""
    download_size: str = "32Gi"
    """For an hf:// model on Kubernetes: the local disk its download may use (the cache
    directory's size limit; the node's boot disk must hold it). Defaults to 32Gi."""

    def issues(self, ctx: Context) -> list[Issue]:
        issues: list[Issue] = []
        if "," in self.uri:
            issues.append(Issue(("uri",), "cannot contain a comma (it ends the FUSE mount's only-dir option)", self.uri,
                                fix="move the model to a path without commas"))
        if self.is_hf and self.external:
            issues.append(Issue(("external",), "applies to a gs:// model in another bucket; a Hugging Face model is "
                                "downloaded from the Hub", fix="remove external"))
        if not self.is_hf and self.token_secret is not None:
            issues.append(Issue(("tokenSecret",), "is the Hugging Face token of an hf:// model; a gs:// model is read "
                                "with the server's own account", self.token_secret, fix="remove tokenSecret"))
        if not self.is_hf and "download_size" in self.model_fields_set:
            issues.append(Issue(("downloadSize",), "sizes an hf:// model's download; a gs:// model is mounted, not "
                                "copied", self.download_size, fix="remove downloadSize"))
        return issues

    @property
    def is_hf(self) -> bool:
        return self.uri.startswith(HF_SCHEME)

    @property
    def hf_id(self) -> Optional[str]:
        """`org/model` of a Hugging Face model, else None."""
        return self.uri[len(HF_SCHEME):] if self.is_hf else None

    @property
    def bucket(self) -> str:
        return self.uri[len("gs://"):].split("/", 1)[0] if not self.is_hf else ""

    @property
    def prefix(self) -> str:
        """The path inside the bucket, without slashes at either end."""
        parts = self.uri[len("gs://"):].split("/", 1)
        return parts[1].strip("/") if len(parts) > 1 and not self.is_hf else ""


class ProbeSpec(Spec):
    path: Optional[str] = None
    """HTTP path to probe. Defaults to the runtime's health endpoint, or a TCP check."""
    initial_delay_seconds: int = Field(0, ge=0, le=240)
    """Seconds before the first probe. Defaults to 0."""
    period_seconds: int = Field(10, ge=1, le=240)
    """Seconds between probes. Defaults to 10."""
    timeout_seconds: int = Field(5, ge=1, le=240)
    """Seconds a probe may take; at most periodSeconds. Defaults to 5."""
    failure_threshold: Optional[int] = Field(None, ge=1, le=1000)
    """Failures before giving up. Defaults to 30 (startup, 60 with a GPU) or 3 (liveness)."""

    def issues(self, ctx: Context) -> list[Issue]:
        if self.timeout_seconds > self.period_seconds:
            return [Issue(("timeoutSeconds",), f"is longer than periodSeconds ({self.period_seconds})",
                          self.timeout_seconds, fix=f"set it to {self.period_seconds} or less")]
        return []


class CanarySpec(Spec):
    percent: int = Field(ge=0, le=100)
    """Share of traffic for the canary, 0 to 100 (0 rolls back, keeping the tagged URL)."""
    version: Optional[str] = Field(None, pattern=r"^[A-Za-z0-9._-]{1,40}$")
    """The new model version (model-loading)."""
    image: Optional[str] = None
    """The new image (model-in-image)."""


class SecretRef(Spec):
    env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Environment variable that receives the secret."""
    secret: str = Field(pattern=r"^[A-Za-z0-9_-]{1,255}$")
    """Secret Manager secret ID in the stack's project (created outside the stack)."""
    version: str = "latest"
    """Secret version. Defaults to latest."""


class ModelServingSpec(Spec):
    """What every model server says about itself and its model, on any platform."""

    name: str = Field(pattern=DNS_LABEL, max_length=30)
    """Service name: lowercase letters, digits and hyphens, at most 30. Names its resources."""
    image: Optional[str] = None
    """Container image. Alone: model-in-image. With `runtime`: overrides the runtime's image."""
    runtime: Optional[Literal["triton", "torchserve", "tfserving", "vllm", "custom"]] = None
    """Serving runtime preset for model-loading."""
    model: Optional[ModelSpec] = None
    """The model to load from the artifact bucket (model-loading)."""
    command: Optional[list[str]] = None
    """Override the container entrypoint."""
    args: Optional[list[str]] = None
    """Replace the runtime's arguments (all of them: the model path and port too)."""
    extra_args: list[str] = []
    """Append to the runtime's arguments (or to `args`), e.g. `[--max-model-len, "8192"]` for vLLM.
    Options the runtime's preset sets are refused: change them with `args`. Defaults to none."""
    port: Optional[int] = Field(None, ge=1, le=65535)
    """Serving port. Defaults to the runtime's, else 8080."""
    cache: bool = False
    """Connect the server to the stack's cache (`mlinfra:cache`): it gets CACHE_HOST, CACHE_PORT,
    CACHE_TLS and the CA (GKE: a ConfigMap, the CA as a file at CACHE_CA_FILE; Cloud Run: plain
    variables, the CA's PEM in CACHE_CA_CERT), and Triton (with the preset's arguments) keeps its
    response cache there (on Cloud Run with TLS, the CA also as a file at CACHE_CA_FILE, from a
    Secret Manager secret of the server's that only its account reads). Defaults to false."""
    protocol: Literal["http", "grpc"] = "http"
    """What the server speaks: http (HTTP/1.1 REST) or grpc (HTTP/2 end to end on the runtime's gRPC
    port: triton 8001, tfserving 8500; gRPC health checks where the server has the grpc.health.v1
    service, Triton's, else TCP checks): on Cloud Run (h2c to the container; with `loadBalancer`, an
    HTTP/2 backend service) and on GKE (an h2c Service port behind the stack's HTTPS Gateway, which
    balances each call, not each connection), and on EKS (an HTTPS listener with `certificateArn` on
    the stack's ALB, a gRPC target group). Defaults to http."""
    slo: Optional[SloSpec] = None
    """Service-level objectives, each with a fast and a slow burn-rate alert. Defaults to none;
    in prod to availability 99.5 % over 28 days (a gRPC server on EKS, or on GKE with a runtime
    other than Triton: none, and its slo is refused; a gRPC Triton server on GKE: availability
    only, from Triton's request counters)."""

    def shipping_issues(self) -> list[Issue]:
        """How a server ships its model must be whole: an image (model-in-image), or a runtime with
        a model to load (model-loading); `custom` brings its own image."""
        issues: list[Issue] = []
        image, runtime, model = self.image, self.runtime, self.model
        if image is None and runtime is None:
            issues.append(Issue(("image",), "a service needs an image (model-in-image) or a runtime with a model (model-loading)",
                                fix="add `image: <registry>/<image>:<tag>`, or `runtime:` and `model: {uri, version}`"))
        if runtime and runtime != "custom" and model is None:
            issues.append(Issue(("model",), f"runtime {runtime} loads a model, but none is given",
                                fix="add `model: {uri: gs://<artifact bucket>/<path>, version: \"1\"}`"))
        if runtime == "custom" and image is None:
            issues.append(Issue(("image",), "runtime custom needs an image", fix="add `image:`"))
        if model is not None and runtime is None:
            issues.append(Issue(("runtime",), "a model to load needs a runtime to serve it",
                                allowed=one_of(runtimes.RUNTIMES), fix="add `runtime:` (custom with your own image)"))
        elif model is not None and model.is_hf and runtime not in HF_RUNTIMES:
            issues.append(Issue(("model", "uri"), f"is a Hugging Face model id, which runtime {runtime} cannot load "
                                "(it serves a directory)", model.uri, allowed=f"runtime {one_of(HF_RUNTIMES)}",
                                fix="set runtime: vllm, or copy the model into the artifact bucket and use its gs:// URI"))
        if image is not None:
            issues += image_issues(image, key=("image",))
        return issues + self.extra_args_issues() + self.protocol_issues()

    def protocol_issues(self) -> list[Issue]:
        """gRPC needs a runtime with a gRPC server it can expose (or your own image)."""
        if self.protocol != "grpc" or self.runtime is None or self.runtime == "custom":
            return []
        preset = runtimes.PRESETS[self.runtime]
        if preset.grpc_port is not None:
            return []
        why = {"vllm": "vLLM's OpenAI server has no gRPC API",
               # pytorch/serve ConfigManager.getGRPCAddress: grpc_inference_address defaults to
               # 127.0.0.1, and TS_* variables are read only when config.properties sets
               # enable_envvars_config=true; the image's config.properties sets neither.
               "torchserve": "TorchServe's gRPC API listens on 127.0.0.1:7070 unless config.properties sets "
                             "grpc_inference_address (no flag sets it, and its TS_GRPC_INFERENCE_ADDRESS variable "
                             "is read only when that file sets enable_envvars_config=true); the image's "
                             "config.properties sets neither"}.get(self.runtime, "")
        return [Issue(("protocol",), f"runtime {self.runtime} serves no gRPC the platform can reach ({why})", self.protocol,
                      allowed="grpc with runtime triton, tfserving or custom", fix="set protocol: http, or use "
                      "runtime custom with an image whose gRPC server listens on 0.0.0.0:<port>")]

    def extra_args_issues(self) -> list[Issue]:
        """Extra arguments append to arguments the container is given: a preset's or `args`; they
        may not restate an option the preset sets (the runtime would read it twice)."""
        if not self.extra_args:
            return []
        if self.args is None and runtimes.PRESETS.get(self.runtime or "custom") is None:
            return [Issue(("extraArgs",), "appends to the runtime's arguments, but this server has none: given "
                          "alone they would replace the image's own arguments", self.extra_args,
                          fix="write the whole argument list under `args`")]
        if self.args is not None:
            return []
        taken = runtimes.preset_flags(self.runtime, gpus=2)
        return [Issue(("extraArgs", i), f"is an option the {self.runtime} preset already sets", arg,
                      allowed="options the preset does not set", fix="remove it; to change that option, replace the "
                      "runtime's arguments with `args`" + (" (the GPU count sets --tensor-parallel-size)"
                                                           if runtimes.flag(arg) == "--tensor-parallel-size" else ""))
                for i, arg in enumerate(self.extra_args) if runtimes.flag(arg) in taken]

    def canary_issues(self, canary: Optional[CanarySpec]) -> list[Issue]:
        """A canary changes what the service ships: the model version (model-loading) or the image."""
        issues: list[Issue] = []
        if canary is None:
            return issues
        model, image = self.model, self.image
        if canary.image is not None:
            issues += image_issues(canary.image, key=("rollout", "canary", "image"))
        if model is not None:
            if canary.version is None:
                issues.append(Issue(("rollout", "canary", "version"), "a canary of a loaded model needs the new model version",
                                    fix="add `version:` with the model version to try"))
            elif canary.version == model.version:
                issues.append(Issue(("rollout", "canary", "version"), "is the stable version itself", canary.version,
                                    fix=f"set a version other than {model.version}, or remove the canary"))
            if canary.image is not None:
                issues.append(Issue(("rollout", "canary", "image"), "a model-loading canary changes the version, not the image",
                                    fix="remove `image:` from the canary"))
        elif image is not None:
            if canary.image is None:
                issues.append(Issue(("rollout", "canary", "image"), "a canary of a model-in-image service needs the new image",
                                    fix="add `image:` with the image to try"))
            elif canary.image == image:
                issues.append(Issue(("rollout", "canary", "image"), "is the stable image itself", canary.image,
                                    fix="set a different image tag, or remove the canary"))
            if canary.version is not None:
                issues.append(Issue(("rollout", "canary", "version"), "a model-in-image canary changes the image, not a model version",
                                    fix="remove `version:` from the canary and set `image:`"))
        return issues

    def model_secret_issues(self, secrets: list[SecretRef]) -> list[Issue]:
        """The model's token variable is set once: not by the spec's `env` or `secrets` too."""
        if not self.model_secrets():
            return []
        issues = [Issue(("secrets", i, "env"), f"is the variable model.tokenSecret sets", s.env,
                        fix="remove this secret (model.tokenSecret provides it)")
                  for i, s in enumerate(secrets) if s.env == HF_TOKEN_ENV]
        if HF_TOKEN_ENV in getattr(self, "env", {}):
            issues.append(Issue(("env", HF_TOKEN_ENV), "is the variable model.tokenSecret sets", fix="remove it"))
        return issues

    def model_secrets(self) -> list[SecretRef]:
        """Secrets the model itself needs (a Hugging Face token), beside the spec's own `secrets`."""
        if self.model is not None and self.model.token_secret is not None:
            return [SecretRef(env=HF_TOKEN_ENV, secret=self.model.token_secret)]
        return []

    @property
    def model_name(self) -> str:
        return self.model.uri.rstrip("/").rsplit("/", 1)[-1] if self.model else self.name

    @property
    def version(self) -> str:
        """The model version, or the image's tag for model-in-image."""
        return self.model.version if self.model is not None else image_tag(self.image or "")

    def launch(self, gpu: bool) -> runtimes.Launch:
        """What the container runs: the runtime preset resolved against this spec."""
        gpu_spec = getattr(getattr(self, "resources", None), "gpu", None)
        return runtimes.launch(self.runtime, image=self.image, gpu=gpu, model_name=self.model_name,
                               version=self.model.version if self.model else None, port=self.port,
                               model_source=self.model.hf_id if self.model else None,
                               args=self.args, command=self.command, extra_args=self.extra_args,
                               protocol=self.protocol,
                               gpus=getattr(gpu_spec, "count", 1) if gpu and gpu_spec is not None else 0)

    def variant(self, canary: bool):
        """The spec as one revision or track runs it: stable, or the canary's version or image."""
        rollout = getattr(self, "rollout")
        updates: dict = {"rollout": type(rollout)()}
        c = rollout.canary
        if canary and c is not None:
            if c.version is not None and self.model is not None:
                updates["model"] = self.model.model_copy(update={"version": c.version})
            if c.image is not None:
                updates["image"] = c.image
        return self.model_copy(update=updates)
