"""Write the hand-written Pulumi program that registers what a plan registered.

The benchmark's baseline is the program a user would write without mlinfra: the provider's
typed classes (`pulumi_gcp.storage.Bucket(...)`, `pulumi_kubernetes.apps.v1.Deployment(...)`)
with snake_case keyword arguments, nested objects as the provider's `...Args` classes, and
the same parents, dependencies, protect and providers as resource options. It is generated
from a plan's recording:

* type token -> class, through the registry the provider packages fill when imported
  (`pulumi.runtime.rpc._RESOURCE_MODULES`; `pulumi:providers:<pkg>` is `pulumi_<pkg>.Provider`);
* camelCase inputs -> keyword arguments, through the class's own `<Class>Args` input type
  (its property names and type hints): a field whose type is an input type becomes that
  class, a Sequence a list, and a Mapping (labels, env, annotations) keeps its keys as written;
* secret inputs -> `pulumi.Output.secret(...)`, assets and archives -> `pulumi.FileArchive(...)`
  and friends.

Values a component computed from other resources' outputs are written as the literals the plan
resolved them to; the dependency they carried is kept as `depends_on`, so every resource still
waits for the ones it needs before it registers.
"""

from __future__ import annotations

import collections.abc
import importlib
import json
import py_compile
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270"
STACK_TYPE = "pulumi:pulumi:Stack"
_SEQUENCES = (list, collections.abc.Sequence, typing.Sequence, typing.List)  # noqa: UP006
_MAPPINGS = (dict, collections.abc.Mapping, typing.Mapping, typing.Dict)  # noqa: UP006


class NotConvertible(Exception):
    """An input the typed classes cannot take as recorded (a bug here, or in the recording)."""


# --------------------------------------------------------------------------------------------
# Classes and their fields.
# --------------------------------------------------------------------------------------------

def resource_class(type_token: str) -> type:
    """The provider's Python class for a resource type token."""
    if type_token.startswith("pulumi:providers:"):
        package = type_token.split(":")[2]
        return importlib.import_module(f"pulumi_{package}").Provider
    from pulumi.runtime import rpc

    package, module, _ = type_token.split(":")
    importlib.import_module(f"pulumi_{package}")  # fills the registry
    for registered in rpc._RESOURCE_MODULES.get(f"{package}:{module}", []):
        info = getattr(registered, "mod_info", None) or {}
        if type_token in info.get("classes", {}):
            return getattr(importlib.import_module(info["fqn"]), info["classes"][type_token])
    if package == "kubernetes":
        # A custom resource's type (a Gateway, a HealthCheckPolicy): the provider's generic
        # class, which takes apiVersion, kind, metadata and spec.
        return importlib.import_module("pulumi_kubernetes.apiextensions").CustomResource
    raise NotConvertible(f"no provider class registers the type {type_token}")


def args_class(cls: type) -> type:
    """The `<Class>Args` input type beside a resource class (its keyword arguments)."""
    module = sys.modules[cls.__module__]
    # Providers name a few of them `<Class>InitArgs` where `<Class>Args` is taken: pulumi_kubernetes's
    # Secret, and pulumi-aws 7's split S3 resources, whose module also star-imports the legacy
    # Bucket's nested `BucketServerSideEncryptionConfigurationArgs` from `_inputs`. The one the
    # resource's module defines itself is its keyword arguments.
    candidates = [getattr(module, f"{cls.__name__}{suffix}", None) for suffix in ("InitArgs", "Args")]
    own = [c for c in candidates if c is not None and c.__module__ == cls.__module__]
    found = own[0] if own else next((c for c in candidates if c is not None), None)
    if found is None:
        raise NotConvertible(f"{cls.__module__}.{cls.__name__} has no {cls.__name__}Args")
    return found


@dataclass(frozen=True)
class Fields:
    """An input type's fields: wire (camelCase) name -> (keyword name, type hint)."""
    cls: type
    by_wire_name: dict[str, tuple[str, Any]]


_FIELDS: dict[type, Fields] = {}


def fields_of(input_type: type) -> Fields:
    if input_type not in _FIELDS:
        from pulumi import _types

        names = {wire: py for py, wire in _types.input_type_py_to_pulumi_names(input_type).items()}
        hints = _types.input_type_types(input_type)
        _FIELDS[input_type] = Fields(input_type, {wire: (py, hints.get(wire, Any)) for wire, py in names.items()})
    return _FIELDS[input_type]


