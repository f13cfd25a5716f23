"""Regions and zones: the table is consistent, and each rule names the value and the fix."""

from __future__ import annotations

import re

import pytest

try:  # the layout by cloud and service
    from components.gcp.gke import gpus as gpu
except ImportError:  # the flat layout this branch started from
    from components import gpu  # type: ignore[no-redef]
from components.gcp.compute.regions import REGIONS, ZONES, region_issues, region_of, zone_issues, zones_of


def test_every_zone_belongs_to_a_listed_region_and_is_named_after_it():
    for zone, region in ZONES.items():
        assert region in REGIONS
        assert re.fullmatch(re.escape(region) + r"-[a-z]", zone)


def test_every_region_has_at_least_three_zones_and_a_well_formed_name():
    for region, zones in REGIONS.items():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*\d+", region), region
        assert len(zones) >= 3, region


def test_every_gpu_region_is_a_known_region():
    for gpu_type, regions in gpu.GPU_REGIONS.items():
        unknown = set(regions) - set(REGIONS)
        assert not unknown, f"{gpu_type}: {unknown}"


def test_accepts_real_regions_and_zones():
    assert region_issues("us-central1") == []
    assert zone_issues("us-central1-f", "us-central1") == []
    assert zone_issues("europe-west1-b") == []
    assert region_of("us-east1-b") == "us-east1"
    assert zones_of("us-central1") == ("us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f")


def test_rejects_a_misspelt_region_with_a_did_you_mean():
    [issue] = region_issues("us-centrl1")
    assert issue.path == ("region",) and issue.value == "us-centrl1"
    assert "not a Google Cloud region" in issue.message
    assert "did you mean us-central1" in issue.fix
    assert "europe-west4" in issue.allowed


def test_rejects_a_region_that_does_not_exist():
    [issue] = region_issues("us-central2", key=("gcp:region",))
    assert issue.path == ("gcp:region",)
    assert "a typo or a region that does not exist" in issue.message
    assert "add it to REGIONS" in issue.fix


def test_rejects_a_zone_given_as_a_region():
    [issue] = region_issues("us-east1-b")
    assert "is a zone, not a region (it is in us-east1)" in issue.message
    assert issue.fix == "set the region to us-east1"


def test_rejects_an_uppercase_region():
    [issue] = region_issues("US-CENTRAL1")
    assert "lowercase" in issue.message and issue.fix == "write us-central1"


def test_rejects_a_zone_letter_the_region_does_not_have():
    [issue] = zone_issues("europe-west1-a")
    assert "region europe-west1 has no such zone" in issue.message
    assert issue.allowed == "europe-west1-b, europe-west1-c, europe-west1-d"


def test_rejects_a_zone_of_another_region():
    [issue] = zone_issues("us-east1-b", "us-central1")
    assert "is a zone of us-east1, not of region us-central1" in issue.message
    assert "us-central1-a" in issue.allowed


def test_rejects_a_region_given_as_a_zone():
    [issue] = zone_issues("us-west1")
    assert "is a region, not a zone" in issue.message and "us-west1-a" in issue.fix


def test_rejects_an_uppercase_zone():
    [issue] = zone_issues("US-WEST1-A")
    assert "lowercase" in issue.message and issue.fix == "write us-west1-a"


def test_rejects_an_unknown_zone_with_a_did_you_mean_in_its_region():
    [issue] = zone_issues("us-centra1-a", "us-central1")
    assert "not a Google Cloud zone" in issue.message
    assert "did you mean us-central1-a" in issue.fix
