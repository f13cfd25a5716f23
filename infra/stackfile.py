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

    Like Go's YAML reader (which Pulumi uses), a key written twice in one mapping is an error
    (PyYAML would keep the second silently), and nesting deeper than any stack file needs is
    refused before Python's recursion limit is reached.
    """

    _depth = 0

    def compose_node(self, parent, index):  # type: ignore[override]
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise TooDeep(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], yaml.Node] = {}
            for key_node, _ in node.value:
                # `<<: *anchor` merges keys that the mapping's own keys may override: not a duplicate.
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                ident = (key_node.tag, key_node.value)
                if ident in first:
                    raise DuplicateKey(key_node.value, first[ident].start_mark.line + 1, key_node.start_mark.line + 1)
                first[ident] = key_node
        return super().construct_mapping(node, deep=deep)


MAX_DEPTH = 32
"""Nesting levels a stack file may have; the deepest real key (a service's probe) is at 6."""


class DuplicateKey(yaml.YAMLError):
    def __init__(self, key: str, first_line: int, second_line: int):
        self.key, self.first_line, self.second_line = key, first_line, second_line
        super().__init__(f"{key} is written twice")


class TooDeep(yaml.YAMLError):
    def __init__(self, mark: yaml.Mark):
        self.line = mark.line + 1
        super().__init__(f"nested more than {MAX_DEPTH} levels deep")


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
    data = read_yaml_file(root / "Pulumi.yaml", "Pulumi.yaml")
    data = data if isinstance(data, dict) else {}
    return Project(
        root=root,
        name=str(data.get("name", "mlinfra")),
        main=root / str(data.get("main", ".")),
        stack_dir=root / str(data.get("stackConfigDir", ".")),
    )


class StackFileError(Exception):
    """A stack file that is not readable YAML of the expected shape (a user error)."""


def read_yaml_file(path: Path, name: str) -> Any:
    """A YAML file as Pulumi reads it; StackFileError, naming the line and the fix, when it is not."""
    try:
        data = load_yaml(path.read_bytes().decode("utf-8")) or {}
    except UnicodeDecodeError as error:
        raise StackFileError(f"{name}: not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    except DuplicateKey as error:
        where = (f"twice on line {error.first_line}" if error.first_line == error.second_line
                 else f"twice in one mapping, at line {error.first_line} and line {error.second_line}")
        raise StackFileError(f"{name}: the key {error.key} is written {where}; Pulumi refuses the file (other YAML "
                             f"readers keep only the second). Fix: keep one of them, merging their values") from None
    except TooDeep as error:
        raise StackFileError(f"{name}: nested more than {MAX_DEPTH} levels deep at line {error.line}; no stack file "
                             f"key is deeper than 6. Fix: check the indentation or brackets there") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise StackFileError(f"{name}: not valid YAML{where}: {error.problem}. Fix: check that line's indentation "
                             f"(spaces, not tabs) and quote a value that holds \": \" or starts with "
                             f"{{ [ * & ! % @ or `") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{name}: not valid YAML: {error}") from None
    except ValueError as error:  # e.g. an integer of thousands of digits
        raise StackFileError(f"{name}: a value cannot be read: {str(error).split(';')[0]}") from None
    return data


def read_stack_config(path: Path, display: Optional[str] = None) -> dict[str, Any]:
    """The `config:` mapping of a stack file, values as written (objects stay objects)."""
    name = display or str(path)
    data = read_yaml_file(path, name)
    if not isinstance(data, dict):
        raise StackFileError(f"{name}: the file must be a mapping with a `config:` key")
    loose = [str(key) for key in data if ":" in str(key)]
    if loose and "config" not in data:
        raise StackFileError(f"{name}: {', '.join(loose[:3])}{', ...' if len(loose) > 3 else ''} "
                             f"{'is' if len(loose) == 1 else 'are'} at the top of the "
                             f"file, but Pulumi reads stack settings only under `config:`, so it would see none of "
                             f"them. Fix: add a line `config:` at the top and indent every key below it by two spaces")
    if loose:
        raise StackFileError(f"{name}: {', '.join(loose[:3])} {'is' if len(loose) == 1 else 'are'} beside `config:`, "
                             f"where Pulumi ignores {'it' if len(loose) == 1 else 'them'}. Fix: indent "
                             f"{'it' if len(loose) == 1 else 'them'} under `config:`")
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


_STACK_FILE_NAME = re.compile(r"^(?:.*/)?Pulumi\.([^/]+)\.ya?ml$")


def stack_argument(value: str) -> str:
    """A command's `--stack`: a stack name, or its file's path (`stacks/Pulumi.dev.yaml`), taken as
    the name it holds, as one would paste it from a shell's completion."""
    match = _STACK_FILE_NAME.match(value.strip())
    return match.group(1) if match else value
