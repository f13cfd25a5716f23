"""Google Cloud regions and their zones: a table, not a pattern, so `us-central2` or
`europe-west1-a` (europe-west1 has no zone a) fail before an apply instead of minutes into one.

Source: https://cloud.google.com/compute/docs/regions-zones ("Available regions and zones"),
checked 2026-12-01 (the region list against Google's per-product location pages, the zone
letters from the regions-zones table; only us-central1 has four zones, europe-west1 and
us-east1 have no zone a); cross-check with `gcloud compute zones list`. Google adds regions: when one
is missing, add it to REGIONS below (a missing region is rejected, with that fix in the message).
"""

from __future__ import annotations

import difflib

from components.core.issues import Issue, one_of

# Region -> the letters of its zones (zone names are `<region>-<letter>`).
_ZONE_LETTERS: dict[str, str] = {
    "africa-south1": "abc",            # Johannesburg
    "asia-east1": "abc",               # Changhua County, Taiwan
    "asia-east2": "abc",               # Hong Kong
    "asia-northeast1": "abc",          # Tokyo
    "asia-northeast2": "abc",          # Osaka
    "asia-northeast3": "abc",          # Seoul
    "asia-south1": "abc",              # Mumbai
    "asia-south2": "abc",              # Delhi
    "asia-southeast1": "abc",          # Jurong West, Singapore
    "asia-southeast2": "abc",          # Jakarta
    "australia-southeast1": "abc",     # Sydney
    "australia-southeast2": "abc",     # Melbourne
    "europe-central2": "abc",          # Warsaw
    "europe-north1": "abc",            # Hamina, Finland
    "europe-north2": "abc",            # Stockholm
    "europe-southwest1": "abc",        # Madrid
    "europe-west1": "bcd",             # St. Ghislain, Belgium
    "europe-west2": "abc",             # London
    "europe-west3": "abc",             # Frankfurt
    "europe-west4": "abc",             # Eemshaven, Netherlands
    "europe-west6": "abc",             # Zurich
    "europe-west8": "abc",             # Milan
    "europe-west9": "abc",             # Paris
    "europe-west10": "abc",            # Berlin
    "europe-west12": "abc",            # Turin
    "me-central1": "abc",              # Doha
    "me-central2": "abc",              # Dammam
    "me-west1": "abc",                 # Tel Aviv
    "northamerica-northeast1": "abc",  # Montréal
    "northamerica-northeast2": "abc",  # Toronto
    "northamerica-south1": "abc",      # Querétaro
    "southamerica-east1": "abc",       # Osasco (São Paulo)
    "southamerica-west1": "abc",       # Santiago
    "us-central1": "abcf",             # Council Bluffs, Iowa
    "us-east1": "bcd",                 # Moncks Corner, South Carolina
    "us-east4": "abc",                 # Ashburn, Virginia
    "us-east5": "abc",                 # Columbus, Ohio
    "us-south1": "abc",                # Dallas
    "us-west1": "abc",                 # The Dalles, Oregon
    "us-west2": "abc",                 # Los Angeles
    "us-west3": "abc",                 # Salt Lake City
    "us-west4": "abc",                 # Las Vegas
}

REGIONS: dict[str, tuple[str, ...]] = {
    region: tuple(f"{region}-{letter}" for letter in letters) for region, letters in _ZONE_LETTERS.items()
}
ZONES: dict[str, str] = {zone: region for region, zones in REGIONS.items() for zone in zones}

_FIX_MISSING = "if Google has since opened it, add it to REGIONS in components/gcp/compute/regions.py"


def region_of(zone: str) -> str | None:
    """The region a known zone belongs to; None for an unknown zone."""
    return ZONES.get(zone)


def zones_of(region: str) -> tuple[str, ...]:
    """The zones of a known region; () for an unknown region."""
    return REGIONS.get(region, ())


def _close(word: str, choices) -> list[str]:
    return difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)


def region_issues(region: str, key: tuple = ("region",)) -> list[Issue]:
    """The region must be a Google Cloud region (not a zone, not a multi-region, lowercase)."""
    if region in REGIONS:
        return []
    text = str(region)
    if text.lower() in REGIONS:
        return [Issue(key, "is not a region name: region names are lowercase", region,
                      allowed="e.g. us-central1, europe-west4", fix=f"write {text.lower()}")]
    if text in ZONES:
        return [Issue(key, f"is a zone, not a region (it is in {ZONES[text]})", region,
                      allowed="a region such as " + ZONES[text], fix=f"set the region to {ZONES[text]}")]
    close = _close(text, REGIONS)
    mean = f"did you mean {' or '.join(close)}? " if close else ""
    return [Issue(key, "is not a Google Cloud region mlinfra knows: a typo or a region that does not exist", region,
                  allowed=one_of(REGIONS),
                  fix=f"{mean}use one of the allowed regions ({_FIX_MISSING})")]


def zone_issues(zone: str, region: str | None = None, key: tuple = ("zone",)) -> list[Issue]:
    """The zone must exist, and be in `region` when one is given."""
    text = str(zone)
    if text in ZONES:
        if region is not None and ZONES[text] != region:
            return [Issue(key, f"is a zone of {ZONES[text]}, not of region {region}", zone,
                          allowed=f"zones of {region}: {one_of(zones_of(region)) or '(unknown region)'}",
                          fix=f"use a zone of {region}, or move the stack to {ZONES[text]}")]
        return []
    if text.lower() in ZONES:
        return [Issue(key, "is not a zone name: zone names are lowercase", zone,
                      allowed="e.g. us-central1-a", fix=f"write {text.lower()}")]
    if text in REGIONS:
        return [Issue(key, "is a region, not a zone", zone, allowed=f"zones of {text}: {one_of(REGIONS[text])}",
                      fix=f"use one of {one_of(REGIONS[text])}")]
    base = text.rsplit("-", 1)[0]
    if base in REGIONS:
        return [Issue(key, f"region {base} has no such zone", zone, allowed=one_of(REGIONS[base]),
                      fix=f"use one of {one_of(REGIONS[base])}")]
    pool = zones_of(region) if region in REGIONS else tuple(ZONES)
    close = _close(text, pool)
    mean = f"did you mean {' or '.join(close)}? " if close else ""
    allowed = f"zones of {region}: {one_of(zones_of(region))}" if region in REGIONS else "a zone such as us-central1-a"
    return [Issue(key, "is not a Google Cloud zone mlinfra knows: a typo or a zone that does not exist", zone,
                  allowed=allowed, fix=f"{mean}use an existing zone ({_FIX_MISSING})")]
