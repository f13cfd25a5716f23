"""The base of every stack-file facing model, and the one pass that runs every spec's rules.

A spec is a strict pydantic model: camelCase keys, unknown keys rejected, frozen. It may
declare `issues(ctx)`: the rules of its own keys, with paths relative to itself, beside its
fields. `validate(spec, ctx)` walks a spec tree and runs each spec's rules exactly once, with
every path re-rooted where the spec sits; the stack-file loader calls it on the whole file,
and a component calls `ensure_valid` on a spec it is handed, which does nothing for a spec the
loader (or another component) has already validated in a context that agrees with its own.

Spec modules import no provider package, so the stack-file schema costs no provider import.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from pydantic import BaseModel, ConfigDict, PrivateAttr
from pydantic.alias_generators import to_camel

from components.core.issues import Issue, KeyPath, raise_if_any


@dataclass(frozen=True)
class Context:
    """What a spec's rules may know about the stack beyond the spec itself."""

    project: str = "mlinfra-project"
    region: str = "us-central1"
    stack: str = "dev"
    environment: str = "dev"
    root: Path = field(default_factory=Path.cwd)
    """The project root: trigger and pipeline sources are relative to it."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Facts a pattern adds for the specs below it (e.g. the stack's bucket roles)."""

    @property
    def prod(self) -> bool:
        return self.environment == "prod"

    def agrees_with(self, other: "Context") -> bool:
        """Whether every fact `other` states (a field not at its default) is the same here."""
        default = Context(root=self.root)
        return all(getattr(other, f.name) == getattr(self, f.name) for f in fields(Context)
                   if f.name != "root" and getattr(other, f.name) != getattr(default, f.name))


class Spec(BaseModel):
    """Base of every stack-file facing model: camelCase keys, unknown keys rejected.

    Python callers may use the snake_case field names; the stack-file loader validates with
    `by_name=False`, so the YAML accepts only the camelCase keys the reference documents.
    Attribute docstrings are the fields' descriptions: `infra.reference` reads them for the
    README and the JSON Schema (pydantic's own docstring parsing would run on every import).
    """

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        frozen=True,
    )
    _validated_in: Optional[Context] = PrivateAttr(None)

    def issues(self, ctx: Context) -> list[Issue]:
        """The rules of this spec's own keys (paths relative to it). None by default."""
        return []


def validate(spec: Spec, ctx: Context, path: KeyPath = ()) -> list[Issue]:
    """Every rule of `spec` and of the specs inside it, each run once, paths re-rooted."""
    found = [issue.under(*path) for issue in spec.issues(ctx)]
    for name, info in type(spec).model_fields.items():
        value = getattr(spec, name)
        key = info.alias or name
        if isinstance(value, Spec):
            found += validate(value, ctx, path + (key,))
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                if isinstance(item, Spec):
                    found += validate(item, ctx, path + (key, i))
        elif isinstance(value, dict):
            for k, item in value.items():
                if isinstance(item, Spec):
                    found += validate(item, ctx, path + (key, k))
    spec._validated_in = ctx
    return found


def ensure_valid(component: str, spec: Spec, ctx: Context,
                 also: Optional[Callable[[], list[Issue]]] = None) -> None:
    """Raise InputError listing every issue of a spec no earlier pass has validated, with the
    issues of `also`: the rules on arguments beside the spec (a resource name) that the pass
    which validated the spec checked too."""
    done = spec._validated_in
    if done is None or not done.agrees_with(ctx):
        raise_if_any(component, validate(spec, ctx) + (also() if also else []))
