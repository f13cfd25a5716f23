"""Where the project and its stack files are, and how to read a stack file as Pulumi does."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml


class _Yaml12Loader(yaml.SafeLoader):
    """Stack files read as Pulumi's Go YAML reads them: YAML 1.2 booleans (only true/false) and
    dates left as text.

    PyYAML follows YAML 1.1, where `on`, `off`, `yes` and `no` are booleans (the trigger key
    `on:` would silently become `True:`) and `2026-01-01` is a date; Pulumi passes both as text.
    """


MAX_VALUES = 200_000


def _expanded_size(node: yaml.Node, seen: dict[int, int]) -> int:
    """How many values the document holds once its aliases are expanded, counted on the node
    graph (each shared node once), so a "billion laughs" file is refused before it is built."""
    if id(node) in seen:
        return seen[id(node)]
    seen[id(node)] = 1  # a node that contains itself counts once here
    if isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(child, seen) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, seen) + _expanded_size(v, seen) for k, v in node.value)
    else:
        size = 1
    seen[id(node)] = size
    return size


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def load_yaml(text: str) -> Any:
    loader = _Yaml12Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_VALUES:
            raise yaml.YAMLError(f"expands to more than {MAX_VALUES} values through its aliases (*name)")
        return loader.construct_document(node)
    finally:
        loader.dispose()


@dataclass(frozen=True)
class Project:
    root: Path
    name: str
    main: Path
    stack_dir: Path

    def stack_file(self, stack: str) -> Path:
        return self.stack_dir / f"Pulumi.{stack}.yaml"

    def display(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    def stacks(self) -> list[str]:
        return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in self.stack_dir.glob("Pulumi.*.yaml"))


class ProjectNotFound(Exception):
    pass


def find_project(start: Optional[Path] = None) -> Project:
    """The nearest directory at or above `start` holding Pulumi.yaml."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / "Pulumi.yaml").is_file():
            return read_project(directory)
    raise ProjectNotFound(f"no Pulumi.yaml in {here} or any directory above it; run mlinfra inside the project")


def read_project(root: Path) -> Project:
    data = load_yaml((root / "Pulumi.yaml").read_text()) or {}
    return Project(
        root=root,
        name=str(data.get("name", "mlinfra")),
        main=root / str(data.get("main", ".")),
        stack_dir=root / str(data.get("stackConfigDir", ".")),
    )


class StackFileError(Exception):
    """A stack file that is not readable YAML of the expected shape (a user error)."""


def read_stack_config(path: Path, display: Optional[str] = None) -> dict[str, Any]:
    """The `config:` mapping of a stack file, values as written (objects stay objects)."""
    name = display or str(path)
    try:
        data = load_yaml(path.read_bytes().decode("utf-8")) or {}
    except UnicodeDecodeError as error:
        raise StackFileError(f"{name}: not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise StackFileError(f"{name}: not valid YAML{where}: {error.problem}") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{name}: not valid YAML: {error}") from None
    except ValueError as error:  # e.g. an integer of thousands of digits
        raise StackFileError(f"{name}: a value cannot be read: {str(error).split(';')[0]}") from None
    if not isinstance(data, dict):
        raise StackFileError(f"{name}: the file must be a mapping with a `config:` key")
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{name}: `config:` must be a mapping of keys to values, e.g. `gcp:project: acme-ml-dev`")
    for key, value in config.items():
        try:
            json.dumps(value, default=str)
        except ValueError:
            raise StackFileError(f"{name}: the value of {key} contains itself (a YAML anchor used inside its own "
                                 f"definition); write the value out") from None
    return {str(key): value for key, value in config.items()}


def to_engine_config(config: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Config as the Pulumi CLI hands it to a program: strings, with objects JSON-encoded.

    Secure values cannot be decrypted offline; they become a placeholder and are marked secret.
    """
    values: dict[str, str] = {}
    secrets: list[str] = []
    for key, value in config.items():
        key = str(key)
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[key], secrets = "[secret]", secrets + [key]
        elif isinstance(value, str):
            values[key] = value
        else:
            values[key] = json.dumps(value, default=str)
    return values, secrets
