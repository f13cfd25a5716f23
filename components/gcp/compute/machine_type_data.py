"""The predefined Compute Engine machine types, per machine family: data only.

Sources (checked 2026-12-01):
- general purpose (E2, N1, N2, N2D, N4, N4D, N4A, C3, C3D, C4, C4A, C4D, T2D, T2A):
  https://cloud.google.com/compute/docs/general-purpose-machines
- compute optimized (C2, C2D, H3, H4D): https://cloud.google.com/compute/docs/compute-optimized-machines
- memory optimized (M1, M2, M3, M4, X4): https://cloud.google.com/compute/docs/memory-optimized-machines
- storage optimized (Z3): https://cloud.google.com/compute/docs/storage-optimized-machines
- accelerator optimized (A2, A3, A4, A4X, G2, G4): https://cloud.google.com/compute/docs/accelerator-optimized-machines
- shared-core f1-micro, g1-small: https://cloud.google.com/compute/docs/general-purpose-machines#n1_machines
How checked: C2, C2D, C3, C3D, C4, C4D, M1-M4, X4, N1, N2, N2D, T2D were compared with the
machine-type tables of Google's SAP NetWeaver planning guide (cloud.google.com/solutions/sap/docs);
N4D, N4A, Z3, G4, H4D and the TPU names with excerpts of the pages above; the rest is
transcribed from those pages without a line-by-line re-read on that date.
A type Google has added since is rejected with a fix pointing here: add it to its family.
Not listed yet (sizes not confirmed when checked): Z4M, Z4D, C4N, M4N, and variants such as
a3-ultragpu-8g-nolssd; a stack using one is told to add it here.
"""

from __future__ import annotations


def _sizes(family: str, shape: str, *vcpus: int | str, suffix: str = "") -> tuple[str, ...]:
    return tuple(f"{family}-{shape}-{n}{suffix}" for n in vcpus)


def _shapes(family: str, shapes: tuple[str, ...], *vcpus: int, suffix: str = "") -> tuple[str, ...]:
    return tuple(t for shape in shapes for t in _sizes(family, shape, *vcpus, suffix=suffix))


_SHM = ("standard", "highmem", "highcpu")

