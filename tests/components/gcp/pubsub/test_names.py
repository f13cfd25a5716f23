"""Pub/Sub ids: each naming rule, broken once."""

from __future__ import annotations

import pytest

from components.gcp.pubsub.names import pubsub_name_issues, subscription_name_issues, topic_name_issues


@pytest.mark.parametrize("name", ["events", "Model.Updates~v2+x%20", "a" * 255, "abc"])
def test_accepts_valid_ids(name):
    assert topic_name_issues(name) == [] and subscription_name_issues(name) == []


def test_rejects_characters_outside_the_set():
    [issue] = topic_name_issues("model updates!")
    assert issue.path == ("topic",) and "topic ids may not contain ' ' '!'" in issue.message
    assert "'model-updates-'" in issue.fix


def test_rejects_ids_too_short_or_too_long():
    assert "3 to 255 characters; this one has 2" in topic_name_issues("ab")[0].message
    assert "this one has 256" in subscription_name_issues("a" * 256)[0].message


def test_rejects_ids_that_do_not_start_with_a_letter():
    [issue] = subscription_name_issues("1-events")
    assert "subscription ids start with a letter" in issue.message and "'t-1-events'" in issue.fix


def test_rejects_the_goog_prefix():
    [issue] = topic_name_issues("google-events")
    assert "may not start with 'goog'" in issue.message


def test_rejects_a_full_resource_path():
    [issue] = pubsub_name_issues("projects/acme/topics/events", key=("name",))
    assert "full resource path" in issue.message and issue.fix == "write 'events'"
