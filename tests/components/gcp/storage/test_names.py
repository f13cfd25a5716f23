"""Bucket names: each Cloud Storage naming rule, broken once."""

from __future__ import annotations

import pytest

from components.gcp.storage.names import bucket_name_issues, needs_domain_verification


@pytest.mark.parametrize("name", ["acme-ml-prod-data", "a_b", "abc", "data.example.com", "x" * 63,
                                  ".".join(["p" * 63] * 3), "goggles-archive", "logs-2026"])
def test_accepts_valid_bucket_names(name):
    assert bucket_name_issues(name) == []


def test_says_a_dotted_name_needs_domain_verification():
    assert needs_domain_verification("data.example.com") and not needs_domain_verification("data")


def _one(name):
    [issue] = bucket_name_issues(name)
    assert issue.path == ("name",) and issue.value == name and issue.allowed and issue.fix
    return issue


def test_rejects_uppercase_and_other_characters():
    issue = _one("Acme Data")
    assert "may not contain ' ' 'A' 'D'" in issue.message and "'acme-data'" in issue.fix


def test_rejects_names_too_short_or_too_long():
    assert "3 to 63 characters; this one has 2" in _one("ab").message
    assert "this one has 64" in _one("x" * 64).message
    assert "3 to 222 characters with dots; this one has 223" in _one(".".join(["p" * 55] * 4)).message


def test_rejects_a_dotted_part_over_63_characters():
    assert "each dot-separated part" in _one("p" * 64 + ".example.com").message


def test_rejects_empty_parts_between_dots():
    assert "empty parts between dots" in _one("data..example").message


def test_rejects_names_that_start_or_end_with_a_separator():
    assert "start and end with a letter or digit" in _one("data-").message
    assert "start and end with a letter or digit" in _one("_data").message


def test_rejects_an_ip_address():
    assert "IP address in dotted-decimal" in _one("192.168.5.4").message


def test_rejects_the_goog_prefix():
    assert "may not start with 'goog'" in _one("goog-data").message


@pytest.mark.parametrize("name", ["my-google-data", "g00gle-data", "data-g0og1e", "googgle-x1".replace("goo", "xgoo")])
def test_rejects_google_and_close_misspellings(name):
    issue = _one(name)
    assert "may not contain 'google' or a close misspelling" in issue.message and "remove" in issue.fix
