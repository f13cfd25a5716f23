"""Targeted edits of YAML text that keep every other byte: comments, quoting, flow or block style.

A YAML library that round-trips (ruamel.yaml) re-emits the whole file in its own layout; PyYAML
forgets comments. Instead, the file is composed into nodes with the loader `mlinfra validate`
uses, and each edit replaces, inserts or deletes only the characters of the nodes it changes,
found by their marks. The caller checks the result by parsing it again (`rollout` does: the
edited file must read as exactly the intended data).
"""

from __future__ import annotations

from typing import Optional

import yaml

from infra.stackfile import _Yaml12Loader


class EditError(Exception):
    """The text is laid out in a way a targeted edit cannot change safely (edit it by hand)."""


def compose(text: str) -> yaml.Node:
    loader = _Yaml12Loader(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if node is None:
        raise EditError("the file is empty")
    return node


def lookup(mapping: yaml.Node, key: str) -> Optional[tuple[yaml.Node, yaml.Node]]:
    """(key node, value node) of `key` in a mapping node; None when absent."""
    if not isinstance(mapping, yaml.MappingNode):
        return None
    for k, v in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, v
    return None


def tight_end(node: yaml.Node) -> int:
    """Where the node's own text ends: a block collection's end mark lies past the blank lines
    and comments that follow it (they belong to what comes next), so take its last leaf's."""
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        return tight_end(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return tight_end(node.value[-1])
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        raise EditError(f"line {node.start_mark.line + 1}: a block scalar (| or >) is not edited in place")
    return node.end_mark.index


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    """Just past the newline of the line holding `index` (the end of the text on the last line)."""
    found = text.find("\n", index)
    return len(text) if found < 0 else found + 1


def replace_value(text: str, value: yaml.Node, new: str) -> str:
    """Replace a scalar or flow value's text."""
    if isinstance(value, (yaml.MappingNode, yaml.SequenceNode)) and not value.flow_style:
        raise EditError(f"line {value.start_mark.line + 1}: only a scalar or a {{flow}} value is replaced in place")
    if isinstance(value, yaml.ScalarNode) and value.start_mark.index == value.end_mark.index:
        raise EditError(f"line {value.start_mark.line + 1}: an empty value is not replaced in place")
    return text[:value.start_mark.index] + new + text[tight_end(value):]


def add_key(text: str, mapping: yaml.Node, key: str, value: str) -> str:
    """Append `key: value` (value as flow text) as the mapping's last entry, in its style."""
    if not isinstance(mapping, yaml.MappingNode):
        raise EditError(f"line {mapping.start_mark.line + 1}: not a mapping")
    if mapping.flow_style:
        if not mapping.value:
            close = text.rindex("}", mapping.start_mark.index, mapping.end_mark.index)
            return text[:close] + f"{key}: {value}" + text[close:]
        end = tight_end(mapping.value[-1][1])
        return text[:end] + f", {key}: {value}" + text[end:]
    if not mapping.value:
        raise EditError(f"line {mapping.start_mark.line + 1}: an empty block mapping is not edited in place")
    first = mapping.value[0][0]
    indent = " " * first.start_mark.column
    for k, _ in mapping.value:
        if k.start_mark.column != first.start_mark.column:
            raise EditError(f"line {k.start_mark.line + 1}: keys of one mapping at different columns")
    at = _line_end(text, tight_end(mapping.value[-1][1]))
    newline = "" if text[:at].endswith("\n") else "\n"
    return text[:at] + newline + f"{indent}{key}: {value}\n" + text[at:]


def remove_key(text: str, mapping: yaml.Node, key: str) -> str:
    """Delete `key` and its value; the mapping must keep another key (remove its parent instead)."""
    found = lookup(mapping, key)
    if found is None:
        return text
    pairs = mapping.value
    if len(pairs) < 2:
        raise EditError(f"line {mapping.start_mark.line + 1}: removing {key} would leave an empty mapping")
    i = next(n for n, (k, _) in enumerate(pairs) if k is found[0])
    k, v = found
    if mapping.flow_style:
        if i + 1 < len(pairs):
            return text[:k.start_mark.index] + text[pairs[i + 1][0].start_mark.index:]
        return text[:tight_end(pairs[i - 1][1])] + text[tight_end(v):]
    start = _line_start(text, k.start_mark.index)
    if text[start:k.start_mark.index].strip():
        raise EditError(f"line {k.start_mark.line + 1}: {key} shares its line with other text (e.g. `- {key}:`)")
    return text[:start] + text[_line_end(text, tight_end(v)):]
