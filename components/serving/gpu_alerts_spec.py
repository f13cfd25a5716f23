"""When a GPU model server's GPU alerts fire, as the stack file says it (`services[].gpuAlerts`)."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from components.core.spec import Spec


class GpuAlertsSpec(Spec):
    """Alerts on the GPUs a model server's pods hold (GKE: its managed DCGM metrics; EKS: Container
    Insights' GPU metrics, from the DCGM exporter the CloudWatch Observability add-on runs): idle
    GPUs (money spent on nothing) and framebuffer memory near full (the next batch or a longer
    sequence fails with out-of-memory). Prod servers with a GPU get them with these defaults; a
    dev server only when it has this key."""

    idle_percent: float = Field(default=10, gt=0, le=100)
    """Idle alert: fire when the server's average GPU utilization (DCGM_FI_DEV_GPU_UTIL, the share
    of time a kernel ran; on EKS pod_gpu_utilization) stays below this percent for idleMinutes.
    Defaults to 10."""
    idle_minutes: int = Field(default=60, ge=10, le=1440)
    """Idle alert: how long, in minutes (10 to 1440), utilization must stay below idlePercent.
    Defaults to 60."""
    memory_percent: Optional[float] = Field(default=None, ge=50, le=100)
    """Memory alert: fire when a GPU's used framebuffer (DCGM_FI_DEV_FB_USED over used plus free;
    on EKS pod_gpu_memory_utilization) stays above this percent (50 to 100) for five minutes.
    Defaults to 90; for vllm to 98 (vLLM reserves 90 % of the GPU's memory for weights and KV
    cache at start, so its framebuffer always reads about 90 %); for tfserving to no memory alert (TensorFlow maps nearly all of the
    GPU's memory at start), unless set."""

    def memory_threshold(self, runtime: Optional[str]) -> Optional[float]:
        """The memory alert's threshold for a server on `runtime`, or None for no memory alert."""
        if self.memory_percent is not None:
            return self.memory_percent
        return MEMORY_DEFAULTS.get(runtime or "custom", 90)


MEMORY_DEFAULTS: dict[str, Optional[float]] = {"vllm": 98, "tfserving": None}
"""Runtimes whose framebuffer use says nothing at 90 %: they reserve memory up front."""


def idle_title(spec: GpuAlertsSpec) -> str:
    return f"GPU utilization below {spec.idle_percent:g} % for {spec.idle_minutes} min"


def memory_title(memory: float) -> str:
    return f"GPU memory above {memory:g} % for 5 min"


def idle_runbook(options: str) -> str:
    """What to check when the idle alert fires; `options` names the platform's ways to hold fewer GPUs."""
    return ("Its GPUs are paid for and unused. Check the request rate and the HPA: lower `scaling.minReplicas`, "
            f"{options}; a server still loading its model is idle until it is ready.")


MEMORY_RUNBOOK = ("The next batch or a longer sequence may fail with CUDA out-of-memory. Check the runtime's memory "
                  "settings (vLLM's --gpu-memory-utilization and --max-model-len, Triton's batch sizes), the model's "
                  "size against the GPU's memory, and the pods' logs for OOM errors.")
"""What to check when the memory alert fires, on any platform."""
