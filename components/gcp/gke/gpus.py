"""Which NVIDIA GPU runs on which Compute Engine machine type, in which region, and how it may
be shared: plain data and one rule function, no Pulumi.

`gpu_issues` returns issues with paths relative to a node-pool spec (`gpu.type`, `gpu.count`,
`machineType`, `gpu.partitionSize`, `gpu.sharing...`); a caller whose spec has another shape
re-roots them with `Issue.under` or its own mapping.
"""

from __future__ import annotations

import re
from typing import Optional

from components.core.issues import Issue, one_of

# Accelerator-optimized machine types come with a fixed number of GPUs: machine type ->
# (GPU type, count). From https://cloud.google.com/compute/docs/gpus ("GPU machine types") and
# https://cloud.google.com/compute/docs/accelerator-optimized-machines. a3-highgpu-1g/2g/4g are
# offered only as Spot or Flex-start VMs; GKE accepts them in spot pools.
ATTACHED_GPUS: dict[str, tuple[str, int]] = {
    "g2-standard-4": ("nvidia-l4", 1),
    "g2-standard-8": ("nvidia-l4", 1),
    "g2-standard-12": ("nvidia-l4", 1),
    "g2-standard-16": ("nvidia-l4", 1),
    "g2-standard-32": ("nvidia-l4", 1),
    "g2-standard-24": ("nvidia-l4", 2),
    "g2-standard-48": ("nvidia-l4", 4),
    "g2-standard-96": ("nvidia-l4", 8),
    "a2-highgpu-1g": ("nvidia-tesla-a100", 1),
    "a2-highgpu-2g": ("nvidia-tesla-a100", 2),
    "a2-highgpu-4g": ("nvidia-tesla-a100", 4),
    "a2-highgpu-8g": ("nvidia-tesla-a100", 8),
    "a2-megagpu-16g": ("nvidia-tesla-a100", 16),
    "a2-ultragpu-1g": ("nvidia-a100-80gb", 1),
    "a2-ultragpu-2g": ("nvidia-a100-80gb", 2),
    "a2-ultragpu-4g": ("nvidia-a100-80gb", 4),
    "a2-ultragpu-8g": ("nvidia-a100-80gb", 8),
    "a3-highgpu-1g": ("nvidia-h100-80gb", 1),
    "a3-highgpu-2g": ("nvidia-h100-80gb", 2),
    "a3-highgpu-4g": ("nvidia-h100-80gb", 4),
    "a3-highgpu-8g": ("nvidia-h100-80gb", 8),
    "a3-megagpu-8g": ("nvidia-h100-mega-80gb", 8),
    "a3-ultragpu-8g": ("nvidia-h200-141gb", 8),
}

# GPUs attached to N1 general-purpose machine types: GPU type -> {count: most vCPUs the machine
# type may have}. From https://cloud.google.com/compute/docs/gpus ("N1 general-purpose machine
# types"); P100 x4 allows 96 vCPUs in most zones (64 in us-east1-c, europe-west1-b/-d).
N1_GPUS: dict[str, dict[int, int]] = {
    "nvidia-tesla-t4": {1: 48, 2: 48, 4: 96},
    "nvidia-tesla-p4": {1: 24, 2: 48, 4: 96},
    "nvidia-tesla-v100": {1: 12, 2: 24, 4: 48, 8: 96},
    "nvidia-tesla-p100": {1: 16, 2: 32, 4: 96},
}

# Sold only as Spot (or Flex-start) VMs.
SPOT_ONLY_MACHINE_TYPES = ("a3-highgpu-1g", "a3-highgpu-2g", "a3-highgpu-4g")

KNOWN_GPU_TYPES: tuple[str, ...] = tuple(sorted({gpu for gpu, _ in ATTACHED_GPUS.values()} | set(N1_GPUS)))

