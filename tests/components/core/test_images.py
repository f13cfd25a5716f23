"""OCI image references: each grammar rule, broken once."""

from __future__ import annotations

import pytest

from components.core.images import has_tag_or_digest, image_issues, split_reference

SHA = "sha256:" + "a" * 64


@pytest.mark.parametrize("ref", ["nginx", "nginx:1.27", "library/nginx", "us-docker.pkg.dev/acme/ml/server:1.4.2",
                                 f"gcr.io/acme/trainer@{SHA}", f"ghcr.io/acme/x:v1@{SHA}", "localhost:5000/a/b:dev",
                                 "vllm/vllm-openai:v0.6.3.post1", "a__b/c-d.e_f", "[::1]:5000/img:tag",
                                 "registry.example.com:443/team/app"])
def test_accepts_valid_references(ref):
    assert image_issues(ref) == []


def test_splits_host_path_tag_and_digest():
    assert split_reference("localhost:5000/a/b:dev") == ("localhost:5000", "a/b", "dev", None)
    assert split_reference(f"gcr.io/acme/trainer@{SHA}") == ("gcr.io", "acme/trainer", None, SHA)
    assert split_reference("acme/trainer") == (None, "acme/trainer", None, None)


def test_says_whether_a_tag_or_digest_is_present():
    assert has_tag_or_digest("nginx:1.27") and has_tag_or_digest(f"nginx@{SHA}")
    assert not has_tag_or_digest("localhost:5000/nginx") and not has_tag_or_digest("nginx")


def _one(ref):
    [issue] = image_issues(ref)
    assert issue.path == ("image",) and issue.value == ref and issue.allowed and issue.fix
    return issue


def test_rejects_an_empty_reference():
    assert "is empty" in _one("  ").message


def test_rejects_spaces_and_shell_syntax():
    assert "contains a space" in _one("gcr.io/acme/x :1").message
    assert "contains '$'" in _one("gcr.io/acme/x:${TAG}").message
    assert "nothing expands $VARS" in _one("gcr.io/acme/x:`git rev-parse HEAD`").message


def test_rejects_a_scheme():
    issue = _one("https://gcr.io/acme/x:1")
    assert "no scheme" in issue.message and issue.fix == "write 'gcr.io/acme/x:1'"


def test_rejects_an_uppercase_path_component():
    issue = _one("gcr.io/acme/MyModel:1")
    assert "path component 'MyModel'" in issue.message and "'mymodel'" in issue.fix


def test_rejects_a_bad_separator_in_a_component():
    assert "not lowercase alphanumerics" in _one("gcr.io/acme/x..y").message


def test_rejects_an_empty_path_component():
    assert "empty path component" in _one("gcr.io/acme//x").message


def test_rejects_a_bad_registry_host():
    assert "registry host 'gcr-.io'" in _one("gcr-.io/acme/x").message


def test_rejects_a_bad_tag():
    assert "tag '.latest' is not valid" in _one("gcr.io/acme/x:.latest").message
    assert "is not valid" in _one("gcr.io/acme/x:" + "t" * 129).message


def test_rejects_a_malformed_or_truncated_digest():
    assert "is not ALGORITHM:HEX" in _one("gcr.io/acme/x@deadbeef").message
    issue = _one("gcr.io/acme/x@sha256:abc123")
    assert "a sha256 digest is 64 lowercase hex digits; this one has 6" in issue.message


def test_rejects_a_name_over_255_characters():
    assert "at most 255" in _one("gcr.io/" + "/".join(["a" * 60] * 5)).message
