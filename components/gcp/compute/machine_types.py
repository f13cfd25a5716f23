"""Compute Engine machine types: the name must be a predefined type of a machine family mlinfra
knows, or a well-formed custom type. A typo (`n2-standrad-8`) or a size the family lacks
(`e2-highmem-32`, `n2-standard-6`) otherwise fails only when the first node is created.

The catalogue is in machine_type_data.py, with its sources (checked 2026-12-01).
"""

from __future__ import annotations

import difflib
import re

from components.core.issues import Issue, one_of
from components.gcp.compute.machine_type_data import (CUSTOM_FAMILIES, CUSTOM_MAX_MIB, EXTENDED_MEMORY_FAMILIES,
                                                     MACHINE_FAMILIES)

MACHINE_TYPES: frozenset[str] = frozenset(t for types in MACHINE_FAMILIES.values() for t in types)

# `custom-4-16384` (N1), `n2-custom-8-32768`, `n2-custom-8-73728-ext`, `e2-custom-small-2048`.
_CUSTOM = re.compile(r"^(?:(?P<family>[a-z0-9]+)-)?custom-(?P<vcpus>\d+|micro|small|medium)-(?P<mib>\d+)(?P<ext>-ext)?$")
_SHARED_CUSTOM = ("micro", "small", "medium")
_FIX_MISSING = "if Google has since added it, add it to MACHINE_FAMILIES in components/gcp/compute/machine_type_data.py"


def family_of(machine_type: str) -> str:
    """The machine family (series) of a machine type: `n2-standard-8` -> n2, `custom-2-4096` -> n1."""
    match = _CUSTOM.match(machine_type)
    if match:
        return match.group("family") or "n1"
    return machine_type.split("-", 1)[0]


def is_custom(machine_type: str) -> bool:
    return _CUSTOM.match(machine_type) is not None


def vcpus_of(machine_type: str) -> int | None:
    """vCPUs of a predefined or custom type whose name carries them (`n2-highmem-16` -> 16)."""
    match = _CUSTOM.match(machine_type)
    if match:
        return int(match.group("vcpus")) if match.group("vcpus").isdigit() else None
    parts = machine_type.split("-")
    return int(parts[2]) if len(parts) >= 3 and parts[2].isdigit() else None


def sizes(family: str) -> tuple[str, ...]:
    """Every predefined machine type of `family`."""
    return MACHINE_FAMILIES.get(family, ())


def machine_type_issues(machine_type: str, key: tuple = ("machineType",)) -> list[Issue]:
    """What Compute Engine would reject about a machine type name."""
    text = str(machine_type)
    if text in MACHINE_TYPES:
        return []
    if text != text.strip() or text.lower() != text:
        clean = text.strip().lower()
        return [Issue(key, "machine type names are lowercase with no spaces", machine_type,
                      allowed="e.g. e2-standard-4, n2-highmem-16", fix=f"write {clean!r}")]
    if _CUSTOM.match(text):
        return _custom_issues(text, key)
    family = family_of(text)
    if family not in MACHINE_FAMILIES:
        close = difflib.get_close_matches(family, list(MACHINE_FAMILIES), n=3, cutoff=0.5)
        mean = f"did you mean the {' or '.join(close)} family? " if close else ""
        return [Issue(key, f"{family!r} is not a machine family mlinfra knows", machine_type,
                      allowed=f"families: {one_of(MACHINE_FAMILIES)}",
                      fix=f"{mean}use a machine type of one of these families ({_FIX_MISSING})")]
    types = MACHINE_FAMILIES[family]
    close = difflib.get_close_matches(text, list(types), n=3, cutoff=0.6)
    mean = f"did you mean {' or '.join(close)}? " if close else ""
    return [Issue(key, f"is not a machine type of the {family} family: a typo or a size the family does not have",
                  machine_type, allowed=f"{family} machine types: {one_of(types)}",
                  fix=f"{mean}use one of the {family} machine types ({_FIX_MISSING})")]


def _custom_issues(text: str, key: tuple) -> list[Issue]:
    match = _CUSTOM.match(text)
    assert match is not None
    family = match.group("family") or "n1"
    if family not in CUSTOM_FAMILIES:
        return [Issue(key, f"the {family} family has no custom machine types", text,
                      allowed=f"custom types of: {one_of(CUSTOM_FAMILIES)} (N1 as custom-VCPUS-MIB)",
                      fix=f"use a predefined {family} type ({one_of(sizes(family)[:6])}, ...) or a custom type "
                          "of a family that has them")]
    prefix, counts, low, high = CUSTOM_FAMILIES[family]
    vcpus, mib, ext = match.group("vcpus"), int(match.group("mib")), bool(match.group("ext"))
    form = f"{prefix}-VCPUS-MEMORY_MIB"
    if vcpus in _SHARED_CUSTOM:
        if family != "e2" or ext:
            return [Issue(key, f"shared-core custom types ({vcpus}) exist only in the e2 family, without -ext", text,
                          allowed=f"e2-custom-{vcpus}-MEMORY_MIB", fix=f"use {form} with a vCPU count")]
        if mib % 256:
            return [Issue(key, f"custom memory {mib} MiB is not a multiple of 256", text, allowed="multiples of 256 MiB",
                          fix=f"use {mib // 256 * 256 or 256} or {(mib // 256 + 1) * 256}")]
        return []
    n = int(vcpus)
    if n not in counts:
        return [Issue(key, f"a {family} custom type cannot have {n} vCPUs", text,
                      allowed=f"{family} custom vCPU counts: {_ranges(counts)}",
                      fix=f"use {form} with an allowed vCPU count")]
    if mib % 256:
        return [Issue(key, f"custom memory {mib} MiB is not a multiple of 256", text, allowed="multiples of 256 MiB",
                      fix=f"use {mib // 256 * 256 or 256} or {(mib // 256 + 1) * 256}")]
    if ext and family not in EXTENDED_MEMORY_FAMILIES:
        return [Issue(key, f"the {family} family has no extended memory (-ext)", text,
                      allowed=f"-ext on: {one_of(EXTENDED_MEMORY_FAMILIES)}",
                      fix=f"drop -ext and keep at most {high * n} MiB, or use a family with extended memory")]
    least, most = _round_up(low * n), min(high * n, CUSTOM_MAX_MIB.get(family, high * n))
    if mib < least or (mib > most and not ext):
        extra = " (or add -ext for extended memory)" if family in EXTENDED_MEMORY_FAMILIES and mib > most else ""
        return [Issue(key, f"{n} vCPUs of {family} take {least} to {most} MiB of memory, not {mib}", text,
                      allowed=f"{low / 1024:g} to {high / 1024:g} GiB per vCPU, in multiples of 256 MiB",
                      fix=f"use a memory size from {least} to {most} MiB{extra}")]
    return []


def _round_up(mib: float) -> int:
    return int(-(-mib // 256) * 256)


def _ranges(counts: tuple[int, ...]) -> str:
    return ", ".join(str(c) for c in counts) if len(counts) <= 12 else \
        f"{one_of(counts[:6])}, ... {one_of(counts[-3:])}"