# Regions with at least one zone offering each GPU type: a subset of
# https://cloud.google.com/compute/docs/gpus/gpu-regions-zones (GPU regions and zone
# availability). Google adds regions often: update this table when it does. A region missing
# here is rejected, so a stale table errs on the side of a clear error before an apply.
GPU_REGIONS: dict[str, tuple[str, ...]] = {
    "nvidia-tesla-t4": ("us-central1", "us-east1", "us-east4", "us-west1", "us-west2", "us-west3", "us-west4",
                        "northamerica-northeast1", "southamerica-east1", "europe-west1", "europe-west2",
                        "europe-west3", "europe-west4", "europe-central2", "me-west1", "asia-east1",
                        "asia-northeast1", "asia-northeast3", "asia-south1", "asia-southeast1",
                        "australia-southeast1"),
    "nvidia-tesla-p4": ("us-central1", "us-east4", "us-west2", "northamerica-northeast1", "europe-west4",
                        "asia-southeast1", "australia-southeast1"),
    "nvidia-tesla-v100": ("us-central1", "us-east1", "us-west1", "europe-west4", "asia-east1"),
    "nvidia-tesla-p100": ("us-central1", "us-east1", "us-west1", "europe-west1", "europe-west4", "asia-east1",
                          "australia-southeast1"),
    "nvidia-l4": ("us-central1", "us-east1", "us-east4", "us-west1", "us-west4", "northamerica-northeast2",
                  "europe-west1", "europe-west2", "europe-west3", "europe-west4", "asia-east1", "asia-northeast1",
                  "asia-northeast3", "asia-south1", "asia-southeast1"),
    "nvidia-tesla-a100": ("us-central1", "us-east1", "us-west1", "us-west3", "us-west4", "europe-west4",
                          "me-west1", "asia-northeast1", "asia-northeast3", "asia-southeast1"),
    "nvidia-a100-80gb": ("us-central1", "us-east4", "us-east5", "europe-west4", "asia-southeast1"),
    "nvidia-h100-80gb": ("us-central1", "us-east4", "us-east5", "us-west1", "us-west4", "europe-west1",
                         "europe-west4", "asia-northeast1", "asia-southeast1"),
    "nvidia-h100-mega-80gb": ("us-central1", "us-east4", "us-east5", "us-west1", "us-west4", "europe-west1",
                              "europe-west4", "asia-northeast1", "asia-southeast1"),
    "nvidia-h200-141gb": ("us-central1", "us-east4", "us-west1", "europe-west1", "asia-south1",
                          "asia-southeast1"),
}