# Family -> every predefined machine type of it.
MACHINE_FAMILIES: dict[str, tuple[str, ...]] = {
    # General purpose.
    "e2": ("e2-micro", "e2-small", "e2-medium") + _sizes("e2", "standard", 2, 4, 8, 16, 32)
          + _sizes("e2", "highmem", 2, 4, 8, 16) + _sizes("e2", "highcpu", 2, 4, 8, 16, 32),
    "f1": ("f1-micro",),
    "g1": ("g1-small",),
    "n1": _sizes("n1", "standard", 1, 2, 4, 8, 16, 32, 64, 96)
          + _shapes("n1", ("highmem", "highcpu"), 2, 4, 8, 16, 32, 64, 96),
    "n2": _shapes("n2", ("standard", "highmem"), 2, 4, 8, 16, 32, 48, 64, 80, 96, 128)
          + _sizes("n2", "highcpu", 2, 4, 8, 16, 32, 48, 64, 80, 96),
    "n2d": _shapes("n2d", ("standard", "highcpu"), 2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224)
           + _sizes("n2d", "highmem", 2, 4, 8, 16, 32, 48, 64, 80, 96),
    "n4": _shapes("n4", _SHM, 2, 4, 8, 16, 32, 48, 64, 80),
    "n4d": _shapes("n4d", _SHM, 2, 4, 8, 16, 32, 48, 64, 80, 96),
    "n4a": _shapes("n4a", _SHM, 1, 2, 4, 8, 16, 32, 48, 64),
    "c3": _shapes("c3", _SHM, 4, 8, 22, 44, 88, 176) + _sizes("c3", "standard", 4, 8, 22, 44, 88, 176, suffix="-lssd")
          + _shapes("c3", _SHM, 192, suffix="-metal"),
    "c3d": _shapes("c3d", _SHM, 4, 8, 16, 30, 60, 90, 180, 360)
           + _shapes("c3d", ("standard", "highmem"), 8, 16, 30, 60, 90, 180, 360, suffix="-lssd"),
    "c4": _shapes("c4", _SHM, 2, 4, 8, 16, 24, 32, 48, 96, 144, 192, 288)
          + _shapes("c4", ("standard", "highmem"), 4, 8, 16, 24, 32, 48, 96, 144, 192, 288, suffix="-lssd")
          + _shapes("c4", ("standard", "highmem"), 288, suffix="-metal")
          + _shapes("c4", ("standard", "highmem"), 288, suffix="-lssd-metal"),
    "c4a": _shapes("c4a", _SHM, 1, 2, 4, 8, 16, 32, 48, 64, 72)
           + _shapes("c4a", ("standard", "highmem"), 4, 8, 16, 32, 48, 64, 72, suffix="-lssd")
           + ("c4a-highmem-96-metal",),
    "c4d": _shapes("c4d", _SHM, 2, 4, 8, 16, 32, 48, 64, 96, 192, 384)
           + _shapes("c4d", ("standard", "highmem"), 8, 16, 32, 48, 64, 96, 192, 384, suffix="-lssd")
           + _shapes("c4d", ("standard", "highmem"), 384, suffix="-metal"),
    "t2d": _sizes("t2d", "standard", 1, 2, 4, 8, 16, 32, 48, 60),
    "t2a": _sizes("t2a", "standard", 1, 2, 4, 8, 16, 32, 48),
    # Compute optimized.
    "c2": _sizes("c2", "standard", 4, 8, 16, 30, 60),
    "c2d": _shapes("c2d", _SHM, 2, 4, 8, 16, 32, 56, 112),
    "h3": ("h3-standard-88",),
    "h4d": ("h4d-standard-192", "h4d-highmem-192", "h4d-highmem-192-lssd"),
    # Memory optimized.
    "m1": _sizes("m1", "ultramem", 40, 80, 160) + ("m1-megamem-96",),
    "m2": _sizes("m2", "ultramem", 208, 416) + ("m2-megamem-416", "m2-hypermem-416"),
    "m3": _sizes("m3", "ultramem", 32, 64, 128) + _sizes("m3", "megamem", 64, 128),
    "m4": _sizes("m4", "megamem", 28, 56, 112, 224) + _sizes("m4", "ultramem", 56, 112, 224)
          + _sizes("m4", "hypermem", 16, 32, 64),
    # X4 bare metal: the names since 2025-12-12 (CPUs-memoryTB) and the older megamem names,
    # which Compute Engine still accepts.
    "x4": ("x4-480-6t-metal", "x4-480-8t-metal", "x4-960-12t-metal", "x4-960-16t-metal", "x4-1440-24t-metal",
           "x4-1920-32t-metal") + _sizes("x4", "megamem", 960, 1440, 1920, suffix="-metal"),
    # Storage optimized.
    "z3": _sizes("z3", "highmem", 88, 176) + _sizes("z3", "highmem", 8, 16, 22, 32, 44, 88, suffix="-highlssd")
          + _sizes("z3", "highmem", 14, 22, 44, 88, 176, suffix="-standardlssd") + ("z3-highmem-192-highlssd-metal",),
    # Accelerator optimized (components/gpu.py ATTACHED_GPUS says which GPUs each carries).
    "a2": _sizes("a2", "highgpu", "1g", "2g", "4g", "8g") + ("a2-megagpu-16g",)
          + _sizes("a2", "ultragpu", "1g", "2g", "4g", "8g"),
    "a3": _sizes("a3", "highgpu", "1g", "2g", "4g", "8g")
          + ("a3-megagpu-8g", "a3-ultragpu-8g", "a3-edgegpu-8g"),
    "a4": ("a4-highgpu-8g",),
    "a4x": ("a4x-highgpu-4g",),
    "g2": _sizes("g2", "standard", 4, 8, 12, 16, 24, 32, 48, 96),
    "g4": _sizes("g4", "standard", 48, 96, 192, 384),
    # Cloud TPU VMs, which GKE node pools take as machine types (https://cloud.google.com/tpu/docs/v6e,
    # .../v5e, .../v5p, .../v4 and https://cloud.google.com/kubernetes-engine/docs/concepts/plan-tpus).
    "ct4p": ("ct4p-hightpu-4t",),
    "ct5l": _sizes("ct5l", "hightpu", "1t", "4t", "8t"),
    "ct5lp": _sizes("ct5lp", "hightpu", "1t", "4t", "8t"),
    "ct5p": ("ct5p-hightpu-4t",),
    "ct6e": _sizes("ct6e", "standard", "1t", "4t", "8t"),
    "tpu7x": ("tpu7x-standard-4t",),
}

# Families that take custom machine types, and the documented limits:
# family -> (prefix, vCPU counts allowed, MiB per vCPU low, high).
# https://cloud.google.com/compute/docs/instances/creating-instance-with-custom-machine-type
# ("Custom machine type specifications"), checked 2026-12-01. Memory is a multiple of 256 MiB;
# an `-ext` suffix (N1, N2, N2D: extended memory) lifts the per-vCPU ceiling. Where the docs
# were unclear (N2D and N4 vCPU steps, the N4 memory floor) the limits err on accepting: a
# wrong acceptance fails at apply as before, a wrong rejection would block a valid stack.
CUSTOM_FAMILIES: dict[str, tuple[str, tuple[int, ...], int, int]] = {
    "n1": ("custom", (1,) + tuple(range(2, 97, 2)), 922, 6656),
    "n2": ("n2-custom", tuple(range(2, 33, 2)) + tuple(range(36, 129, 4)), 512, 8192),
    "n2d": ("n2d-custom", (2,) + tuple(range(4, 97, 4)), 512, 8192),
    "n4": ("n4-custom", tuple(range(2, 81, 2)), 512, 8192),
    "e2": ("e2-custom", tuple(range(2, 33, 2)), 512, 8192),
}
EXTENDED_MEMORY_FAMILIES = ("n1", "n2", "n2d")
# Most memory a custom type of the family may have, whatever its vCPUs (E2: 128 GB).
CUSTOM_MAX_MIB = {"e2": 128 * 1024}
