"""Default labels, applied in one place: a transformation on the pattern's top component.

Pulumi passes a component's transformations down to every child, so each resource whose
class takes Google Cloud `labels` (or a GKE cluster's `resource_labels`, or AWS `tags`)
receives the stack's labels, merged under any labels the resource sets itself.
"""

from __future__ import annotations

import inspect
import re
from functools import lru_cache
from typing import Mapping, Optional

import pulumi

from components.core.issues import Issue

_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")

# Resource arguments that carry cloud labels, by provider (the token's first part). On GCP a
# `tags` argument means network or resource-manager tags, never labels.
_LABEL_ARGS = {"gcp": ("user_labels", "labels", "resource_labels"), "aws": ("tags",)}
_NO_LABELS = ("gcp:monitoring/metricDescriptor:MetricDescriptor",)
"""Types whose `labels` argument is something else (a metric descriptor's label keys)."""


def label_issues(labels: Mapping[str, str]) -> list[Issue]:
    """Google Cloud's rules: keys start with a lowercase letter; both use [a-z0-9_-], <= 63."""
    issues = []
    if len(labels) > 60:
        issues.append(Issue((), "too many labels: Google Cloud allows 64 and mlinfra adds 4",
                            len(labels), fix="remove labels until at most 60 remain"))
    for key, value in labels.items():
        if not _KEY.match(str(key)):
            issues.append(Issue((key,), "label key is not valid", key,
                                allowed="lowercase letters, digits, _ and -, starting with a letter, at most 63",
                                fix=f"rename the label, e.g. {_suggest(str(key))!r}"))
        if not isinstance(value, str) or not _VALUE.match(value):
            issues.append(Issue((key,), "label value is not valid", value,
                                allowed="lowercase letters, digits, _ and -, at most 63, as a string",
                                fix=f"use {_suggest(str(value))!r} (quote numbers: \"4711\")"))
    return issues


def override_issues(labels: Mapping[str, str], mlinfra: Mapping[str, str]) -> list[Issue]:
    """The stack's labels may not change the ones mlinfra sets (environment, stack, pattern,
    managed-by): the guardrails and the plan read them, so `environment: dev` on a prod stack
    would switch its prod rules off. Writing the same value is allowed."""
    return [Issue((key,), f"is set by mlinfra to {mlinfra[key]!r}, and the guardrails read it", value,
                  allowed=f"{mlinfra[key]!r}, or a key other than {', '.join(mlinfra)}",
                  fix=f"remove labels.{key}" + (" (set mlinfra:environment instead)" if key == "environment" else "")
                      + ", or use another key, e.g. " + f"{key}-label")
            for key, value in labels.items() if key in mlinfra and value != mlinfra[key]]


def _suggest(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "-", text.lower())[:63]


def default_labels(environment: str, stack: str, pattern: str,
                   extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """The labels every labelled resource gets; the stack's own `labels` win on a clash."""
    base = {
        "environment": environment,
        "stack": _suggest(stack),
        "pattern": pattern,
        "managed-by": "mlinfra",
    }
    return {**base, **dict(extra or {})}


@lru_cache(maxsize=None)
def label_argument(resource_class: type, type_token: str) -> Optional[str]:
    """The argument of `resource_class` that takes cloud labels, or None."""
    init = getattr(resource_class, "_internal_init", None)
    if init is None:
        return None
    params = inspect.signature(init).parameters
    if type_token in _NO_LABELS:
        return None
    # Cloud Monitoring's resources take user labels as `user_labels`; a notification channel's
    # `labels` are its type's settings (an email address), never ours.
    for name in _LABEL_ARGS.get(type_token.split(":", 1)[0], ()):
        if name in params:
            return name
    return None


@lru_cache(maxsize=None)
def type_takes_labels(type_token: str) -> bool:
    """Whether the provider class behind `gcp:module/name:Class` has a labels argument."""
    import importlib

    parts = type_token.split(":")
    if len(parts) != 3 or parts[0] not in _LABEL_ARGS:
        return False
    try:
        module = importlib.import_module(f"pulumi_{parts[0]}.{parts[1].split('/')[0]}")
        return label_argument(getattr(module, parts[2]), type_token) is not None
    except (ImportError, AttributeError):
        return False


def labels_transformation(labels: Mapping[str, str]) -> pulumi.ResourceTransformation:
    """A transformation adding `labels` to every child resource that takes labels."""
    defaults = dict(labels)

    def transform(args: pulumi.ResourceTransformationArgs) -> Optional[pulumi.ResourceTransformationResult]:
        if not isinstance(args.resource, pulumi.CustomResource):
            return None
        arg = label_argument(type(args.resource), args.type_)
        if arg is None:
            return None
        own = args.props.get(arg) or {}
        props = dict(args.props)
        props[arg] = pulumi.Output.from_input(own).apply(lambda mine: {**defaults, **(mine or {})}) \
            if isinstance(own, pulumi.Output) else {**defaults, **own}
        return pulumi.ResourceTransformationResult(props, args.opts)

    return transform