# Multi-instance GPU partition sizes GKE accepts per GPU type, from
# https://cloud.google.com/kubernetes-engine/docs/how-to/gpus-multi.
MIG_PARTITIONS: dict[str, tuple[str, ...]] = {
    "nvidia-tesla-a100": ("1g.5gb", "2g.10gb", "3g.20gb", "7g.40gb"),
    "nvidia-a100-80gb": ("1g.10gb", "2g.20gb", "3g.40gb", "7g.80gb"),
    "nvidia-h100-80gb": ("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "7g.80gb"),
}

# GPU sharing (https://cloud.google.com/kubernetes-engine/docs/concepts/timesharing-gpus and
# .../how-to/nvidia-mps-gpus): containers per physical GPU.
SHARING_STRATEGIES = ("TIME_SHARING", "MPS")
MIN_SHARED_CLIENTS, MAX_SHARED_CLIENTS = 2, 48

_N1_VCPUS = re.compile(r"^(?:n1-(?:standard|highmem|highcpu)-|n1-custom-|custom-)(\d+)")
_ACCELERATOR_FAMILY = re.compile(r"^(g2|a2|a3)-")


def machine_types_for(gpu_type: str) -> list[str]:
    """The machine types that carry `gpu_type` (an N1 GPU: `n1-*`), for messages."""
    fixed = [mt for mt, (gpu, _) in ATTACHED_GPUS.items() if gpu == gpu_type]
    return fixed if fixed else (["n1-standard-*, n1-highmem-*, n1-highcpu-*"] if gpu_type in N1_GPUS else [])


def attached_gpu(machine_type: str) -> Optional[tuple[str, int]]:
    """(GPU type, count) of an accelerator-optimized machine type; None for any other."""
    return ATTACHED_GPUS.get(machine_type)


def allowed_counts(gpu_type: str, machine_type: Optional[str] = None) -> list[int]:
    """The GPU counts Compute Engine accepts for `gpu_type` (on `machine_type` when it fixes one)."""
    if machine_type in ATTACHED_GPUS and ATTACHED_GPUS[machine_type][0] == gpu_type:
        return [ATTACHED_GPUS[machine_type][1]]
    if gpu_type in N1_GPUS:
        return sorted(N1_GPUS[gpu_type])
    return sorted({n for gpu, n in ATTACHED_GPUS.values() if gpu == gpu_type})


def n1_vcpus(machine_type: str) -> Optional[int]:
    match = _N1_VCPUS.match(machine_type)
    return int(match.group(1)) if match else None


def _by_count(gpu_type: str) -> str:
    counts: dict[int, list[str]] = {}
    for mt, (gpu, n) in ATTACHED_GPUS.items():
        if gpu == gpu_type:
            counts.setdefault(n, []).append(mt)
    return "; ".join(f"{n}: {', '.join(mts)}" for n, mts in sorted(counts.items()))


def gpu_issues(gpu_type: str, count: int, machine_type: str, region: str,
               partition_size: Optional[str] = None,
               sharing: Optional[tuple[str, int]] = None) -> list[Issue]:
    """Everything Compute Engine or GKE would reject about a GPU node, found before an apply.

    `sharing` is `(strategy, max shared clients per GPU)`.
    """
    if gpu_type not in KNOWN_GPU_TYPES:
        return [Issue(("gpu", "type"), "is not a GPU type mlinfra knows", gpu_type, allowed=one_of(KNOWN_GPU_TYPES),
                      fix="use one of the allowed GPU types (Compute Engine accelerator names)")]
    issues = _machine_issues(gpu_type, count, machine_type)

    regions = GPU_REGIONS.get(gpu_type, ())
    if region not in regions:
        issues.append(Issue(("gpu", "type"), f"no {gpu_type} GPUs in region {region}", gpu_type,
                            allowed=f"{gpu_type} regions: {one_of(regions)}",
                            fix=f"pick a GPU type offered in {region}, or run the stack in one of those regions "
                                f"(if Google has since added {region}, add it to GPU_REGIONS in components/gcp/gke/gpus.py)"))

    if partition_size is not None:
        sizes = MIG_PARTITIONS.get(gpu_type)
        if sizes is None:
            issues.append(Issue(("gpu", "partitionSize"), f"{gpu_type} has no multi-instance GPU partitions",
                                partition_size, allowed=f"GPU types with partitions: {one_of(MIG_PARTITIONS)}",
                                fix="remove partitionSize, or use sharing to put several containers on one GPU"))
        elif partition_size not in sizes:
            issues.append(Issue(("gpu", "partitionSize"), f"is not a partition size of {gpu_type}", partition_size,
                                allowed=one_of(sizes), fix=f"use one of {one_of(sizes)}"))

    if sharing is not None:
        strategy, clients = sharing
        if strategy not in SHARING_STRATEGIES:
            issues.append(Issue(("gpu", "sharing", "strategy"), "is not a GPU sharing strategy", strategy,
                                allowed=one_of(SHARING_STRATEGIES), fix="use TIME_SHARING or MPS"))
        if not MIN_SHARED_CLIENTS <= clients <= MAX_SHARED_CLIENTS:
            issues.append(Issue(("gpu", "sharing", "maxSharedClients"), "is out of range", clients,
                                allowed=f"{MIN_SHARED_CLIENTS} to {MAX_SHARED_CLIENTS}",
                                fix=f"use a value from {MIN_SHARED_CLIENTS} to {MAX_SHARED_CLIENTS}"))
        if strategy == "MPS" and partition_size is not None:
            issues.append(Issue(("gpu", "sharing", "strategy"), "GKE does not run MPS on multi-instance GPU partitions",
                                strategy, allowed="TIME_SHARING with partitionSize",
                                fix="use TIME_SHARING, or remove partitionSize"))
    return issues


def _machine_issues(gpu_type: str, count: int, machine_type: str) -> list[Issue]:
    carriers = machine_types_for(gpu_type)
    fixed = attached_gpu(machine_type)
    if fixed is not None:
        carried, n = fixed
        if carried != gpu_type:
            return [Issue(("machineType",), f"{machine_type} comes with {n} {carried} GPU(s), not {gpu_type}",
                          machine_type, allowed=f"machine types for {gpu_type}: {one_of(carriers)}",
                          fix=f"use a machine type that carries {gpu_type}, or set gpu.type to {carried}")]
        if count != n:
            fits = [mt for mt, (gpu, k) in ATTACHED_GPUS.items() if gpu == gpu_type and k == count]
            where = f"{one_of(fits)} carries {count}" if fits else f"no machine type carries {count}"
            return [Issue(("gpu", "count"), f"{machine_type} carries exactly {n} {gpu_type} GPU(s); {where}", count,
                          allowed=f"GPUs by machine type: {_by_count(gpu_type)}",
                          fix=f"set gpu.count to {n}" + (f", or use {fits[0]} for {count}" if fits else ""))]
        return []

    if machine_type.startswith(("n1-", "custom-")):
        if gpu_type not in N1_GPUS:
            return [Issue(("machineType",), f"{gpu_type} does not attach to N1 machine types", machine_type,
                          allowed=f"machine types for {gpu_type}: {one_of(carriers)}",
                          fix=f"use one of the machine types that carry {gpu_type}")]
        limits = N1_GPUS[gpu_type]
        if count not in limits:
            return [Issue(("gpu", "count"), f"{gpu_type} attaches to N1 machine types in counts of "
                          f"{one_of(sorted(limits))} only", count, allowed=one_of(sorted(limits)),
                          fix=f"set gpu.count to one of {one_of(sorted(limits))}")]
        vcpus = n1_vcpus(machine_type)
        if vcpus is not None and vcpus > limits[count]:
            more = [n for n, most in sorted(limits.items()) if most >= vcpus]
            return [Issue(("machineType",), f"{machine_type} has {vcpus} vCPUs; with {count} {gpu_type} GPU(s) "
                          f"Compute Engine allows at most {limits[count]}", machine_type,
                          allowed=f"up to {limits[count]} vCPUs",
                          fix=f"use a machine type with at most {limits[count]} vCPUs"
                              + (f", or attach {more[0]} GPUs" if more else ""))]
        return []

    if _ACCELERATOR_FAMILY.match(machine_type):
        return [Issue(("machineType",), "is not an accelerator-optimized machine type mlinfra knows", machine_type,
                      allowed=f"machine types for {gpu_type}: {one_of(carriers)}",
                      fix=f"use one of the machine types that carry {gpu_type}")]
    return [Issue(("machineType",), f"{machine_type} cannot have GPUs attached", machine_type,
                  allowed=f"machine types for {gpu_type}: {one_of(carriers)}",
                  fix=f"use one of the machine types that carry {gpu_type}")]
