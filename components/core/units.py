"""Kubernetes-style quantities, as Cloud Run and GKE write memory and CPU."""

from __future__ import annotations

import re

_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$")
_FACTORS_MIB = {
    None: 1 / (1024 * 1024),
    "Ki": 1 / 1024,
    "Mi": 1,
    "Gi": 1024,
    "Ti": 1024 * 1024,
    "K": 1000 / (1024 * 1024),
    "M": 1000**2 / 1024**2,
    "G": 1000**3 / 1024**2,
    "T": 1000**4 / 1024**2,
}
MEMORY_PATTERN = _MEMORY.pattern


def memory_mib(quantity: str) -> float:
    """`"16Gi"` -> 16384.0; raises ValueError for anything that is not a memory quantity."""
    match = _MEMORY.match(quantity.strip())
    if not match:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    number, unit = match.groups()
    return float(number) * _FACTORS_MIB[unit]


def cpu_string(cpu: float) -> str:
    """CPU as the APIs want it: `4` -> `"4"`, `0.5` -> `"500m"`."""
    if float(cpu).is_integer():
        return str(int(cpu))
    return f"{int(round(cpu * 1000))}m"
