"""The stack-key reference in the README, generated from the schema's own descriptions."""

from __future__ import annotations

import typing
from functools import lru_cache
from typing import Any, Iterator, Literal

from pydantic import BaseModel
from pydantic._internal._docs_extraction import extract_docstrings_from_cls
from pydantic_core import PydanticUndefined

from infra import config
from infra.config import MlinfraConfig

START, END = "<!-- reference:start -->", "<!-- reference:end -->"
RULES_START, RULES_END = "<!-- rules:start -->", "<!-- rules:end -->"


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return " \\| ".join(str(a) for a in args)
    if origin is typing.Union or str(origin) == "types.UnionType":
        return " \\| ".join(_type_name(a) for a in args if a is not type(None))
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return "map"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return getattr(annotation, "__name__", str(annotation))


def _tagged_members(annotation: Any) -> list[tuple[str, type[BaseModel]]]:
    """The (tag, model) members of a tagged union such as a service's platform."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    members = []
    for member in typing.get_args(annotation):
        tag = next((m.tag for m in getattr(member, "__metadata__", ()) if hasattr(m, "tag")), None)
        if tag is not None:
            members.append((tag, typing.get_args(member)[0]))
    return members


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model inside `annotation` (Optional/list unwrapped), and whether it sits in a list."""
    in_list = False
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        origin, args = typing.get_origin(annotation), [a for a in typing.get_args(annotation) if a is not type(None)]
        if origin is list:
            in_list, annotation = True, args[0]
        elif (origin is typing.Union or str(origin) == "types.UnionType") and len(args) == 1:
            annotation = args[0]
        else:
            break
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, in_list
    return None, in_list


def _default(field) -> str:
    if field.is_required():
        return "required"
    value = field.default if field.default is not PydanticUndefined else field.default_factory()
    if isinstance(value, BaseModel) or value is None or value in ({}, []):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return f"`{value}`"


@lru_cache(maxsize=None)
def field_docs(model: type[BaseModel]) -> dict[str, str]:
    """Each field's description: its attribute docstring, read from the source of the class that
    declares it. Read here, when a reference or schema is made, not on every import of a spec."""
    docs: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if isinstance(cls, type) and issubclass(cls, BaseModel) and cls is not BaseModel:
            try:
                docs.update(extract_docstrings_from_cls(cls, use_inspect=True))
            except (OSError, TypeError):  # no source (a class made at run time)
                continue
    return docs


def description_of(model: type[BaseModel], name: str) -> str:
    field = model.model_fields[name]
    return " ".join((field.description or field_docs(model).get(name, "")).split())


def describe_schema(schema: dict[str, Any], root: type[BaseModel]) -> dict[str, Any]:
    """A pydantic JSON Schema with every property's description filled from the docstrings."""
    models = {cls.__name__: cls for cls in _models_below(root)}
    for name, definition in [("", schema), *schema.get("$defs", {}).items()]:
        model = root if not name else models.get(definition.get("title", ""))
        if model is None:
            continue
        by_alias = {(f.alias or n): n for n, f in model.model_fields.items()}
        for key, prop in definition.get("properties", {}).items():
            if key in by_alias and "description" not in prop:
                text = description_of(model, by_alias[key])
                if text:
                    prop["description"] = text
    return schema


def _models_below(root: type[BaseModel]) -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []
    todo = [root]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.append(model)
        for field in model.model_fields.values():
            annotation = field.annotation
            members = _tagged_members(typing.get_args(annotation)[0] if typing.get_origin(annotation) is list else annotation)
            todo += [m for _, m in members]
            sub, _ = _model_of(annotation)
            if sub is not None:
                todo.append(sub)
    return seen


def rows(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, str, str, str]]:
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        sub, in_list = _model_of(field.annotation)
        description = description_of(model, name)
        annotation = typing.get_args(field.annotation)[0] if in_list else field.annotation
        members = _tagged_members(annotation)
        if members:
            yield key, "list of " + " or ".join(f"{tag} object" for tag, _ in members) if in_list else "object", \
                _default(field), description
            for tag, member in members:
                yield from rows(member, f"{key}[] ({tag})." if in_list else f"{key} ({tag}).")
            continue
        yield key, _type_name(field.annotation), _default(field), description
        if sub is not None:
            yield from rows(sub, f"{key}[]." if in_list else f"{key}.")


def markdown() -> str:
    lines = ["| key | type | default | what it does |", "|---|---|---|---|",
             "| `gcp:project` | str | required | The Google Cloud project (the provider's own key). |",
             "| `gcp:region` | str | required | The region of every regional resource (the provider's own key). |"]
    for key, type_, default, description in rows(MlinfraConfig, "mlinfra:"):
        lines.append(f"| `{key}` | {type_} | {default} | {description} |")
    from infra.aws_config import AwsMlinfraConfig

    lines += ["", "On AWS (`mlinfra:cloud: aws`), a stack has these keys instead:", "",
              "| key | type | default | what it does |", "|---|---|---|---|",
              "| `aws:region` | str | required | The region of every resource (the provider's own key). |"]
    for key, type_, default, description in rows(AwsMlinfraConfig, "mlinfra:"):
        if key.startswith("mlinfra:services[] (") and not key.startswith("mlinfra:services[] (eks)"):
            continue  # the other platforms' keys are listed above; an AWS stack runs services on eks
        lines.append(f"| `{key}` | {type_} | {default} | {description} |")
    from infra.bootstrap_config import BootstrapConfig

    lines += ["", "The bootstrap stack (`mlinfra:pattern: bootstrap`, see [The bootstrap stack](#the-bootstrap-stack)) "
              "has these keys:", "", "| key | type | default | what it does |", "|---|---|---|---|",
              "| `gcp:project` | str | required with Google Cloud stacks | The workload identity pool's project. |",
              "| `aws:region` | str | required with AWS stacks | The region the AWS provider uses (IAM is global). |"]
    for key, type_, default, description in rows(BootstrapConfig, "mlinfra:"):
        lines.append(f"| `{key}` | {type_} | {default} | {description} |")
    return "\n".join(lines)


