"""Values the fuzzers draw from: strings that mean something somewhere, huge numbers, typos."""

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


# --- values -----------------------------------------------------------------------------------

# Strings that mean something somewhere: JSON (top-level strings are JSON-decoded as Pulumi's
# get_object does), the allowed values, paths, quantities, and the plainly hostile.
INTERESTING = [
    "", " ", "\n", "\t", "\x00", "null", "true", "false", "0", "-1", "1e999", "NaN", "-0", "0.5", "[1, 2]", "[",
    "{}", '{"a": 1}', '"quoted"', "serverless", "kubernetes", "dataflow", "hybrid", "dev", "staging", "prod",
    "cloudrun", "gke", "vllm", "triton", "custom", "nvidia-l4", "nvidia-tesla-t4", "g2-standard-8", "16Gi", "512Mi",
    "lots", "10.0.0.0/8", "10.10.0.1/20", "8.8.8.0/24", "::1/128", "gs://acme-ml-dev-dev-artifacts/models/m",
    "0 3 * * *", "@daily", "Europe/Berlin", "Not/AZone", "functions/on_upload", "functions/nope", "..", "../..",
    "/", "~", "dataLake", "artifacts", "allUsers", "group:ml@acme.example", "us-central1", "us-central1-a",
    "mars-1", "REGULAR", "require", "💥", "ünïcödé", "a" * 64, "x" * 300, "x" * 5000, "${HOME}", "%s%n",
]

# Names that pydantic writes into error locations: an unknown key by one of these names must
# still be reported at its own path.
LOC_NAMES = ["int", "str", "float", "bool", "list", "dict", "gke", "cloudrun", "a[0]", "function-after[x]",
             "", "a:b", "mlinfra:x", "gcp:project", "a.b", " ", "0", "🙂", "x" * 300]

HUGE = [-1, 0, 1, 2**31, -2**31 - 1, 2**63, -2**63 - 1, 10**30, 2**200, -10**100]

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from(HUGE),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20), st.sampled_from(INTERESTING),
)
KEYS = st.one_of(st.text(max_size=12), st.sampled_from(LOC_NAMES))
JSONISH = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(KEYS, inner, max_size=4)), max_leaves=8)

# Every key name the schema knows, for typos and for realistic unknown keys.
KNOWN_NAMES = sorted({k.split(":", 1)[-1] for k in SCHEMA_KEYS}
                     | {p for d in DEFS.values() for p in d.get("properties", {})})


def _typo(name: str, kind: int, at: int) -> str:
    """A misspelling of `name`: drop, double or swap a letter, snake_case, plural, wrong case."""
    if not name:
        return "x"
    i = at % len(name)
    snake = "".join("_" + c.lower() if c.isupper() else c for c in name)
    out = [name[:i] + name[i + 1:], name[:i] + name[i] + name[i:],
           name[:i] + name[i + 1:i + 2] + name[i] + name[i + 2:], snake, name + "s", name.upper(),
           name[:1].upper() + name[1:], name.lower(), name + " "][kind % 9]
    return out if out != name else name + "x"


# The fuzz modules build on each other's helpers, underscored ones included.
__all__ = [name for name in list(globals()) if not name.startswith("__")]
