"""What a GKE node offers to pods: its machine type's vCPUs and memory, less what GKE reserves
for the kubelet, the container runtime and the OS (plain data and arithmetic, no Pulumi).

GKE's reservations (cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes, "Memory
and CPU reservations"): memory 255 MiB on machines under 1 GiB, else 25 % of the first 4 GiB,
20 % of the next 4, 10 % of the next 8, 6 % of the next 112 and 2 % above 128 GiB, plus a
100 MiB eviction threshold; CPU 6 % of the first core, 1 % of the next, 0.5 % of the next 2
and 0.25 % of every core above 4. DaemonSets (logging, metadata server, CSI drivers) take a
little more; the results here are an upper bound, so a pod above them can never be scheduled.

Machine memory is Compute Engine's "GB", which is GiB (n1-standard-1 has 3840 MiB). A machine
type not in these tables is not checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from components.gcp.compute.machine_types import is_custom, vcpus_of

# GiB of memory per vCPU of each predefined shape, per family (general-purpose and compute-
# optimized pages of cloud.google.com/compute/docs).
GIB_PER_VCPU: dict[str, dict[str, float]] = {
    "e2": {"standard": 4, "highmem": 8, "highcpu": 1},
    "n1": {"standard": 3.75, "highmem": 6.5, "highcpu": 0.9},
    "n2": {"standard": 4, "highmem": 8, "highcpu": 1},
    "n2d": {"standard": 4, "highmem": 8, "highcpu": 1},
    "n4": {"standard": 4, "highmem": 8, "highcpu": 2},
    "c2": {"standard": 4},
    "c2d": {"standard": 4, "highmem": 8, "highcpu": 2},
    "c3": {"standard": 4, "highmem": 8, "highcpu": 2},
    "c3d": {"standard": 4, "highmem": 8, "highcpu": 2},
    "c4": {"standard": 3.75, "highmem": 7.75, "highcpu": 2},
    "t2d": {"standard": 4},
    "g2": {"standard": 4},
}
# (vCPUs, GiB) of shared-core and accelerator-optimized types whose memory is not a ratio.
FIXED: dict[str, tuple[float, float]] = {
    "e2-micro": (2, 1), "e2-small": (2, 2), "e2-medium": (2, 4),
    "a2-highgpu-1g": (12, 85), "a2-highgpu-2g": (24, 170), "a2-highgpu-4g": (48, 340),
    "a2-highgpu-8g": (96, 680), "a2-megagpu-16g": (96, 1360),
    "a2-ultragpu-1g": (12, 170), "a2-ultragpu-2g": (24, 340), "a2-ultragpu-4g": (48, 680),
    "a2-ultragpu-8g": (96, 1360),
    "a3-highgpu-1g": (26, 234), "a3-highgpu-2g": (52, 468), "a3-highgpu-4g": (104, 936),
    "a3-highgpu-8g": (208, 1872), "a3-megagpu-8g": (208, 1872), "a3-ultragpu-8g": (224, 2952),
}
EVICTION_MIB = 100
_MEMORY_TIERS = ((4, 0.25), (4, 0.20), (8, 0.10), (112, 0.06), (float("inf"), 0.02))  # (GiB, share)
_CPU_TIERS = ((1, 0.06), (1, 0.01), (2, 0.005), (float("inf"), 0.0025))  # (cores, share)
_CUSTOM_MIB = re.compile(r"-(\d+)(?:-ext)?$")


@dataclass(frozen=True)
class Shape:
    vcpus: float
    memory_mib: float


def machine_shape(machine_type: str) -> Optional[Shape]:
    """vCPUs and memory of a machine type, or None when mlinfra does not know them."""
    if machine_type in FIXED:
        vcpus, gib = FIXED[machine_type]
        return Shape(vcpus, gib * 1024)
    vcpus = vcpus_of(machine_type)
    if vcpus is None:
        return None
    if is_custom(machine_type):
        match = _CUSTOM_MIB.search(machine_type)
        return Shape(vcpus, float(match.group(1))) if match else None
    family, shape = machine_type.split("-")[:2]
    ratio = GIB_PER_VCPU.get(family, {}).get(shape)
    return Shape(vcpus, vcpus * ratio * 1024) if ratio else None


def _tiered(total: float, tiers: tuple[tuple[float, float], ...]) -> float:
    reserved, left = 0.0, total
    for size, share in tiers:
        part = min(left, size)
        reserved += part * share
        left -= part
        if left <= 0:
            break
    return reserved


def allocatable(shape: Shape) -> Shape:
    """What the kubelet offers pods on a node of this shape (before DaemonSets)."""
    gib = shape.memory_mib / 1024
    reserved_mib = 255 if gib < 1 else _tiered(gib, _MEMORY_TIERS) * 1024
    cpu = shape.vcpus - _tiered(shape.vcpus, _CPU_TIERS)
    return Shape(round(cpu, 3), shape.memory_mib - reserved_mib - EVICTION_MIB)


def gib(mib: float) -> str:
    """`15872.0` -> `15.5Gi` (rounded down, as a limit a pod may take)."""
    return f"{int(mib / 1024 * 100) / 100:g}Gi"