def _alternatives(hint: Any) -> list[Any]:
    """The shapes a hint allows once Optional, Input (Awaitable, Output) and the TypedDict twin
    of an input type (`...ArgsDict`) are taken away."""
    from pulumi import Output

    if typing.get_origin(hint) is typing.Union:
        out = []
        for arg in typing.get_args(hint):
            out += _alternatives(arg)
        return out
    origin = typing.get_origin(hint)
    if hint is type(None) or origin in (collections.abc.Awaitable, typing.Awaitable) or origin is Output \
            or hint is Output or isinstance(hint, (typing.ForwardRef, str)) or typing.is_typeddict(hint):
        return []
    return [hint]


def _is_input_type(hint: Any) -> bool:
    from pulumi import _types

    return isinstance(hint, type) and _types.is_input_type(hint)


def shape_for(hint: Any, value: Any) -> tuple[str, Any]:
    """How to write `value` for a field of type `hint`: ("object", input type), ("list", item
    hint), ("map", value hint) or ("literal", None)."""
    for alt in _alternatives(hint):
        origin = typing.get_origin(alt)
        args = typing.get_args(alt)
        if isinstance(value, dict) and _is_input_type(alt):
            return "object", alt
        if isinstance(value, dict) and origin in _MAPPINGS:
            return "map", args[1] if len(args) == 2 else Any
        if isinstance(value, list) and origin in _SEQUENCES:
            return "list", args[0] if args else Any
    return "literal", None


# --------------------------------------------------------------------------------------------
# Values as source.
# --------------------------------------------------------------------------------------------

def _public_path(cls: type) -> str:
    """The shortest name a user imports the class by: `pulumi_gcp.storage.Bucket`, not
    `pulumi_gcp.storage.bucket.Bucket`; `pulumi_gcp.storage.BucketVersioningArgs`, not
    `pulumi_gcp.storage._inputs.BucketVersioningArgs`."""
    parts = cls.__module__.split(".")
    for n in range(1, len(parts) + 1):
        candidate = ".".join(parts[:n])
        module = sys.modules.get(candidate)
        if module is not None and type(module).__name__ != "_LazyModule" \
                and getattr(module, cls.__name__, None) is cls:
            return f"{candidate}.{cls.__name__}"
    raise NotConvertible(f"{cls.__module__}.{cls.__name__} is not importable by a public name")


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE


def value_source(value: Any, hint: Any, where: str) -> str:
    """Python source for one input value of type `hint`."""
    import pulumi

    if is_secret(value):
        return f"pulumi.Output.secret({value_source(value.get('value'), hint, where)})"
    if isinstance(value, pulumi.Resource):
        raise NotConvertible(f"{where}: a resource reference; the baseline writes literals only")
    if isinstance(value, (pulumi.Asset, pulumi.Archive)):
        return asset_source(value, where)
    shape, inner = shape_for(hint, value)
    if shape == "object":
        return f"{_public_path(inner)}({kwargs_source(value, fields_of(inner), where)})"
    if shape == "list":
        return "[" + ", ".join(value_source(v, inner, f"{where}[{i}]") for i, v in enumerate(value)) + "]"
    if shape == "map":  # keys as written: label keys, env names, annotations
        return "{" + ", ".join(f"{k!r}: {value_source(v, inner, f'{where}.{k}')}" for k, v in value.items()) + "}"
    return literal_source(value, where)


