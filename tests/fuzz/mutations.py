"""(a) Mutations of the real stack files: set, delete, add, rename, retype, duplicate, tweak."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from components.core.issues import format_path
from infra import cli, config, reference
from infra.engine import STACK_TYPE, Recording
from infra.errors import ConfigError, key_path
from infra.patterns.registry import PATTERNS
from infra.stackfile import to_engine_config
from tests.conftest import GCP_STACKS as STACKS  # the fuzzers walk the Google Cloud schema
from tests.conftest import PROJECT, run_config, stack_config
from tests.fuzz.contract import *  # noqa: F401,F403
from tests.fuzz.values import *  # noqa: F401,F403


# --- (a) mutations of the real stack files ----------------------------------------------------

REAL = {name: stack_config(name) for name in STACKS}

KeyPath = tuple  # a path into the config tree: keys and list indices


def mutate(tree: dict[str, Any], op: tuple) -> None:
    """Apply one mutation in place:
    ("set", path, value), ("delete", path), ("add", path, key, value), ("rename", path, new_key),
    ("duplicate", path, index)."""
    kind, path = op[0], op[1]
    if kind == "set":
        _get(tree, path[:-1])[path[-1]] = copy.deepcopy(op[2])
    elif kind == "delete":
        del _get(tree, path[:-1])[path[-1]]
    elif kind == "add":
        _get(tree, path)[op[2]] = copy.deepcopy(op[3])
    elif kind == "rename":
        parent = _get(tree, path[:-1])
        parent[op[2]] = parent.pop(path[-1])
    elif kind == "duplicate":
        items = _get(tree, path)
        items.append(copy.deepcopy(items[op[2]]))
    else:
        raise AssertionError(f"unknown mutation {op!r}")


def mutated(stack: str, ops: tuple) -> dict[str, Any]:
    tree = copy.deepcopy(REAL[stack])
    for op in ops:
        mutate(tree, op)
    return tree


def _retyped(value: Any) -> list[Any]:
    """The same value with another type: what a stray quote, bracket or indent does."""
    out: list[Any] = [None, [value], {"value": value}, json.dumps(value, default=str)]
    if isinstance(value, str):
        out += [v for v in (_number(value),) if v is not None] + [True]
    elif isinstance(value, bool):
        out += [str(value).lower(), int(value)]
    elif isinstance(value, (int, float)):
        out += [str(value), float(value), -value, value * 1000, bool(value)]
    elif isinstance(value, list):
        out += value[:1] + [dict(enumerate(value)), ", ".join(map(str, value))]
    elif isinstance(value, dict):
        out += [list(value.values()), list(value.keys()), " ".join(f"{k}: {v}" for k, v in value.items())]
    return out


def _tweaked(text: str, kind: int, at: int, char: str) -> str:
    """A near miss of a string the rules parse (a CIDR, quantity, machine type, cron, zone, ...)."""
    i = at % (len(text) + 1)
    return [text[:i], text[:i] + text[i + 1:], text[:i] + char + text[i:],
            re.sub(r"\d+", "9" * 30, text), re.sub(r"\d+", "0", text), re.sub(r"\d+", "-1", text),
            text.upper(), f" {text} ", text * 3][kind % 9]


def _number(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return None


ROOT_PREFIXES = ["mlinfra:"] * 6 + ["gcp:", "aws:", "", "mlinfra:mlinfra:", "mlinfra:gcp:"]
TYPO = st.builds(_typo, st.sampled_from(KNOWN_NAMES), st.integers(0, 8), st.integers(0, 40))
NEW_KEYS = st.one_of(st.sampled_from(KNOWN_NAMES), KEYS, TYPO)
MUTATIONS = ["set", "delete", "add", "rename", "retype", "duplicate", "tweak", "tweak"]
TWEAK_CHARS = st.sampled_from(list("0123456789-./:*,@ ") + ["Gi", "Mi", "Ti", "e9", "\x00", "é"])


def pick(draw, items: list) -> Any:
    """One of `items` (cheaper than a new sampled_from per draw, which matters at thousands of cases)."""
    return items[draw(st.integers(0, len(items) - 1))]


@st.composite
def mutation_cases(draw, max_ops: int = 4) -> tuple[str, tuple]:
    stack = pick(draw, STACKS)
    tree = copy.deepcopy(REAL[stack])
    ops = []
    for _ in range(draw(st.integers(1, max_ops))):
        nodes = _nodes(tree)
        inner = [(p, v) for p, v in nodes if p]
        kind = pick(draw, MUTATIONS) if inner else "add"
        if kind == "set":
            path, _ = pick(draw, inner)
            op = ("set", path, draw(JSONISH))
        elif kind == "tweak":
            strings = [(p, v) for p, v in inner if isinstance(v, str)]
            if not strings:
                continue
            path, value = pick(draw, strings)
            op = ("set", path, _tweaked(value, draw(st.integers(0, 8)), draw(st.integers(0, 80)), draw(TWEAK_CHARS)))
        elif kind == "retype":
            path, value = pick(draw, inner)
            op = ("set", path, pick(draw, _retyped(value)))
        elif kind == "delete":
            op = ("delete", pick(draw, inner)[0])
        elif kind == "add":
            path, _ = pick(draw, [(p, v) for p, v in nodes if isinstance(v, dict)])
            key = draw(NEW_KEYS)
            if not path:
                key = pick(draw, ROOT_PREFIXES) + key
            op = ("add", path, key, draw(JSONISH))
        elif kind == "rename":
            path, _ = pick(draw, [(p, v) for p, v in inner if isinstance(_get(tree, p[:-1]), dict)])
            prefix, _, bare = str(path[-1]).rpartition(":")
            new = _typo(bare, draw(st.integers(0, 8)), draw(st.integers(0, 40))) if draw(st.booleans()) \
                else pick(draw, LOC_NAMES)
            op = ("rename", path, f"{prefix}:{new}" if prefix else new)
        else:
            lists = [(p, v) for p, v in nodes if isinstance(v, list) and v]
            if not lists:
                continue
            path, items = pick(draw, lists)
            op = ("duplicate", path, draw(st.integers(0, len(items) - 1)))
        mutate(tree, op)
        ops.append(op)
    return stack, tuple(ops)


# The fuzz modules build on each other's helpers, underscored ones included.
__all__ = [name for name in list(globals()) if not name.startswith("__")]
