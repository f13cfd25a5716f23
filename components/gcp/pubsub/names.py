"""Pub/Sub topic and subscription ids (also schemas and snapshots), as the API checks them.

Source: the Pub/Sub API reference for Topic.name and Subscription.name,
https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.topics and
https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions, checked
2026-12-01: 3 to 255 characters; start with a letter; letters, digits and `- _ . ~ + %` only;
not starting with `goog`.
"""

from __future__ import annotations

import re

from components.core.issues import Issue

_CHARS = re.compile(r"^[A-Za-z0-9\-_.~+%]+$")
MIN, MAX = 3, 255
_ALLOWED = f"{MIN}-{MAX} characters: letters, digits, - _ . ~ + %, starting with a letter, not with goog"


def pubsub_name_issues(name: str, key: tuple = ("name",), what: str = "topic") -> list[Issue]:
    """Rules for a topic or subscription id (`what` names it in messages)."""
    text = str(name)
    issues = []
    if text.startswith("projects/"):
        return [Issue(key, f"is a full resource path; give the {what} id alone", name, allowed=_ALLOWED,
                      fix=f"write {text.rsplit('/', 1)[-1]!r}")]
    if not _CHARS.match(text or "-"):
        bad = sorted(set(re.sub(r"[A-Za-z0-9\-_.~+%]", "", text)))
        issues.append(Issue(key, f"{what} ids may not contain {' '.join(repr(c) for c in bad) or 'nothing'}", name,
                            allowed=_ALLOWED, fix=f"rename it, e.g. {re.sub(r'[^A-Za-z0-9._~+%-]+', '-', text)!r}"))
    if not MIN <= len(text) <= MAX:
        issues.append(Issue(key, f"{what} ids are {MIN} to {MAX} characters; this one has {len(text)}", name,
                            allowed=_ALLOWED, fix="shorten it" if len(text) > MAX else "lengthen it"))
    if not (text[:1].isascii() and text[:1].isalpha()):
        issues.append(Issue(key, f"{what} ids start with a letter", name, allowed=_ALLOWED,
                            fix=f"rename it, e.g. {('t-' + text)[:MAX]!r}"))
    if text.startswith("goog"):
        issues.append(Issue(key, f"{what} ids may not start with 'goog'", name, allowed=_ALLOWED,
                            fix="choose a name without the goog prefix"))
    return issues


def topic_name_issues(name: str, key: tuple = ("topic",)) -> list[Issue]:
    return pubsub_name_issues(name, key, "topic")


def subscription_name_issues(name: str, key: tuple = ("subscription",)) -> list[Issue]:
    return pubsub_name_issues(name, key, "subscription")
