"""Whether a pod can ever be scheduled on a cluster's node pools: the pools it may land on
(GPU type, spot placement, taints) and their allocatable CPU, memory and GPUs (no Pulumi).

Paths of the issues are relative to the workload (`resources.cpu`, `placement.spot`, ...).
"""

from __future__ import annotations

from typing import Sequence

from components.core.issues import Issue
from components.core.units import cpu_string, memory_mib
from components.gcp.gke.allocatable import allocatable, gib, machine_shape
from components.gcp.gke.node_pool_spec import NodePoolSpec
from components.kubernetes.pods import PodResourcesSpec

# The Cloud Storage FUSE sidecar GKE injects into a pod that mounts a bucket requests 250m CPU and
# 256Mi (cloud.google.com/kubernetes-engine/docs/how-to/cloud-storage-fuse-csi-driver-sidecar).
FUSE_SIDECAR_CPU, FUSE_SIDECAR_MIB = 0.25, 256


def blocking_taints(pool: NodePoolSpec) -> list[str]:
    """The taints of a pool that keep off pods tolerating nothing (PreferNoSchedule does not)."""
    out = [f"{t.key}={t.value}:{t.effect}" if t.value else f"{t.key}:{t.effect}"
           for t in pool.taints if t.effect != "PreferNoSchedule"]
    if pool.gpu is not None:
        out.append("GPU")
    if pool.spot:
        out.append("spot")
    if pool.queued_provisioning:
        out.append("queued")
    return out


def eligible_pools(resources: PodResourcesSpec, spot: str, pools: Sequence[NodePoolSpec]) -> list[NodePoolSpec]:
    """The pools a pod may be scheduled on: mlinfra pods tolerate only the GPU and spot taints (a
    queued pool takes only the pods of a ProvisioningRequest, `jobs[].queued`)."""
    gpu = resources.gpu
    out = []
    for pool in pools:
        if any(t.effect != "PreferNoSchedule" for t in pool.taints) or pool.queued_provisioning:
            continue
        if (pool.gpu is None) != (gpu is None) or (gpu is not None and pool.gpu.type != gpu.type):
            continue
        if (spot == "never" and pool.spot) or (spot == "require" and not pool.spot):
            continue
        out.append(pool)
    return out


def _gpus(pool: NodePoolSpec) -> int | None:
    g = pool.gpu
    if g is None:
        return 0
    if g.partition_size is not None:
        return None  # MIG: partitions per GPU depend on the size; not checked
    return g.count * (g.sharing.max_shared_clients if g.sharing else 1)


def pod_fit_issues(resources: PodResourcesSpec, spot: str, pools: Sequence[NodePoolSpec],
                   fuse_sidecar: bool = False) -> list[Issue]:
    eligible = eligible_pools(resources, spot, pools)
    gpu = resources.gpu
    if not eligible:
        wanted = f"{gpu.type} GPUs" if gpu else "no GPUs and no NoSchedule taint"
        if spot != "prefer" and eligible_pools(resources, "prefer", pools):
            kind = "on-demand" if spot == "never" else "spot"
            return [Issue(("placement", "spot"), f"no {kind} node pool has {wanted}, so the pod could never be scheduled",
                          spot, allowed="prefer" if spot == "never" else "never, prefer",
                          fix=f"add a{'n' if kind == 'on-demand' else ''} {kind} pool with {wanted}, or set spot: prefer")]
        tainted = [f"{p.name} ({', '.join(_why(p, resources))})" for p in pools]
        return [Issue(("resources",), f"no node pool takes this pod: it needs a pool with {wanted}",
                      "; ".join(tainted), allowed="pools without taints the pod does not tolerate",
                      fix="add such a pool, or remove the custom taint (mlinfra pods tolerate only the GPU and spot taints)")]

    try:
        mib = memory_mib(resources.memory)
    except ValueError:
        return []  # the spec's own rule reports it
    cpu = resources.cpu + (FUSE_SIDECAR_CPU if fuse_sidecar else 0)
    mib += FUSE_SIDECAR_MIB if fuse_sidecar else 0
    sidecar = " (with the 250m CPU and 256Mi of GKE's Cloud Storage FUSE sidecar)" if fuse_sidecar else ""
    shapes = [(p, allocatable(s)) for p in eligible if (s := machine_shape(p.machine_type)) is not None]
    if len(shapes) < len(eligible):
        return []  # a machine type mlinfra has no shape for might fit
    count = gpu.count if gpu else 0
    gpu_fits = [(p, a) for p, a in shapes if (n := _gpus(p)) is None or n >= count]
    if not gpu_fits:
        most = max(_gpus(p) or 0 for p, _ in shapes)
        return [Issue(("resources", "gpu", "count"), f"no node pool this pod may run on has {count} {gpu.type} GPUs "
                      f"per node", count, allowed=f"at most {most} ({_names(shapes)})",
                      fix=f"set count to {most}, or add a pool whose machine type carries {count} GPUs")]
    if any(a.vcpus >= cpu and a.memory_mib >= mib for _, a in gpu_fits):
        return []
    best_cpu = max(gpu_fits, key=lambda pa: pa[1].vcpus)
    if not any(a.vcpus >= cpu for _, a in gpu_fits):
        p, a = best_cpu
        room = a.vcpus - (FUSE_SIDECAR_CPU if fuse_sidecar else 0)
        return [Issue(("resources", "cpu"), f"{cpu:g} CPUs{sidecar} fit no node pool this pod may run on; GKE "
                      f"reserves part of each node, so {p.machine_type} ({p.name}) offers pods {a.vcpus:g}",
                      resources.cpu, allowed=f"at most {room:g} on {p.machine_type}, less what its DaemonSets take",
                      fix=f"set cpu to {max(int(room - 0.5), 0.5):g} or less, or use a larger machineType in pool {p.name}")]
    p, a = max(gpu_fits, key=lambda pa: pa[1].memory_mib)
    room = a.memory_mib - (FUSE_SIDECAR_MIB if fuse_sidecar else 0)
    if not any(a.memory_mib >= mib for _, a in gpu_fits):
        return [Issue(("resources", "memory"), f"{resources.memory}{sidecar} fits no node pool this pod may run on; "
                      f"GKE reserves part of each node, so {p.machine_type} ({p.name}) offers pods {gib(a.memory_mib)}",
                      resources.memory, allowed=f"at most {gib(room)} on {p.machine_type}, less what its DaemonSets take",
                      fix=f"set memory to {max(int((room - 512) / 1024), 1)}Gi or less, or use a larger machineType in pool {p.name}")]
    return [Issue(("resources",), f"{cpu_string(cpu)} CPUs and {resources.memory}{sidecar} fit no single node pool "
                  "this pod may run on", f"cpu {resources.cpu:g}, memory {resources.memory}",
                  allowed="; ".join(f"{p.name}: {a.vcpus:g} CPUs, {gib(a.memory_mib)}" for p, a in gpu_fits),
                  fix="lower cpu or memory to fit one pool, or use a larger machineType")]


def _why(pool: NodePoolSpec, resources: PodResourcesSpec) -> list[str]:
    return blocking_taints(pool) or ["another GPU type"]


def _names(shapes) -> str:
    return ", ".join(f"{p.name}: {_gpus(p)}" for p, _ in shapes)
