"""Config errors as a person reads them: file, key path as written, bad value, allowed, fix.

ConfigError is a `pulumi.RunError`, which the Pulumi language host prints without a
traceback; the CLI does the same unless MLINFRA_DEBUG=1.
"""

from __future__ import annotations

import difflib
import typing
from typing import Any, Optional, Sequence

import pulumi
from pydantic import BaseModel, ValidationError

from components.core.issues import Issue, format_path
from infra.platforms.registry import PLATFORMS

NAMESPACE = "mlinfra"


class ConfigError(pulumi.RunError):
    def __init__(self, file: str, issues: Sequence[Issue]):
        self.file = file
        self.issues = list(issues)
        super().__init__(format_issues(file, self.issues))


class ProviderKey(str):
    """The first part of an issue's path when it concerns a key outside the mlinfra namespace
    (`gcp:project`). A type, not a guess from the text: `mlinfra:gcp:project` is an mlinfra key."""


def key_path(path: Sequence[Any]) -> str:
    """`("services", 1, "resources")` -> `mlinfra:services[1].resources`; provider keys stay as is."""
    if path and isinstance(path[0], ProviderKey):
        return format_path(path[1:], root=str(path[0]))
    return format_path(path, root=f"{NAMESPACE}:")


def format_issues(file: str, issues: Sequence[Issue]) -> str:
    count = f"{len(issues)} error" + ("s" if len(issues) != 1 else "")
    lines = [f"{file}: {count} in the stack file", ""]
    for issue in issues:
        value = f" (got {_show(issue.value)})" if issue.has_value else ""
        lines.append(f"  {key_path(issue.path)}: {issue.message}{value}")
        if issue.hint:
            lines.append(f"    {issue.hint}")
        if issue.allowed:
            lines.append(f"    allowed: {issue.allowed}")
        if issue.fix:
            lines.append(f"    fix: {issue.fix}")
        lines.append("")
    lines.append("Nothing was planned or created. `mlinfra schema` prints every key; the README has the reference.")
    return "\n".join(lines)


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def issues_from_validation_error(error: ValidationError, model: type[BaseModel]) -> list[Issue]:
    """Turn pydantic's errors into Issues, with "did you mean" for unknown keys."""
    issues = []
    for err in error.errors(include_url=False):
        raw = tuple(err["loc"])
        loc = tuple(part for i, part in enumerate(raw) if not _is_union_tag(raw, i))
        kind, value = err["type"], err.get("input")
        if kind == "extra_forbidden":
            known = _known_keys(model, raw[:-1])
            close = [k for k in known if k.lower() == str(loc[-1]).lower()] or \
                difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
            hint = f"did you mean {key_path(loc[:-1] + (close[0],))}?" if close else None
            elsewhere = [] if close else _platforms_having(model, raw)
            if elsewhere:
                issues.append(_other_platform_issue(loc, raw, elsewhere, known))
                continue
            issues.append(Issue(loc, "unknown key", hint=hint, allowed=", ".join(known) or None,
                                fix=f"rename it to {close[0]}" if close else "remove it"))
        elif kind == "missing":
            issues.append(Issue(loc, "is required", fix="add it"))
        elif kind == "literal_error":
            choices = [c.strip().strip("'") for c in
                       err.get("ctx", {}).get("expected", "").replace(" or ", ", ").split(",") if c.strip()]
            text = str(value).lower()
            # `production` for `prod`, `development` for `dev`: a word the allowed value abbreviates.
            close = [c for c in choices if c.lower() == text] or \
                [c for c in choices if len(c) >= 3 and len(text) > len(c) and text.startswith(c.lower())][:1] or \
                difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
            issues.append(Issue(loc, "is not one of the allowed values", value, allowed=", ".join(choices),
                                hint=f"did you mean {close[0]}?" if close else None,
                                fix=f"set it to {close[0]}" if close else "use one of the allowed values"))
        elif kind in ("model_type", "dict_type", "model_attributes_type"):
            issues.append(Issue(loc, "must be a mapping of keys", value,
                                allowed=", ".join(_known_keys(model, raw)) or None, fix="write it as `key: value` lines"))
        elif kind == "union_tag_invalid":
            tags = [t.strip().strip("'") for t in str(err.get("ctx", {}).get("expected_tags", "")).split(",")]
            issues.append(Issue(loc + ("platform",), "is not one of the allowed values", err.get("ctx", {}).get("tag"),
                                allowed=", ".join(tags), fix="use one of the allowed values"))
        elif kind == "list_type":
            issues.append(Issue(loc, "must be a list", value, fix="write each entry on a `- ` line"))
        elif kind in _BOUND_ERRORS:
            bound = err.get("ctx", {})
            allowed = ", ".join(f"{_BOUND_WORDS[k]} {v}" for k, v in bound.items() if k in _BOUND_WORDS)
            issues.append(Issue(loc, "is out of range", value, allowed=allowed or None, fix="change the number to fit the range"))
        elif kind == "string_pattern_mismatch":
            issues.append(Issue(loc, "has a form that is not allowed", value,
                                allowed=f"text matching {err.get('ctx', {}).get('pattern')}", fix="change the value to match"))
        else:
            issues.append(Issue(loc, err["msg"][0].lower() + err["msg"][1:], value, fix=_fix_for(kind, err)))
    # A misspelt required key (`On:` for `on:`) is one mistake: keep the "did you mean", not also "is required".
    renamed = {i.path[:-1] + (i.fix[len("rename it to "):],) for i in issues
               if i.message == "unknown key" and i.fix and i.fix.startswith("rename it to ")}
    return [i for i in issues if not (i.message == "is required" and i.path in renamed)]


