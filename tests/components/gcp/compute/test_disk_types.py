"""Boot-disk types: every family in the table is a known family, and each mismatch names the fix."""

from __future__ import annotations

from components.gcp.compute.disk_types import (BOOT_DISK_TYPES, DISK_TYPES, NOT_BOOTABLE, boot_disk_types,
                                               disk_type_issues)
from components.gcp.compute.machine_type_data import MACHINE_FAMILIES


def test_every_family_has_boot_disk_types_and_every_entry_is_a_known_family():
    for name, types in BOOT_DISK_TYPES.items():
        assert name.split("-")[0] in MACHINE_FAMILIES, name
        assert types and set(types) <= set(DISK_TYPES) - set(NOT_BOOTABLE), name
    assert set(MACHINE_FAMILIES) <= set(BOOT_DISK_TYPES)


def test_every_machine_type_takes_at_least_one_boot_disk_type():
    for types in MACHINE_FAMILIES.values():
        for name in types:
            assert boot_disk_types(name), name


def test_accepts_supported_pairs():
    assert disk_type_issues("pd-balanced", "e2-standard-4") == []
    assert disk_type_issues("hyperdisk-balanced", "c4-standard-8") == []
    assert disk_type_issues("pd-ssd", "c3-standard-8") == []
    assert disk_type_issues("pd-extreme", "n2-standard-64") == []
    assert disk_type_issues("pd-balanced") == []


def test_rejects_persistent_disk_on_a_hyperdisk_only_family():
    [issue] = disk_type_issues("pd-balanced", "n4-standard-8")
    assert issue.path == ("diskType",) and issue.value == "pd-balanced"
    assert "n4-standard-8 (n4) does not take pd-balanced boot disks" in issue.message
    assert issue.fix.startswith("set the disk type to hyperdisk-balanced")


def test_rejects_persistent_disk_on_c3_metal_and_a3_ultra():
    assert "does not take pd-ssd" in disk_type_issues("pd-ssd", "c3-standard-192-metal")[0].message
    assert "does not take pd-ssd" in disk_type_issues("pd-ssd", "a3-ultragpu-8g")[0].message


def test_rejects_hyperdisk_on_a_persistent_disk_family():
    [issue] = disk_type_issues("hyperdisk-balanced", "e2-standard-4")
    assert "does not take hyperdisk-balanced" in issue.message and "pd-balanced" in issue.allowed


def test_rejects_a_disk_type_that_cannot_boot():
    [issue] = disk_type_issues("hyperdisk-ml", "a3-highgpu-8g")
    assert "hyperdisk-ml volumes attach only as data disks" in issue.message
    assert "data volume" in issue.fix


def test_rejects_an_unknown_disk_type():
    [issue] = disk_type_issues("PD-SSD")
    assert "is not a Compute Engine disk type" in issue.message and issue.fix == "write 'pd-ssd'"


def test_rejects_pd_extreme_on_a_small_n2():
    [issue] = disk_type_issues("pd-extreme", "n2-standard-8")
    assert "pd-extreme needs an N2 machine type with 64 or more vCPUs" in issue.message


def test_rejects_pd_standard_on_memory_optimized_and_pd_on_tpu_v6e():
    assert "does not take pd-standard" in disk_type_issues("pd-standard", "m1-ultramem-40")[0].message
    assert "does not take pd-balanced" in disk_type_issues("pd-balanced", "ct6e-standard-4t")[0].message
    assert disk_type_issues("hyperdisk-balanced", "x4-960-16t-metal") == []
