"""Cloud Storage bucket locations: a region, a predefined dual-region (NAM4, EUR4, ASIA1, ...),
a configurable dual-region (a multi-region code plus two of its regions), or a multi-region
(US, EU, ASIA). The API reads locations case-insensitively (`us-central1` = `US-CENTRAL1`).

Source: https://cloud.google.com/storage/docs/locations ("Available locations"), checked
2026-12-01; the API reference's CustomPlacementConfig says a configurable dual-region names
"precisely two eligible regions within the same multi-region". Which regions are eligible is
approximated by name (us-* in US, europe-* in EU, asia-* in ASIA), erring on accepting. Bucket
regions are the Compute Engine regions of components/gcp/compute/regions.py. NAM4, EUR4 and
ASIA1 were confirmed that day; EUR5, EUR7 and EUR8 are from the same page as last read.
"""

from __future__ import annotations

import difflib
from typing import Sequence

from components.core.issues import Issue, one_of
from components.gcp.compute.regions import REGIONS, ZONES

MULTI_REGIONS = ("US", "EU", "ASIA")

# Predefined dual-regions -> the two regions they replicate between.
DUAL_REGIONS: dict[str, tuple[str, str]] = {
    "ASIA1": ("asia-northeast1", "asia-northeast2"),   # Tokyo, Osaka
    "EUR4": ("europe-north1", "europe-west4"),         # Finland, Netherlands
    "EUR5": ("europe-west1", "europe-west2"),          # Belgium, London
    "EUR7": ("europe-west2", "europe-west3"),          # London, Frankfurt
    "EUR8": ("europe-west3", "europe-west6"),          # Frankfurt, Zurich
    "NAM4": ("us-central1", "us-east1"),               # Iowa, South Carolina
}

# A configurable dual-region names a multi-region as its location and two regions inside it.
_MULTI_REGION_PREFIX = {"US": "us-", "EU": "europe-", "ASIA": "asia-"}


def location_kind(location: str) -> str | None:
    """'region', 'dual-region' or 'multi-region' for a known location (any case); None otherwise."""
    upper = str(location).strip().upper()
    if upper in MULTI_REGIONS:
        return "multi-region"
    if upper in DUAL_REGIONS:
        return "dual-region"
    if upper.lower() in REGIONS:
        return "region"
    return None


def regions_of(location: str, data_locations: Sequence[str] = ()) -> tuple[str, ...]:
    """The regions a bucket's data lives in; () for a multi-region without data locations."""
    upper = str(location).strip().upper()
    if data_locations:
        return tuple(str(r).lower() for r in data_locations)
    if upper in DUAL_REGIONS:
        return DUAL_REGIONS[upper]
    return (upper.lower(),) if upper.lower() in REGIONS else ()


def location_issues(location: str, data_locations: Sequence[str] | None = None,
                    key: tuple = ("location",)) -> list[Issue]:
    """The location must exist; `data_locations` (a configurable dual-region) must be two
    distinct regions of the multi-region given as the location."""
    text = str(location).strip()
    upper = text.upper()
    kind = location_kind(text)
    if kind is None:
        if text.lower() in ZONES:
            region = ZONES[text.lower()]
            return [Issue(key, f"is a zone; buckets live in a region, dual-region or multi-region (this zone is in "
                          f"{region})", location, allowed=_allowed(), fix=f"use {region.upper()}")]
        choices = list(MULTI_REGIONS) + list(DUAL_REGIONS) + [r.upper() for r in REGIONS]
        close = difflib.get_close_matches(upper, choices, n=3, cutoff=0.6)
        mean = f"did you mean {' or '.join(close)}? " if close else ""
        return [Issue(key, "is not a Cloud Storage location: a typo or a location that does not exist", location,
                      allowed=_allowed(),
                      fix=f"{mean}use a region, a dual-region or a multi-region (if Google has since added it, add "
                          "it to components/gcp/storage/locations.py or compute/regions.py)")]
    if not data_locations:
        return []
    dkey = key[:-1] + ("dataLocations",) if key else ("dataLocations",)
    if kind != "multi-region":
        return [Issue(dkey, f"a configurable dual-region names a multi-region as its location, not the {kind} {text}",
                      list(data_locations), allowed=f"location one of {one_of(MULTI_REGIONS)} with two of its regions",
                      fix="set location to US, EU or ASIA, or remove dataLocations")]
    regions = [str(r).strip().lower() for r in data_locations]
    prefix = _MULTI_REGION_PREFIX[upper]
    inside = sorted(r for r in REGIONS if r.startswith(prefix))
    if len(regions) != 2 or regions[0] == regions[1]:
        return [Issue(dkey, "a configurable dual-region takes exactly two different regions", list(data_locations),
                      allowed=f"two of: {one_of(r.upper() for r in inside)}",
                      fix="list two different regions of the multi-region")]
    for i, region in enumerate(regions):
        if region not in REGIONS or not region.startswith(prefix):
            return [Issue(dkey + (i,), f"is not a region of the {upper} multi-region", data_locations[i],
                          allowed=one_of(r.upper() for r in inside),
                          fix=f"use regions of {upper} only, or change the location to the multi-region they are in")]
    return []


def _allowed() -> str:
    return (f"multi-regions {one_of(MULTI_REGIONS)}; dual-regions {one_of(DUAL_REGIONS)}; "
            f"regions such as US-CENTRAL1, EUROPE-WEST4 (any case)")
