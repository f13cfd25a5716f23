"""Bucket locations: the tables are consistent, and each rule names the value and the fix."""

from __future__ import annotations

import pytest

from components.gcp.compute.regions import REGIONS
from components.gcp.storage.locations import (DUAL_REGIONS, MULTI_REGIONS, location_issues, location_kind,
                                              regions_of)


def test_every_dual_region_pairs_two_different_known_regions():
    for name, pair in DUAL_REGIONS.items():
        assert len(set(pair)) == 2 and set(pair) <= set(REGIONS), name
        assert name.isupper()


def test_no_location_code_is_two_kinds():
    codes = list(MULTI_REGIONS) + list(DUAL_REGIONS) + [r.upper() for r in REGIONS]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("location,kind", [("US", "multi-region"), ("eu", "multi-region"), ("nam4", "dual-region"),
                                           ("EUR4", "dual-region"), ("us-central1", "region"),
                                           ("EUROPE-WEST4", "region")])
def test_accepts_locations_in_any_case(location, kind):
    assert location_issues(location) == []
    assert location_kind(location) == kind


def test_accepts_a_configurable_dual_region():
    assert location_issues("US", ["US-CENTRAL1", "us-east4"]) == []
    assert regions_of("US", ["US-CENTRAL1", "US-EAST4"]) == ("us-central1", "us-east4")
    assert regions_of("nam4") == ("us-central1", "us-east1")


def test_rejects_an_unknown_location_with_a_did_you_mean():
    [issue] = location_issues("us-centrl1")
    assert issue.path == ("location",) and issue.value == "us-centrl1"
    assert "is not a Cloud Storage location" in issue.message
    assert "did you mean US-CENTRAL1" in issue.fix and "NAM4" in issue.allowed


def test_rejects_a_zone():
    [issue] = location_issues("us-central1-a")
    assert "is a zone" in issue.message and issue.fix == "use US-CENTRAL1"


def test_rejects_data_locations_on_a_region():
    [issue] = location_issues("us-central1", ["us-central1", "us-east1"])
    assert issue.path == ("dataLocations",)
    assert "names a multi-region as its location, not the region us-central1" in issue.message


def test_rejects_a_dual_region_of_one_region():
    [issue] = location_issues("EU", ["europe-west1", "EUROPE-WEST1"])
    assert "exactly two different regions" in issue.message and "EUROPE-WEST4" in issue.allowed


def test_rejects_a_data_location_outside_the_multi_region():
    [issue] = location_issues("EU", ["europe-west1", "us-east1"], key=("storage", "location"))
    assert issue.path == ("storage", "dataLocations", 1)
    assert "is not a region of the EU multi-region" in issue.message