def literal_source(value: Any, where: str) -> str:
    """A value whose field is untyped (Any, a JSON blob): written exactly as recorded."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal_source(v, where) for v in value) + "]"
    if isinstance(value, dict):
        if is_secret(value):
            return f"pulumi.Output.secret({literal_source(value.get('value'), where)})"
        return "{" + ", ".join(f"{k!r}: {literal_source(v, where)}" for k, v in value.items()) + "}"
    return value_source(value, Any, where)


def asset_source(value: Any, where: str) -> str:
    import pulumi

    if isinstance(value, pulumi.FileAsset):
        return f"pulumi.FileAsset({str(value.path)!r})"
    if isinstance(value, pulumi.FileArchive):
        return f"pulumi.FileArchive({str(value.path)!r})"
    if isinstance(value, pulumi.StringAsset):
        return f"pulumi.StringAsset({value.text!r})"
    if isinstance(value, pulumi.RemoteAsset):
        return f"pulumi.RemoteAsset({value.uri!r})"
    if isinstance(value, pulumi.RemoteArchive):
        return f"pulumi.RemoteArchive({value.uri!r})"
    if isinstance(value, pulumi.AssetArchive):
        inner = ", ".join(f"{k!r}: {asset_source(v, f'{where}.{k}')}" for k, v in value.assets.items())
        return f"pulumi.AssetArchive({{{inner}}})"
    raise NotConvertible(f"{where}: an asset of type {type(value).__name__}")


def kwargs_source(inputs: dict[str, Any], fields: Fields, where: str) -> str:
    """`snake_case=value, ...` for a dict of camelCase inputs of one input type."""
    parts = []
    for wire, value in inputs.items():
        if wire not in fields.by_wire_name:
            raise NotConvertible(f"{where}: {fields.cls.__name__} has no field {wire!r}")
        py, hint = fields.by_wire_name[wire]
        parts.append(f"{py}={value_source(value, hint, f'{where}.{wire}')}")
    return ", ".join(parts)


def provider_inputs(inputs: dict[str, Any], input_type: type) -> dict[str, Any]:
    """A provider's inputs as its constructor takes them: the SDK sends a provider every value
    that is not a string as JSON text (`enableServerSideApply: "true"`), so decode those."""
    fields = fields_of(input_type)
    out = {}
    for wire, value in inputs.items():
        hint = fields.by_wire_name.get(wire, (None, Any))[1]
        if isinstance(value, str) and str not in _alternatives(hint) and _alternatives(hint):
            value = json.loads(value)
        out[wire] = value
    return out


def to_kwargs(inputs: dict[str, Any], input_type: type) -> str:
    """The keyword arguments (as source) of a resource or nested object given its wire inputs."""
    return kwargs_source(inputs, fields_of(input_type), input_type.__name__)


# --------------------------------------------------------------------------------------------
# The program.
# --------------------------------------------------------------------------------------------

def _options_source(r: Any, names: dict[str, str], stack_urns: set[str]) -> str:
    opts = []
    if r.parent and r.parent not in stack_urns:
        opts.append(f"parent={names[r.parent]}")
    deps = [names[d] for d in dict.fromkeys(r.dependencies) if d in names]
    if deps:
        opts.append(f"depends_on=[{', '.join(deps)}]")
    provider_urn = r.provider.rsplit("::", 1)[0] if r.provider else ""
    if provider_urn in names:
        opts.append(f"provider={names[provider_urn]}")
    for flag in ("protect", "retain_on_delete", "delete_before_replace"):
        if getattr(r, flag):
            opts.append(f"{flag}=True")
    if r.ignore_changes:
        opts.append(f"ignore_changes={list(r.ignore_changes)!r}")
    return f"pulumi.ResourceOptions({', '.join(opts)})"


def resource_statements(registrations: list[Any]) -> tuple[list[str], list[str]]:
    """One statement per registration, in the order the engine received them (a resource's
    parent, dependencies and provider always came before it); and the packages imported."""
    stack_urns = {r.urn for r in registrations if r.type == STACK_TYPE}
    names: dict[str, str] = {}
    lines, packages = [], set()
    for i, r in enumerate(r for r in registrations if r.type != STACK_TYPE):
        var = f"r{i}"
        opts = _options_source(r, names, stack_urns)
        if not r.custom:
            lines.append(f"{var} = pulumi.ComponentResource({r.type!r}, {r.name!r}, None, opts={opts})")
            lines.append(f"{var}.register_outputs({{}})")
        else:
            cls = resource_class(r.type)
            packages.add(cls.__module__.split(".")[0])
            inputs = r.inputs
            if r.type.startswith("pulumi:providers:"):
                inputs = provider_inputs(inputs, args_class(cls))
            kwargs = to_kwargs(inputs, args_class(cls))
            lines.append(f"{var} = {_public_path(cls)}({r.name!r}, opts={opts}{', ' + kwargs if kwargs else ''})")
        names[r.urn] = var
    return lines, sorted(packages)


MAIN = '''"""A hand-written Pulumi program registering what the plan of stack {stack} registers
({count} resources), with the providers' typed classes. Generated by bench/baseline.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pulumi  # noqa: E402
{tune}
import baseline_resources  # noqa: E402,F401 - registers every resource
'''

TUNE = ("sys.path.insert(0, {root!r})\n"
        "from infra import runtime; runtime.tune()  # noqa: E402,E702 - the plan's interpreter tuning\n")


def write_program(directory: Path, registrations: list[Any], stack: str, tuned: bool, project_root: Path) -> Path:
    """Write the program (its `__main__.py` and the module of resources, which Python caches
    compiled, as it caches mlinfra's modules) into `directory`; returns `__main__.py`."""
    lines, packages = resource_statements(registrations)
    directory.mkdir(parents=True, exist_ok=True)
    body = ['"""Every resource of the stack, as a user would write them."""', "", "import pulumi",
            *[f"import {p}" for p in packages], "", *lines, ""]
    module = directory / "baseline_resources.py"
    module.write_text("\n".join(body))
    py_compile.compile(str(module), doraise=True)  # as a project's modules are after one run
    main = directory / "__main__.py"
    count = sum(1 for r in registrations if r.type != STACK_TYPE)
    main.write_text(MAIN.format(stack=stack, count=count,
                                tune=TUNE.format(root=str(project_root)) if tuned else ""))
    return main

