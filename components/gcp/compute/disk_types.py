"""Boot-disk types per machine family. The newest families (C4, N4, C4A, C4D, M4, A4, ...) take
only Hyperdisk, the older ones (E2, N1, N2, ...) only Persistent Disk, and a mismatch fails when
the first node is created ("disk type not supported by machine type").

Sources (checked 2026-12-01):
- https://cloud.google.com/compute/docs/disks/persistent-disks ("Machine series support")
- https://cloud.google.com/compute/docs/disks/hyperdisks ("Machine type support")
- https://cloud.google.com/compute/docs/machine-resource ("Supported disk types" per series)
Spot-checked against an OpenShift installer test of boot-disk types per machine type, which
agrees on every family here except C3 bare metal: it lists pd-ssd and pd-balanced, this table
Hyperdisk only, as the C3 page was read (not re-verified on that date). Where unsure, a family
is given more types, not fewer: a wrong rejection would block a valid stack.
Hyperdisk Extreme, Throughput, ML and Balanced High Availability volumes attach only as data
disks; none can be a boot disk (https://cloud.google.com/compute/docs/disks/hyperdisks).
"""

from __future__ import annotations

from components.core.issues import Issue, one_of
from components.gcp.compute.machine_types import family_of, vcpus_of

PD = ("pd-standard", "pd-balanced", "pd-ssd")
PD_SSD = ("pd-balanced", "pd-ssd")
HD = ("hyperdisk-balanced",)

DISK_TYPES = ("pd-standard", "pd-balanced", "pd-ssd", "pd-extreme", "hyperdisk-balanced",
              "hyperdisk-balanced-high-availability", "hyperdisk-extreme", "hyperdisk-throughput", "hyperdisk-ml")
NOT_BOOTABLE = ("hyperdisk-balanced-high-availability", "hyperdisk-extreme", "hyperdisk-throughput", "hyperdisk-ml")

# Family (or `family-shape` for the exceptions within a family) -> boot-disk types it takes.
BOOT_DISK_TYPES: dict[str, tuple[str, ...]] = {
    "e2": PD, "f1": PD, "g1": PD, "n1": PD, "n2": PD + ("pd-extreme",), "n2d": PD,
    "t2d": PD, "t2a": PD, "c2": PD, "c2d": PD, "a2": PD,
    "c3": PD_SSD + HD, "c3d": PD_SSD + HD, "g2": PD_SSD, "h3": ("pd-balanced",) + HD, "z3": PD_SSD + HD,
    "m1": PD_SSD + ("pd-extreme",) + HD, "m2": PD_SSD + ("pd-extreme",) + HD, "m3": PD_SSD + ("pd-extreme",) + HD,
    "a3": PD_SSD + HD,
    # TPU VMs (the per-version pages under https://cloud.google.com/tpu/docs): v6e (Trillium)
    # and later take Hyperdisk Balanced only; v4/v5 Persistent Disk (Hyperdisk on v5p too).
    "ct4p": PD, "ct5l": PD, "ct5lp": PD, "ct5p": PD + HD, "ct6e": HD, "tpu7x": HD,
    # Hyperdisk only.
    "c4": HD, "c4a": HD, "c4d": HD, "n4": HD, "n4d": HD, "n4a": HD, "m4": HD, "x4": HD, "h4d": HD,
    "a4": HD, "a4x": HD, "g4": HD, "c3-metal": HD, "z3-metal": HD, "a3-ultragpu": HD,
}
# pd-extreme needs N2 machine types with at least this many vCPUs.
PD_EXTREME_MIN_N2_VCPUS = 64


def boot_disk_types(machine_type: str) -> tuple[str, ...]:
    """The boot-disk types `machine_type` takes; () for a family this table does not know."""
    family = family_of(machine_type)
    if machine_type.endswith("-metal") and f"{family}-metal" in BOOT_DISK_TYPES:
        return BOOT_DISK_TYPES[f"{family}-metal"]
    parts = machine_type.split("-")
    if len(parts) >= 2 and f"{family}-{parts[1]}" in BOOT_DISK_TYPES:
        return BOOT_DISK_TYPES[f"{family}-{parts[1]}"]
    return BOOT_DISK_TYPES.get(family, ())


def disk_type_issues(disk_type: str, machine_type: str | None = None, key: tuple = ("diskType",)) -> list[Issue]:
    """The boot-disk type must exist, be bootable, and be one `machine_type` takes."""
    if disk_type not in DISK_TYPES:
        lower = str(disk_type).strip().lower()
        fix = f"write {lower!r}" if lower in DISK_TYPES else "use one of the allowed disk types"
        return [Issue(key, "is not a Compute Engine disk type", disk_type, allowed=one_of(DISK_TYPES), fix=fix)]
    if disk_type in NOT_BOOTABLE:
        bootable = boot_disk_types(machine_type) if machine_type else ("pd-balanced", "hyperdisk-balanced")
        return [Issue(key, f"{disk_type} volumes attach only as data disks, never as a boot disk", disk_type,
                      allowed=f"boot disks: {one_of(bootable or ('pd-balanced', 'hyperdisk-balanced'))}",
                      fix=f"use {bootable[0] if bootable else 'pd-balanced'} for the boot disk and attach "
                          f"{disk_type} as a data volume")]
    if machine_type is None:
        return []
    allowed = boot_disk_types(machine_type)
    if not allowed:
        return []  # an unknown machine type is machine_type_issues' to report
    if disk_type not in allowed:
        family = family_of(machine_type)
        return [Issue(key, f"{machine_type} ({family}) does not take {disk_type} boot disks", disk_type,
                      allowed=f"{machine_type}: {one_of(allowed)}",
                      fix=f"set the disk type to {allowed[0]}, or pick a machine family that takes {disk_type}")]
    if disk_type == "pd-extreme" and family_of(machine_type) == "n2":
        vcpus = vcpus_of(machine_type) or 0
        if vcpus < PD_EXTREME_MIN_N2_VCPUS:
            return [Issue(key, f"pd-extreme needs an N2 machine type with {PD_EXTREME_MIN_N2_VCPUS} or more vCPUs; "
                          f"{machine_type} has {vcpus}", disk_type, allowed=f"{machine_type}: {one_of(PD)}",
                          fix=f"use pd-ssd, or n2-standard-{PD_EXTREME_MIN_N2_VCPUS} or larger")]
    return []

