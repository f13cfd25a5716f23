"""The fuzzing contract: count the cases, derandomized settings, and what every case must satisfy."""

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


# --- counting -------------------------------------------------------------------------------

FUZZ_COUNTS = {"validated": 0, "rejected": 0, "planned": 0, "plan_rejected": 0, "yaml": 0, "yaml_valid": 0}


def fuzz_summary() -> Optional[str]:
    """The line tests/conftest.py prints at the end of a run that fuzzed (None if none did)."""
    c = FUZZ_COUNTS
    checked = c["validated"] + c["rejected"]
    ran = c["planned"] + c["plan_rejected"]
    if not (checked or ran or c["yaml"]):
        return None
    return (f"fuzzed stack files: {checked} validated-or-rejected ({c['validated']} valid, {c['rejected']} rejected), "
            f"{ran} planned ({c['planned']} completed, {c['plan_rejected']} refused with nothing registered), "
            f"{c['yaml']} raw texts through `mlinfra validate` ({c['yaml_valid']} valid)")


def _settings(n: int, shrink: bool = True) -> settings:
    """Derandomized (the same cases on every run and machine), no example database, no deadline;
    `shrink=False` where each case runs the program, so a failure is reported at once. `n` is the
    count under the `ci` profile; the profile loaded in tests/conftest.py scales it."""
    phases = (Phase.explicit, Phase.generate) + ((Phase.shrink,) if shrink else ())
    n = max(1, n * settings.default.max_examples // 100)
    return settings(max_examples=n, deadline=None, derandomize=True, database=None, print_blob=False, phases=phases,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much, HealthCheck.large_base_example])


# --- the contract -----------------------------------------------------------------------------

SCHEMA = reference.json_schema()
CONFIG_SCHEMA = SCHEMA["properties"]["config"]
DEFS = SCHEMA["$defs"]
SCHEMA_KEYS = set(CONFIG_SCHEMA["properties"])


def stack_file(stack: str) -> str:
    return f"stacks/Pulumi.{stack}.yaml"


def validate(values: dict[str, Any], stack: str) -> Optional[ConfigError]:
    """Run validation on a stack file's config; check the contract; return the error, if any."""
    engine_values, _ = to_engine_config(values)
    try:
        config.load(engine_values, stack=stack, file=stack_file(stack), root=PROJECT.root)
    except ConfigError as error:
        assert_names_keys(error, values)
        FUZZ_COUNTS["rejected"] += 1
        return error
    FUZZ_COUNTS["validated"] += 1
    return None


def validate_and_plan(values: dict[str, Any], stack: str) -> None:
    """Valid implies plans: a stack file that validates also plans, to completion, without error."""
    if validate(values, stack) is None:
        recording = run_config(values, stack=stack)
        assert len(recording) > 1 and recording.outputs, "a valid stack planned nothing"
        FUZZ_COUNTS["planned"] += 1


def assert_names_keys(error: ConfigError, values: dict[str, Any]) -> None:
    assert error.issues, "a ConfigError without issues"
    text = str(error)
    assert text.startswith(f"{error.file}: "), text
    for issue in error.issues:
        assert issue.path, f"an issue without a key: {issue}"
        assert all(isinstance(p, (str, int)) and not isinstance(p, bool) for p in issue.path), issue.path
        shown = key_path(issue.path)
        top = key_path(issue.path[:1])
        # mlinfra's and the provider's keys, or any other key of the file (one nothing would read).
        assert shown.startswith(("mlinfra:", "gcp:")) or top in values, f"{shown!r} does not name a stack-file key ({issue})"
        assert top in values or top in SCHEMA_KEYS, f"{shown!r} is under no key of the file nor the schema ({issue})"
        assert f"  {shown}: {issue.message}" in text, f"{shown} is not in the message:\n{text}"
        if issue.message == "unknown key":  # it is in the file: the issue must name it as written
            assert shown in written_keys(values), f"{shown!r} is not a key of the file ({issue})"
            assert shown not in SCHEMA_KEYS, f"{shown!r} is a known key, reported as unknown ({issue})"


def written_keys(values: dict[str, Any]) -> set[str]:
    """Every key path of a stack file's config as written (`mlinfra:services[0].name`), top-level
    strings JSON-decoded as the program reads them."""
    engine_values, _ = to_engine_config(values)
    out = set()
    for key, value in engine_values.items():
        for path, _ in _nodes(config.parse_value(value), (key,)):
            out.add(format_path(path[1:], root=path[0]))
    return out


def plan(values: dict[str, Any], stack: str) -> None:
    """The program under mocks agrees with validation: plans what validates, registers nothing else."""
    expected = validate(values, stack)
    recording = Recording(project=PROJECT.name, stack=stack)
    if expected is None:
        run_config(values, stack=stack, recording=recording)
        assert len(recording) > 1 and recording.outputs, "a valid stack planned nothing"
        FUZZ_COUNTS["planned"] += 1
        return
    with pytest.raises(ConfigError) as caught:
        run_config(values, stack=stack, recording=recording)
    assert str(caught.value) == str(expected)
    assert [r.type for r in recording] == [STACK_TYPE], "a partial plan from a stack file that failed validation"
    FUZZ_COUNTS["plan_rejected"] += 1


def _nodes(tree: Any, prefix: KeyPath = ()) -> list[tuple[KeyPath, Any]]:
    out = [(prefix, tree)]
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += _nodes(v, prefix + (k,))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out += _nodes(v, prefix + (i,))
    return out


def _get(tree: Any, path: KeyPath) -> Any:
    for part in path:
        tree = tree[part]
    return tree


# The fuzz modules build on each other's helpers, underscored ones included.
__all__ = [name for name in list(globals()) if not name.startswith("__")]
