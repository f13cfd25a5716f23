"""Names the APIs check when a resource is created: GCP label keys and values, the Pulumi stack
name, GKE cluster and node-pool names, Cloud Run service and Cloud Functions (2nd gen) names.

Sources (checked 2026-12-01):
- Labels: https://cloud.google.com/resource-manager/docs/labels-overview#requirements (keys 1-63,
  start with a lowercase letter; keys and values use lowercase letters, digits, `_`, `-`, and
  international lowercase letters; values 0-63; at most 64 labels per resource).
- Pulumi stack names: the CLI's own check, "stack names are limited to 100 characters and may
  only contain alphanumeric, hyphens, underscores, or periods" (github.com/pulumi/pulumi#10675).
- GKE: https://cloud.google.com/kubernetes-engine/docs/reference/rest/v1/projects.locations.clusters
  (cluster name 1-40, `^[a-z]([-a-z0-9]*[a-z0-9])?$`); node pools the same, as the API's own
  error says: "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?)'".
- Cloud Run: https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services/create
  (serviceId: lowercase letters, digits and hyphens, begins with a letter, not ending with a
  hyphen, fewer than 50 characters).
- Cloud Functions 2nd gen: the console's rule, "start with a letter followed by up to 62
  letters, numbers, hyphens, or underscores and must end with a letter or a number"; each
  function runs as a Cloud Run service of the same name, lowercased, in its region, so the two
  share one namespace per project and region (https://cloud.google.com/functions/docs/concepts/version-comparison).
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from components.core.issues import Issue

MAX_LABELS = 64
LABEL_MAX = 63
_STACK = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_DNS = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_FUNCTION = re.compile(r"^[A-Za-z]([A-Za-z0-9_-]*[A-Za-z0-9])?$")
GKE_NAME_MAX, RUN_NAME_MAX, FUNCTION_NAME_MAX = 40, 49, 63


def _label_char(c: str) -> bool:
    return c in "_-" or c in "0123456789" or (c.isalpha() and not c.isupper())


def _label_start(c: str) -> bool:
    return c.isalpha() and not c.isupper()


def _label_suggestion(text: str) -> str:
    return "".join(c if _label_char(c) else "-" for c in text.lower())[:LABEL_MAX]


def label_key_issues(label_key: str, key: tuple | None = None) -> list[Issue]:
    path = key if key is not None else (label_key,)
    text = str(label_key)
    allowed = "1-63 lowercase letters (international ones too), digits, _ and -, starting with a lowercase letter"
    if not 1 <= len(text) <= LABEL_MAX:
        return [Issue(path, f"label keys are 1 to {LABEL_MAX} characters; this one has {len(text)}", label_key,
                      allowed=allowed, fix="shorten the key" if text else "give the label a key")]
    if not _label_start(text[0]) or not all(_label_char(c) for c in text):
        fix = _label_suggestion(text)
        fix = fix if _label_start(fix[:1]) else f"l-{fix}"[:LABEL_MAX]
        return [Issue(path, "is not a label key", label_key, allowed=allowed, fix=f"rename it, e.g. {fix!r}")]
    return []


def label_value_issues(value: object, key: tuple = ("value",)) -> list[Issue]:
    allowed = "0-63 lowercase letters (international ones too), digits, _ and -, as a string"
    if not isinstance(value, str):
        return [Issue(key, f"label values are strings, not {type(value).__name__}", value, allowed=allowed,
                      fix=f"quote it: \"{_label_suggestion(str(value).lower())}\"")]
    if len(value) > LABEL_MAX:
        return [Issue(key, f"label values are at most {LABEL_MAX} characters; this one has {len(value)}", value,
                      allowed=allowed, fix="shorten the value")]
    if not all(_label_char(c) for c in value):
        return [Issue(key, "is not a label value", value, allowed=allowed,
                      fix=f"use {_label_suggestion(value)!r}")]
    return []


def labels_issues(labels: Mapping[str, object], key: tuple = ("labels",), reserved: int = 0) -> list[Issue]:
    """Every label's key and value, and the count (`reserved` labels are added by mlinfra)."""
    issues = []
    room = MAX_LABELS - reserved
    if len(labels) > room:
        issues.append(Issue(key, f"has {len(labels)} labels; Google Cloud allows {MAX_LABELS}"
                            + (f" and mlinfra adds {reserved}" if reserved else ""), len(labels),
                            allowed=f"at most {room}", fix=f"remove labels until at most {room} remain"))
    for name, value in labels.items():
        issues += label_key_issues(name, key + (name,))
        issues += label_value_issues(value, key + (name,))
    return issues


