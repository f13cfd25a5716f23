"""What every mlinfra pod shares, on any Kubernetes cluster: placement, resources, security.

Plain functions that return Kubernetes API dicts (camelCase, as `kubectl get -o yaml` shows
them); the model server and job components put them into their pod templates, and the tests
assert them without any Pulumi machinery. No cloud import: how a cluster labels its spot and
GPU nodes is a `NodeScheme` the platform passes in (GKE's is in components/gcp/gke/node_labels.py).

Security: every pod meets the Pod Security Standards "restricted" profile (its namespace
enforces it). The runtime images differ in who they run as and where they write, so
`FILESYSTEMS` says per runtime which directories get an emptyDir so the root filesystem
can stay read-only:

- triton: runs as root by default; the NGC image also has `triton-server` (uid 1000), which we
  run as. Read-only root; emptyDirs at /tmp and /dev/shm (the Python backend passes tensors
  through shared memory); HOME=/tmp.
- torchserve: its image already runs as `model-server` (uid 1000). Read-only root; emptyDirs at
  /tmp, /home/model-server/tmp (the image's TEMP, where .mar archives are unpacked),
  /home/model-server/logs (log4j writes `logs/` under its working directory) and /dev/shm;
  HOME=/tmp.
- tfserving: runs as root by default but needs nothing of root. Read-only root; /tmp; HOME=/tmp.
- vllm: runs as root by default, with HOME=/root, where the Hugging Face, torch.compile, Triton
  kernel and FlashInfer caches go. Read-only root; emptyDirs at /tmp, /cache and /dev/shm, with
  HOME and XDG_CACHE_HOME pointing at /cache.
- custom (and model-in-image): read-only root with /tmp and HOME=/tmp; a server that writes
  elsewhere sets `readOnlyRootFilesystem: false`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional

from pydantic import Field

from components.core.spec import Spec
from components.core.units import cpu_string, memory_mib

# The extended resource NVIDIA's device plugin advertises, and the taint key GPU nodes carry.
GPU_RESOURCE = "nvidia.com/gpu"
# The uid/gid every mlinfra container runs as (triton-server and model-server in their images).
RUN_AS = 1000


@dataclass(frozen=True)
class NodeScheme:
    """How a cluster marks its nodes: the spot label (and the taint mlinfra's spot pools carry
    with the same key), labels that also mean "reclaimable", and the accelerator label."""

    spot_label: str
    spot_value: str
    accelerator_label: str
    reclaimable_labels: tuple[str, ...] = ()


class PlacementSpec(Spec):
    spot: Literal["never", "prefer", "require"] = "never"
    """Spot VMs: never (on-demand nodes only), prefer (spot first, falling back to on-demand
    nodes when no spot node has room, by node-affinity weights) or require (spot nodes only;
    the pods wait when none is left). Defaults to never."""


class PodGpuSpec(Spec):
    type: str = Field(pattern=r"^nvidia-[a-z0-9-]+$")
    """Accelerator type, as the cluster's accelerator node label writes it (GKE:
    cloud.google.com/gke-accelerator), e.g. nvidia-l4, nvidia-tesla-t4, nvidia-a100-80gb. A node pool must offer it."""
    count: int = 1
    """GPUs per pod (requested and limited). Defaults to 1."""


class PodResourcesSpec(Spec):
    cpu: float = Field(1, gt=0, le=1024)
    """vCPUs per pod, requested and limited alike (0.5 is 500m). Defaults to 1."""
    memory: str = "2Gi"
    """Memory per pod, requested and limited alike, e.g. 512Mi, 16Gi. Defaults to 2Gi."""
    gpu: Optional[PodGpuSpec] = None
    """GPUs per pod; the pod is placed on nodes with that accelerator. Defaults to none."""


def resources(res: PodResourcesSpec) -> dict[str, dict[str, str]]:
    """Requests equal to limits for CPU, memory and GPU.

    Equal requests and limits make the pod Guaranteed QoS: it is the last to be evicted under
    node pressure, its CPU utilization (what the HPA scales on) is measured against a fixed
    share, and every container has both requests and limits, as mlinfra's policies require.
    The price is CFS throttling at the limit instead of bursting into idle CPU; size `cpu` for
    peak load. A GPU's request must equal its limit anyway.
    """
    quantities = {"cpu": cpu_string(res.cpu), "memory": res.memory}
    if res.gpu is not None:
        quantities[GPU_RESOURCE] = str(res.gpu.count)
    return {"requests": dict(quantities), "limits": dict(quantities)}


def scheduling(placement: PlacementSpec, gpu: Optional[PodGpuSpec], nodes: NodeScheme) -> dict[str, Any]:
    """nodeSelector, tolerations and affinity for a pod spec.

    - GPU: select the accelerator and tolerate the GPU taint.
    - never: required affinity `<spot label> NotIn [true]` and the same for every reclaimable
      label (NotIn also matches nodes without the label), so the pod cannot land on spot even if
      a toleration is added elsewhere.
    - prefer: tolerate the spot taint and prefer spot nodes (weight 100); on-demand nodes stay
      eligible, so the scheduler falls back to them when no spot node has room.
    - require: tolerate the spot taint and require `gke-spot In [true]`.
    """
    out: dict[str, Any] = {}
    tolerations: list[dict[str, Any]] = []
    spot, value = nodes.spot_label, nodes.spot_value
    if gpu is not None:
        out["nodeSelector"] = {nodes.accelerator_label: gpu.type}
        tolerations.append({"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"})
    if placement.spot != "never":
        tolerations.append({"key": spot, "operator": "Equal", "value": value, "effect": "NoSchedule"})
    if tolerations:
        out["tolerations"] = tolerations

    spot_term = {"matchExpressions": [{"key": spot, "operator": "In", "values": [value]}]}
    if placement.spot == "never":
        node_affinity = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": key, "operator": "NotIn", "values": [value]} for key in (spot, *nodes.reclaimable_labels)]}]}}
    elif placement.spot == "prefer":
        node_affinity = {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "preference": spot_term}]}
    else:
        node_affinity = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [spot_term]}}
    out["affinity"] = {"nodeAffinity": node_affinity}
    return out


def restricted_security(read_only_root: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(pod securityContext, container securityContext) meeting PSS "restricted".

    Images that run as root by default (triton, tfserving, vllm) are run as uid/gid 1000 here;
    their binaries are world-readable, and what they write goes to the emptyDirs of
    `FILESYSTEMS`. fsGroup makes those volumes writable for the group.
    """
    pod = {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    container = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": read_only_root,
    }
    return pod, container


