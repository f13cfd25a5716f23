"""The EC2 GPU instance types EKS node groups use, and the NVIDIA GPUs each carries: plain data.

From the EC2 accelerated-computing instance tables (https://aws.amazon.com/ec2/instance-types/,
"Accelerated Computing"): g4dn = T4, g5 = A10G, g6 = L4, g6e = L40S, p4d = A100 (40 GB),
p4de = A100 (80 GB), p5 = H100. The GPU names are the ones a stack file writes (`nvidia-l4`),
the value of the accelerator label mlinfra's GPU node groups carry.
"""

from __future__ import annotations

import re
from typing import Optional

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