def rules_markdown() -> str:
    from policy.rules import RULES

    lines = ["| ID | what it checks | reference |", "|---|---|---|"]
    lines += [f"| `{rule.id}` | {rule.title} | {rule.reference} |" for rule in RULES]
    return "\n".join(lines)


def _between(text: str, start: str, end: str, body: str) -> str:
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def replace_in(text: str) -> str:
    """The README with its generated tables (stack keys, guardrail rules) rebuilt."""
    return _between(_between(text, START, END, markdown()), RULES_START, RULES_END, rules_markdown())


def json_schema(cloud: str = "gcp") -> dict[str, Any]:
    """JSON Schema of the `config:` block of a stack file on `cloud`, for editor autocomplete."""
    if cloud == "aws":
        from infra.aws_config import AwsMlinfraConfig as model
    elif cloud == "bootstrap":
        from infra.bootstrap_config import BootstrapConfig as model
    else:
        model = MlinfraConfig
    inner = describe_schema(model.model_json_schema(by_alias=True), model)
    defs = inner.pop("$defs", {})
    properties = {f"{config.NAMESPACE}:{k}": v for k, v in inner["properties"].items()}
    if cloud == "aws":
        properties["aws:region"] = {"type": "string", "description": "AWS region, e.g. us-east-1."}
        provider_keys = ["aws:region"]
    elif cloud == "bootstrap":
        properties["gcp:project"] = {"type": "string", "description": "The workload identity pool's project."}
        properties["aws:region"] = {"type": "string", "description": "AWS region (with AWS stacks)."}
        provider_keys = []
    else:
        properties["gcp:project"] = {"type": "string", "description": "Google Cloud project ID."}
        properties["gcp:region"] = {"type": "string", "description": "Google Cloud region, e.g. us-central1."}
        properties["aws:region"] = {"type": "string", "description": "AWS region, e.g. us-east-1 (AWS stacks only)."}
        provider_keys = ["gcp:project", "gcp:region"]
    required = [f"{config.NAMESPACE}:{k}" for k in inner.get("required", [])] + provider_keys
    config_schema = {"type": "object", "properties": properties, "required": required, "additionalProperties": True}
    dispatch = _platform_dispatch(properties, defs, cloud)
    if dispatch:
        config_schema["allOf"] = dispatch
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "mlinfra stack file",
        "type": "object",
        "properties": {
            "config": config_schema,
            "environment": {"description": "Pulumi ESC environments (not resolved by the offline plan)."},
            "encryptionsalt": {"type": "string"},
            "secretsprovider": {"type": "string"},
        },
        "$defs": defs,
    }


def _platform_dispatch(properties: dict[str, Any], defs: dict[str, Any], cloud: str) -> list[dict[str, Any]]:
    """Each `services[]` and `jobs[]` entry is the spec of its `platform`. The union's members differ
    in their `platform` constant, so an entry that names its platform matches one member (`anyOf`:
    `oneOf` would reject an entry without it, which matches several). An entry without `platform`
    is the spec of its pattern's default platform, as the loader reads it, and a named platform must
    be one of the pattern's: one if/then per pattern on `mlinfra:pattern` says both."""
    from infra.patterns.registry import AWS_PATTERNS, PATTERNS

    patterns = {"gcp": PATTERNS, "aws": AWS_PATTERNS}.get(cloud, {})
    pattern_key = f"{config.NAMESPACE}:pattern"
    rules: list[dict[str, Any]] = []
    for section in ("services", "jobs"):
        key = f"{config.NAMESPACE}:{section}"
        items = properties.get(key, {}).get("items", {})
        if "oneOf" not in items:
            continue  # not a union of platforms' specs (an AWS stack's jobs)
        items["anyOf"] = items.pop("oneOf")
        spec_of = {defs[m["$ref"].rsplit("/", 1)[-1]]["properties"]["platform"]["const"]: m["$ref"]
                   for m in items["anyOf"]}
        for pattern in patterns.values():
            platforms = pattern.platforms if section == "services" else pattern.job_platforms
            if section not in pattern.sections or not platforms:
                continue  # a section the pattern lacks is refused as that, whatever its entries
            entry = {"if": {"required": ["platform"]},
                     "then": {"properties": {"platform": {"enum": list(platforms)}}},
                     "else": {"$ref": spec_of[platforms[0]]}}
            rules.append({"if": {"properties": {pattern_key: {"const": pattern.name}}, "required": [pattern_key]},
                          "then": {"properties": {key: {"items": entry}}}})
    return rules
