"""Issues: what is wrong with an input, named by its key path, and the error that lists them.

A rule is a plain function (or a spec's `issues` method) returning `Issue`s with a key path
relative to the spec it checks. The stack-file loader prefixes the path with where the spec
sits in the file (`mlinfra:services[1]` + `resources.gpu.type`); a component used from any
other program raises `InputError` listing every issue at once, as pulumi-awsx's
InputPropertiesError does. `InputError` is a `pulumi.RunError`, which the Pulumi language host
prints without a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence, Union

import pulumi

PathPart = Union[str, int]
KeyPath = tuple[PathPart, ...]

_MISSING = object()


@dataclass(frozen=True)
class Issue:
    """One thing wrong with an input: where, what, the bad value, what is allowed, the fix."""

    path: KeyPath
    message: str
    value: Any = _MISSING
    allowed: str | None = None
    fix: str | None = None
    hint: str | None = None

    @property
    def has_value(self) -> bool:
        return self.value is not _MISSING

    def under(self, *prefix: PathPart) -> "Issue":
        return Issue(tuple(prefix) + self.path, self.message, self.value, self.allowed, self.fix, self.hint)


def format_path(path: Sequence[PathPart], root: str = "") -> str:
    """`("services", 1, "resources")` -> `services[1].resources` (prefixed by `root`)."""
    out = root
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out and not out.endswith(":") else str(part)
    return out


class InputError(pulumi.RunError, ValueError):
    """Raised by a component whose inputs break its rules; lists every issue."""

    def __init__(self, component: str, issues: Sequence[Issue]):
        self.component = component
        self.issues = list(issues)
        super().__init__(self._text())

    def _text(self) -> str:
        lines = [f"{self.component}: {len(self.issues)} invalid input(s)"]
        for issue in self.issues:
            where = format_path(issue.path) or "(args)"
            value = f" (got {issue.value!r})" if issue.has_value else ""
            lines.append(f"  {where}: {issue.message}{value}")
            if issue.allowed:
                lines.append(f"    allowed: {issue.allowed}")
            if issue.fix:
                lines.append(f"    fix: {issue.fix}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._text()


def raise_if_any(component: str, issues: Iterable[Issue]) -> None:
    found = list(issues)
    if found:
        raise InputError(component, found)


def first_per_key(issues: Iterable[Issue]) -> list[Issue]:
    """One message per key: the most specific rule (checked first) speaks for it."""
    seen, out = set(), []
    for issue in issues:
        if issue.path not in seen:
            seen.add(issue.path)
            out.append(issue)
    return out


def one_of(values: Iterable[Any]) -> str:
    return ", ".join(str(v) for v in values)


def duplicate_names(key: str, names: Sequence[str], what: str = "name") -> list[Issue]:
    """Each entry of a list keeps its own `name`; later duplicates are reported."""
    seen: dict[str, int] = {}
    issues = []
    for i, name in enumerate(names):
        if name in seen:
            issues.append(Issue((key, i, what), f"is already used by {key}[{seen[name]}]", name,
                                fix="give each entry its own name"))
        seen.setdefault(name, i)
    return issues