@dataclass(frozen=True)
class Filesystem:
    """Where a runtime writes: emptyDirs `(volume name, mount path, size limit)`, shared memory,
    and environment variables that point its caches at them."""

    read_only_root: bool
    scratch: tuple[tuple[str, str, str], ...]
    shm: bool = False
    env: tuple[tuple[str, str], ...] = ()


_TMP = ("tmp", "/tmp", "1Gi")
FILESYSTEMS: dict[str, Filesystem] = {
    "triton": Filesystem(True, (_TMP,), shm=True, env=(("HOME", "/tmp"),)),
    "torchserve": Filesystem(True, (_TMP, ("ts-tmp", "/home/model-server/tmp", "2Gi"),
                                    ("ts-logs", "/home/model-server/logs", "1Gi")), shm=True,
                             env=(("HOME", "/tmp"), ("LOG_LOCATION", "/home/model-server/logs"),
                                  ("METRICS_LOCATION", "/home/model-server/logs"))),
    "tfserving": Filesystem(True, (_TMP,), env=(("HOME", "/tmp"),)),
    "vllm": Filesystem(True, (_TMP, ("cache", "/cache", "8Gi")), shm=True,
                       env=(("HOME", "/cache"), ("XDG_CACHE_HOME", "/cache"))),
    "custom": Filesystem(True, (_TMP,), env=(("HOME", "/tmp"),)),
}
SHM_MIN_MIB = 1024
SHM_SHARE = 4
"""/dev/shm is a quarter of the pod's memory, at least 1Gi. It is memory-backed, so it counts
against the container's memory limit: vLLM's tensor-parallel workers and Triton's Python backend
pass tensors through it, and the runtime's 64Mi default fails as soon as they do."""


def shm_size(memory: Optional[str]) -> str:
    """The /dev/shm size limit for a pod of `memory` (`"16Gi"` -> `"4Gi"`)."""
    try:
        share = int(memory_mib(memory) // SHM_SHARE) if memory else 0
    except ValueError:
        share = 0
    mib = max(SHM_MIN_MIB, share)
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


def filesystem(runtime: Optional[str]) -> Filesystem:
    return FILESYSTEMS.get(runtime or "custom", FILESYSTEMS["custom"])


def scratch_volumes(fs: Filesystem, memory: Optional[str] = None
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, str]]]:
    """(volumes, volumeMounts, env) for a runtime's writable directories; /dev/shm sized from the
    pod's `memory`."""
    volumes = [{"name": n, "emptyDir": {"sizeLimit": size}} for n, _, size in fs.scratch]
    mounts = [{"name": n, "mountPath": path} for n, path, _ in fs.scratch]
    if fs.shm:
        volumes.append({"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": shm_size(memory)}})
        mounts.append({"name": "shm", "mountPath": "/dev/shm"})
    env = [{"name": k, "value": v} for k, v in fs.env]
    return volumes, mounts, env


def label_value(text: str) -> str:
    """A Kubernetes label value: at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends."""
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in text)[:63]
    return cleaned.strip("._-")


SECRETS_DIR = "/var/run/secrets/mlinfra"
"""Where a platform mounts a workload's secrets, one file per environment variable name."""
SECRETS_VOLUME = "mlinfra-secrets"
# Each file under SECRETS_DIR becomes the environment variable it is named after, then the
# container's own command runs in the shell's place (exec: it stays PID 1 and gets the signals).
EXPORT_SECRETS = (f'for f in {SECRETS_DIR}/*; do [ -f "$f" ] && export "${{f##*/}}=$(cat "$f")"; done; '
                  'exec "$@"')


def with_secret_files(container: dict[str, Any], volumes: list[dict[str, Any]],
                      volume: Optional[dict[str, Any]]) -> None:
    """Mount `volume` (the platform's secret files) read-only at SECRETS_DIR and start the
    container through a shell that exports each file as its variable. The container must have
    a command (a runtime preset's, or the spec's `command`) and an image with /bin/sh."""
    if volume is None:
        return
    volumes.append(volume)
    container["volumeMounts"] = [*container.get("volumeMounts", []),
                                 {"name": volume["name"], "mountPath": SECRETS_DIR, "readOnly": True}]
    container["command"] = ["/bin/sh", "-c", EXPORT_SECRETS, "mlinfra-secrets", *container["command"]]
