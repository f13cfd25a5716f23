"""What every component spec shares: strict pydantic models and issues that name a key.

A rule is a plain function returning `Issue`s with a key path relative to the spec it checks.
The stack-file loader prefixes the path with where the spec sits in the file
(`mlinfra:services[1]` + `resources.gpu.type`); a component used from any other program raises
`InputError` listing every issue at once, as pulumi-awsx's InputPropertiesError does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence, Union

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

PathPart = Union[str, int]
Path = tuple[PathPart, ...]

_MISSING = object()


class Spec(BaseModel):
    """Base of every stack-file facing model: camelCase keys, unknown keys rejected.

    Python callers may use the snake_case field names; the stack-file loader validates with
    `by_name=False`, so the YAML accepts only the camelCase keys the reference documents.
    """

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        frozen=True,
        use_attribute_docstrings=True,
    )


@dataclass(frozen=True)
class Issue:
    """One thing wrong with an input: where, what, the bad value, what is allowed, the fix."""

    path: Path
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


@dataclass
class InputError(ValueError):
    """Raised by a component whose inputs break its rules; lists every issue."""

    component: str
    issues: list[Issue] = field(default_factory=list)

    def __str__(self) -> str:
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