def stack_name_issues(name: str, key: tuple = ("stack",)) -> list[Issue]:
    """A Pulumi stack name, bare or as org/project/stack."""
    text = str(name)
    allowed = "1-100 letters, digits, -, _ and . (optionally ORG/PROJECT/STACK)"
    parts = text.split("/")
    if len(parts) not in (1, 3):
        return [Issue(key, "a stack is named STACK or ORG/PROJECT/STACK", name, allowed=allowed,
                      fix="write the bare stack name, e.g. 'prod'")]
    bad = next((p for p in parts if not _STACK.match(p)), None)
    if bad is not None:
        fix = re.sub(r"[^A-Za-z0-9_.-]+", "-", bad)[:100].strip("-") or "dev"
        return [Issue(key, f"{bad!r} is not a Pulumi name: at most 100 of letters, digits, -, _ and .", name,
                      allowed=allowed, fix=f"rename it, e.g. {fix!r}")]
    return []


def _dns_name_issues(name: str, key: tuple, what: str, most: int) -> list[Issue]:
    text = str(name)
    allowed = f"1-{most} lowercase letters, digits and -, starting with a letter, not ending with -"
    issues = []
    if not 1 <= len(text) <= most:
        issues.append(Issue(key, f"{what} names are 1 to {most} characters; this one has {len(text)}", name,
                            allowed=allowed, fix="shorten it" if text else "give it a name"))
    if text and not _DNS.match(text):
        clean = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
        clean = clean if clean[:1].isalpha() else f"x-{clean}"
        issues.append(Issue(key, f"is not a {what} name", name, allowed=allowed,
                            fix=f"rename it, e.g. {clean[:most].rstrip('-')!r}"))
    return issues


def gke_cluster_name_issues(name: str, key: tuple = ("name",)) -> list[Issue]:
    return _dns_name_issues(name, key, "GKE cluster", GKE_NAME_MAX)


def node_pool_name_issues(name: str, key: tuple = ("name",)) -> list[Issue]:
    return _dns_name_issues(name, key, "GKE node pool", GKE_NAME_MAX)


def run_service_name_issues(name: str, key: tuple = ("name",)) -> list[Issue]:
    return _dns_name_issues(name, key, "Cloud Run service", RUN_NAME_MAX)


def function_name_issues(name: str, key: tuple = ("name",)) -> list[Issue]:
    """A Cloud Functions (2nd gen) name."""
    text = str(name)
    allowed = (f"1-{FUNCTION_NAME_MAX} letters, digits, - and _, starting with a letter and ending with a letter "
               "or digit")
    issues = []
    if not 1 <= len(text) <= FUNCTION_NAME_MAX:
        issues.append(Issue(key, f"function names are 1 to {FUNCTION_NAME_MAX} characters; this one has {len(text)}",
                            name, allowed=allowed, fix="shorten it" if text else "give it a name"))
    if text and not _FUNCTION.match(text):
        clean = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-_")
        issues.append(Issue(key, "is not a Cloud Functions name", name, allowed=allowed,
                            fix=f"rename it, e.g. {(clean if clean[:1].isalpha() else 'f-' + clean)!r}"))
    return issues


def run_service_of_function(name: str) -> str:
    """The Cloud Run service a 2nd gen function named `name` runs as."""
    return name.lower()


def serverless_name_clashes(services: Iterable[tuple[str, str]], functions: Iterable[tuple[str, str]],
                            key: tuple = ("services",)) -> list[Issue]:
    """Cloud Run services and 2nd gen functions, as (name, region), share one namespace per region:
    a function named like a service (in any case) in the same region collides with it."""
    taken: dict[tuple[str, str], str] = {}
    issues = []
    for kind, items in (("Cloud Run service", services), ("function", functions)):
        for name, region in items:
            run_name = run_service_of_function(name) if kind == "function" else name
            other = taken.get((run_name, region))
            if other is not None:
                issues.append(Issue(key, f"{kind} {name!r} would be Cloud Run service {run_name!r} in {region}, "
                                    f"which {other} already is", name,
                                    allowed="one name per Cloud Run service or function in each region",
                                    fix=f"rename one of them, e.g. {run_name}-2"))
            else:
                taken[(run_name, region)] = f"{kind} {name!r}"
    return issues
