"""The EC2 GPU instance types EKS node groups use, and the NVIDIA GPUs each carries: plain data.

From the EC2 accelerated-computing instance tables (https://aws.amazon.com/ec2/instance-types/,
"Accelerated Computing"): g4dn = T4, g5 = A10G, g6 = L4, g6e = L40S, p4d = A100 (40 GB),
p4de = A100 (80 GB), p5 = H100. The GPU names are the ones a stack file writes (`nvidia-l4`),
the value of the accelerator label mlinfra's GPU node groups carry.
"""

from __future__ import annotations

import re
from typing import Optional

from components.core.issues import Issue

FAMILY_GPU = {"g4dn": "nvidia-t4", "g5": "nvidia-a10g", "g6": "nvidia-l4", "g6e": "nvidia-l40s",
              "p4d": "nvidia-a100", "p4de": "nvidia-a100-80gb", "p5": "nvidia-h100"}
_SINGLE = ("xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge")
# GPUs per instance size, per family.
GPU_COUNTS: dict[str, dict[str, int]] = {
    "g4dn": {**{s: 1 for s in _SINGLE}, "12xlarge": 4, "metal": 8},
    "g5": {**{s: 1 for s in _SINGLE}, "12xlarge": 4, "24xlarge": 4, "48xlarge": 8},
    "g6": {**{s: 1 for s in _SINGLE}, "12xlarge": 4, "24xlarge": 4, "48xlarge": 8},
    "g6e": {**{s: 1 for s in _SINGLE}, "12xlarge": 4, "24xlarge": 4, "48xlarge": 8},
    "p4d": {"24xlarge": 8},
    "p4de": {"24xlarge": 8},
    "p5": {"48xlarge": 8},
}
GPUS = tuple(sorted(set(FAMILY_GPU.values())))
INSTANCE_TYPE = re.compile(r"^([a-z][a-z0-9-]*)\.([a-z0-9]+)$")
# Graviton (arm64) families: a1, and a `g` right after the generation (t4g, m7g, c7gn, r8gd, x2gd,
# im4gn, is4gen, g5g, hpc7g; https://aws.amazon.com/ec2/graviton/). Every other family is x86_64
# (g5 and g6 have no `g` after their digit).
ARM_FAMILY = re.compile(r"^(a1|[a-z]+[0-9]+g[a-z0-9]*)$")


def gpus_of(instance_type: str) -> Optional[tuple[str, int]]:
    """`(gpu type, count)` an instance type carries, or None for a type without GPUs (or unknown)."""
    match = INSTANCE_TYPE.match(instance_type)
    if not match:
        return None
    family, size = match.groups()
    count = GPU_COUNTS.get(family, {}).get(size)
    return (FAMILY_GPU[family], count) if count else None


def instance_types_with(gpu: str, count: Optional[int] = None) -> list[str]:
    """Every instance type carrying `gpu` (and exactly `count` of them, if given)."""
    return [f"{family}.{size}" for family, g in FAMILY_GPU.items() if g == gpu
            for size, n in GPU_COUNTS[family].items() if count is None or n == count]


def architecture(instance_type: str) -> str:
    """`arm64` for a Graviton instance type, else `x86_64` (the AMI types' spelling)."""
    match = INSTANCE_TYPE.match(instance_type)
    return "arm64" if match and ARM_FAMILY.match(match.group(1)) else "x86_64"


def mixed_architecture_issue(types: list[str], path: tuple) -> list[Issue]:
    """One issue when `types` mix arm64 and x86_64: a node group has one AMI type, and an image is
    built for one architecture."""
    arm = [t for t in types if architecture(t) == "arm64"]
    if not arm or len(arm) == len(types):
        return []
    x86 = [t for t in types if t not in arm]
    return [Issue(path, f"mixes Graviton (arm64: {', '.join(arm)}) and x86_64 ({', '.join(x86)}) instance types: a "
                  "node group takes one AMI type, and a pod's image is built for one architecture", types,
                  fix="keep the types of one architecture in a pool (another pool for the others)")]
