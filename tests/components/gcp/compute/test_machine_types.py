"""Machine types: the catalogue is consistent, and a typo or a missing size is named with its fix."""

from __future__ import annotations

import re

import pytest

try:  # the layout by cloud and service
    from components.gcp.gke import gpus as gpu
except ImportError:  # the flat layout this branch started from
    from components import gpu  # type: ignore[no-redef]
from components.gcp.compute.machine_type_data import CUSTOM_FAMILIES, MACHINE_FAMILIES
from components.gcp.compute.machine_types import (MACHINE_TYPES, family_of, is_custom, machine_type_issues, sizes,
                                                  vcpus_of)

_WELL_FORMED = re.compile(r"^[a-z][a-z0-9]*-(micro|small|medium"  # shared core: e2-micro, f1-micro
                          r"|[a-z]+-\d+[gt]?(-lssd|-highlssd|-standardlssd)?(-metal)?"  # family-shape-size
                          r"|\d+-\d+t-metal)$")  # X4: CPUs-memory TB


def test_every_machine_type_is_well_formed_and_in_its_own_family():
    for family, types in MACHINE_FAMILIES.items():
        assert types, family
        assert len(set(types)) == len(types), f"{family} lists a type twice"
        for name in types:
            assert _WELL_FORMED.match(name), name
            assert family_of(name) == family, name


def test_no_machine_type_is_in_two_families():
    assert len(MACHINE_TYPES) == sum(len(t) for t in MACHINE_FAMILIES.values())


def test_every_gpu_machine_type_is_in_the_catalogue():
    missing = set(gpu.ATTACHED_GPUS) - MACHINE_TYPES
    assert not missing


def test_every_custom_family_is_a_known_family_with_sane_limits():
    for family, (prefix, counts, low, high) in CUSTOM_FAMILIES.items():
        assert family in MACHINE_FAMILIES
        assert prefix in ("custom", f"{family}-custom")
        assert list(counts) == sorted(set(counts)) and counts[0] >= 1
        assert 0 < low < high


@pytest.mark.parametrize("name", ["e2-standard-4", "e2-micro", "n2-standard-128", "g2-standard-96", "c4-highmem-288",
                                  "c3-standard-192-metal", "a3-ultragpu-8g", "n1-standard-1", "f1-micro",
                                  "custom-4-16384", "n2-custom-8-32768", "e2-custom-4-8192", "n2-custom-2-24576-ext",
                                  "e2-custom-small-2048", "x4-960-16t-metal", "x4-megamem-960-metal",
                                  "ct6e-standard-4t", "c4-highcpu-2", "m4-hypermem-16", "z3-highmem-22-highlssd"])
def test_accepts_real_machine_types(name):
    assert machine_type_issues(name) == []


def test_reads_family_and_vcpus():
    assert family_of("custom-2-4096") == "n1" and family_of("n2d-custom-4-8192") == "n2d"
    assert vcpus_of("n2-highmem-16") == 16 and vcpus_of("n4-custom-8-16384") == 8 and vcpus_of("e2-micro") is None
    assert is_custom("custom-2-4096") and not is_custom("n2-standard-2")
    assert "n2-standard-2" in sizes("n2")


def test_rejects_a_typo_with_a_did_you_mean_and_the_familys_sizes():
    [issue] = machine_type_issues("n2-standrad-8")
    assert issue.path == ("machineType",) and issue.value == "n2-standrad-8"
    assert "a typo or a size the family does not have" in issue.message
    assert "did you mean n2-standard-8" in issue.fix
    assert "n2-standard-128" in issue.allowed


def test_rejects_a_size_the_family_does_not_have():
    [issue] = machine_type_issues("e2-highmem-32")
    assert "not a machine type of the e2 family" in issue.message
    assert "e2-highmem-16" in issue.allowed and "e2-highmem-32" not in issue.allowed.split(", ")


def test_rejects_an_unknown_family():
    [issue] = machine_type_issues("n3-standard-4")
    assert "'n3' is not a machine family mlinfra knows" in issue.message
    assert "did you mean the" in issue.fix and "n2" in issue.fix


def test_rejects_uppercase_or_spaces():
    [issue] = machine_type_issues(" E2-Standard-4")
    assert "lowercase with no spaces" in issue.message and issue.fix == "write 'e2-standard-4'"


def test_rejects_a_custom_type_of_a_family_without_custom_types():
    [issue] = machine_type_issues("c2-custom-8-32768")
    assert "the c2 family has no custom machine types" in issue.message
    assert "n2" in issue.allowed


def test_rejects_a_custom_vcpu_count_the_family_does_not_allow():
    [issue] = machine_type_issues("n2-custom-34-65536")
    assert "a n2 custom type cannot have 34 vCPUs" in issue.message
    assert "n2-custom-VCPUS-MEMORY_MIB" in issue.fix


def test_rejects_custom_memory_that_is_not_a_multiple_of_256():
    [issue] = machine_type_issues("n2-custom-8-33000")
    assert "33000 MiB is not a multiple of 256" in issue.message and "32768" in issue.fix


def test_rejects_custom_memory_outside_the_per_vcpu_range():
    [issue] = machine_type_issues("e2-custom-2-32768")
    assert "2 vCPUs of e2 take 1024 to 16384 MiB of memory, not 32768" in issue.message
    assert "0.5 to 8 GiB per vCPU" in issue.allowed


def test_suggests_extended_memory_where_the_family_has_it():
    [issue] = machine_type_issues("custom-2-16384")
    assert "-ext" in issue.fix


def test_rejects_extended_memory_on_a_family_without_it():
    [issue] = machine_type_issues("e2-custom-2-16384-ext")
    assert "the e2 family has no extended memory" in issue.message


def test_rejects_a_shared_core_custom_type_outside_e2():
    [issue] = machine_type_issues("n2-custom-small-2048")
    assert "shared-core custom types (small) exist only in the e2 family" in issue.message


def test_rejects_shared_core_custom_memory_that_is_not_a_multiple_of_256():
    [issue] = machine_type_issues("e2-custom-small-2000")
    assert "2000 MiB is not a multiple of 256" in issue.message


def test_rejects_e2_custom_memory_over_the_families_ceiling():
    [issue] = machine_type_issues("e2-custom-32-196608")
    assert "32 vCPUs of e2 take 16384 to 131072 MiB of memory, not 196608" in issue.message