_BOUND_ERRORS = ("greater_than_equal", "less_than_equal", "greater_than", "less_than")
_BOUND_WORDS = {"ge": "at least", "le": "at most", "gt": "more than", "lt": "less than"}


def _fix_for(kind: str, err: dict) -> Optional[str]:
    ctx = err.get("ctx", {})
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "write a whole number"
    if kind in ("float_parsing", "float_type"):
        return "write a number"
    if kind in ("bool_parsing", "bool_type"):
        return "write true or false"
    if kind in ("string_type",):
        return "quote the value"
    if kind == "string_too_long":
        return f"shorten it to {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return f"write at least {ctx.get('min_length')} characters"
    return None


# The schema's tagged unions: each entry of `services` and of `jobs` by its platform. pydantic
# puts the tag in error locations right after the entry's index.
UNION_TAGS = tuple(PLATFORMS)
UNION_LISTS = ("services", "jobs")


def _is_union_tag(raw: tuple, i: int) -> bool:
    """Whether raw[i] is the union tag of a `services` or `jobs` entry. Anywhere else a part is a key as
    written, whatever it is called (a key may well be named `gke`)."""
    return (i >= 2 and raw[i] in UNION_TAGS and isinstance(raw[i - 1], int) and raw[i - 2] in UNION_LISTS)


def _platforms_having(model: type[BaseModel], raw: tuple) -> list[str]:
    """For an unknown key of a service or job itself (`services.0.cloudrun.placement`), the other
    platforms of the same list whose entries have that key (`gke`)."""
    if len(raw) < 4 or not _is_union_tag(raw, len(raw) - 2):
        return []
    entry, tag, key = raw[:-2], raw[-2], raw[-1]
    # A platform the union lacks has no keys (`_known_keys` finds no member for its tag).
    return [t for t in UNION_TAGS if t != tag and key in _known_keys(model, entry + (t,))]


def _other_platform_issue(loc: tuple, raw: tuple, elsewhere: list[str], known: list[str]) -> Issue:
    """`placement` on a Cloud Run service: the key is GKE's (the same cloud: set platform), or EKS's
    (another cloud's: remove it)."""
    cloud = PLATFORMS[raw[-2]].cloud
    here = [p for p in elsewhere if PLATFORMS[p].cloud == cloud]
    section = raw[-4]
    if here:
        return Issue(loc, f"is a key of {' and '.join(here)} {section}; this one runs on {raw[-2]}",
                     allowed=", ".join(known) or None,
                     fix=f"remove it, or set `platform: {here[0]}` on it where the pattern runs {section} on {here[0]}")
    clouds = sorted({PLATFORMS[p].cloud for p in elsewhere})
    return Issue(loc, f"is a key of {' and '.join(elsewhere)} {section}, in {' and '.join(clouds)} stacks; this one "
                 f"runs on {raw[-2]}", allowed=", ".join(known) or None, fix="remove it")


def _known_keys(model: type[BaseModel], path: Sequence[Any]) -> list[str]:
    """The keys allowed at `path` below `model`, as written in the stack file; `path` may hold
    union tags (as pydantic reports them), which pick the union member."""
    current: Any = model
    for i, part in enumerate(path):
        current = _unwrap(current)
        if isinstance(part, int):
            continue
        if _is_union_tag(tuple(path), i) and typing.get_origin(current) is typing.Union:
            current = _member(current, part)
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next((f for n, f in current.model_fields.items() if (f.alias or n) == part), None)
            if field is None:
                return []
            current = field.annotation
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def _member(union: Any, tag: str) -> Any:
    for member in typing.get_args(union):
        for meta in getattr(member, "__metadata__", ()):
            if getattr(meta, "tag", None) == tag:
                return typing.get_args(member)[0]
    return union


def _unwrap(annotation: Any) -> Any:
    """Optional[X], list[X], dict[str, X], Annotated[X, ...] -> X, until a model, a tagged union
    or a plain type remains."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        origin = typing.get_origin(annotation)
        if origin in (list, tuple, set, typing.Union) or str(origin) == "types.UnionType":
            if len(args) == 1 or origin in (list, tuple, set):
                annotation = args[0]
                continue
        if origin is dict and len(args) == 2:
            annotation = args[1]
            continue
        return annotation
