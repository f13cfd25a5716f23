"""Fuzzing the stack file: thousands of random and mutated stack files go through validation.

The contract, for every input:

- `config.load` either validates it, or raises ConfigError whose every issue names a key: a
  non-empty path that `key_path` renders as `mlinfra:...` or `gcp:...`, under a top-level key the
  file has or the schema knows. Never any other exception.
- The program run under mocks agrees: what validates plans to completion; what does not raises
  the same ConfigError with nothing registered but the stack itself (no partial plan).
- A stack file that is not even a readable mapping is a user error too: `mlinfra validate` exits
  1 with a message naming the file, never a traceback nor "This is a bug in mlinfra".

Inputs come from three sources: (a) 1 to 4 mutations of the four real stack files, each case
written as the list of mutations so a failure reads as a repro; (b) configs generated from
the shape of the JSON Schema, mostly well typed so that many reach the second (rules) pass;
(c) raw text: truncated, edited and random stack files, and YAML's odd corners.

Runs are derandomized (the same cases every run) and keep no example database. Cases found
to break the contract stay below as explicit `@example`s. The number of cases tried is printed
at the end of the run (the hook in tests/conftest.py reads `fuzz_summary`).
"""

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
        assert shown.startswith(("mlinfra:", "gcp:", "aws:")), f"{shown!r} does not name a stack-file key ({issue})"
        top = key_path(issue.path[:1])
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


# --- (a) mutations of the real stack files ----------------------------------------------------

REAL = {name: stack_config(name) for name in STACKS}

KeyPath = tuple  # a path into the config tree: keys and list indices


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


@_settings(1500)
@given(case=mutation_cases())
# Found by this test (fixed in 727cec8): an unknown key whose name is one pydantic writes into its
# error locations (`int`, `str`, `gke`, `a[0]`, ...) crashes validation with IndexError.
@example(case=("dev", (("add", (), "mlinfra:int", 1),)))
@example(case=("k8s-dev", (("rename", ("mlinfra:jobs",), "mlinfra:a[0]"),)))
# Found by this test (fixed in 727cec8): a key with a second colon is reported under another name:
# `mlinfra:a:b` as the provider key `a:b`, `mlinfra:mlinfra:x` as `mlinfra:x`.
@example(case=("prod", (("add", (), "mlinfra:a:b", 1),)))
@example(case=("dev", (("rename", ("mlinfra:pattern",), "mlinfra:mlinfra:x"),)))
# Found by this test: `mlinfra:gcp:project`, an unknown mlinfra key, was reported as
# `gcp:project: unknown key`, the provider key the file has and needs.
@example(case=("dev", (("add", (), "mlinfra:gcp:project", 1),)))
# Found by this test (fixed in 727cec8): a pattern that is a list or a mapping crashes validation
# with TypeError (unhashable type) in MlinfraConfig._default_platform.
@example(case=("dev", (("set", ("mlinfra:pattern",), []),)))
@example(case=("dev", (("set", ("mlinfra:pattern",), "{}"),)))
# Found by this test (fixed in 727cec8): a trigger source with a NUL byte or a very long name
# crashes validation (ValueError / OSError from Path.resolve).
@example(case=("dev", (("set", ("mlinfra:triggers", 0, "source"), "\x00"),)))
@example(case=("prod", (("set", ("mlinfra:triggers", 1, "source"), "x" * 256),)))
def test_mutated_stack_files_validate_and_plan_or_name_every_key(case):
    stack, ops = case
    validate_and_plan(mutated(stack, ops), stack)


# --- an unknown key is reported where it is ---------------------------------------------------

def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow $ref and pick the non-null member of Optional[...]."""
    while True:
        if "$ref" in node:
            node = DEFS[node["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in node:
            node = next(m for m in node["anyOf"] if m.get("type") != "null")
        else:
            return node


def schema_at(tree: dict[str, Any], path: KeyPath) -> Optional[dict[str, Any]]:
    """The schema of the value at `path` of a stack file's config (None when the schema has none)."""
    if not path or path[0] not in CONFIG_SCHEMA["properties"]:
        return None
    node = _resolve(CONFIG_SCHEMA["properties"][path[0]])
    for i, part in enumerate(path[1:], start=1):
        if isinstance(part, int):
            node = _resolve(node["items"])
            if "oneOf" in node:  # a service: cloudrun or gke, by its platform or the pattern's default
                entry = _get(tree, path[:i + 1])
                platform = entry.get("platform") or PATTERNS[tree["mlinfra:pattern"]].default_platform
                node = DEFS["GkeServiceSpec" if platform == "gke" else "CloudRunServiceSpec"]
        elif part in node.get("properties", {}):
            node = _resolve(node["properties"][part])
        else:
            return None
    return node


@st.composite
def unknown_key_cases(draw) -> tuple[str, tuple]:
    stack = draw(st.sampled_from(STACKS))
    tree = REAL[stack]
    models = [p for p, v in _nodes(tree) if isinstance(v, dict) and p
              and (schema_at(tree, p) or {}).get("additionalProperties") is False]
    path = draw(st.sampled_from(models))
    known = schema_at(tree, path)["properties"]
    key = draw(st.one_of(st.builds(_typo, st.sampled_from(sorted(known)), st.integers(0, 8), st.integers(0, 40)),
                         st.sampled_from(LOC_NAMES), st.text(min_size=1, max_size=12)).filter(lambda k: k not in known))
    return stack, (("add", path, key, draw(JSONISH)),)


@_settings(300)
@given(case=unknown_key_cases())
# Found by this test (fixed in 727cec8): unknown keys named like pydantic's union tags are
# reported at their parent (`mlinfra:services[0]`), not at themselves.
@example(case=("dev", (("add", ("mlinfra:services", 0), "str", 1),)))
@example(case=("k8s-prod", (("add", ("mlinfra:cluster", "nodePools", 0), "gke", 1),)))
def test_an_unknown_key_is_reported_at_its_own_path(case):
    stack, ops = case
    (_, path, key, _), = ops
    error = validate(mutated(stack, ops), stack)
    assert error is not None, f"the unknown key {key!r} under {key_path(path)} was accepted"
    where = format_path(path[1:] + (key,), root=path[0])  # as written: `mlinfra:services[0].key`
    assert [i for i in error.issues if key_path(i.path) == where and i.message == "unknown key"], (
        f"no `unknown key` issue at {where}; got {[key_path(i.path) for i in error.issues]}")


# --- (b) configs shaped like the JSON Schema --------------------------------------------------

PROJECT_ID, FUZZ_STACK = "acme-test", "fuzz"
ARTIFACTS = f"gs://{PROJECT_ID}-{FUZZ_STACK}-artifacts"

# Plausible values by key name, so that generated files get past the types into the rules.
REALISTIC: dict[str, list[Any]] = {
    "name": ["svc", "ranker", "on-upload", "general", "l4", "a", "x-1", "My_Service", ""],
    "image": ["us-docker.pkg.dev/acme/serve/svc:1", "us-central1-docker.pkg.dev/acme-test/mlinfra-fuzz/s:2", "x:2"],
    "uri": [f"{ARTIFACTS}/models/m", f"{ARTIFACTS}/models/n", "gs://elsewhere/models/m"],
    "version": ["1", "7", "12", "latest"],
    "memory": ["512Mi", "1Gi", "2Gi", "4Gi", "8Gi", "16Gi", "32Gi", "64Gi", "256Mi", "lots"],
    "cpu": [0.5, 1, 2, 4, 6, 8, 3, 16],
    "cidr": ["10.0.0.0/8", "203.0.113.0/24", "10.0.0.1/8", "bogus"],
    "subnetCidr": ["10.10.0.0/20", "10.50.0.0/20", "10.10.0.1/20", "8.8.0.0/20"],
    "podsCidr": ["10.20.0.0/14", "10.52.0.0/14", "10.20.0.0/24"],
    "servicesCidr": ["10.24.0.0/20", "10.56.0.0/20", "10.10.4.0/24"],
    "proxyOnlyCidr": ["10.11.0.0/23", "10.57.0.0/23"],
    "masterCidr": ["172.16.0.0/28", "172.16.0.0/24"],
    "type": ["nvidia-l4", "nvidia-tesla-t4", "nvidia-a100-80gb", "nvidia-tesla-a100", "nvidia-h100-80gb"],
    "machineType": ["e2-standard-4", "n2-standard-8", "g2-standard-8", "g2-standard-24", "n1-standard-8",
                    "a2-highgpu-1g", "a3-highgpu-8g", "bogus-1"],
    "zone": ["us-central1-a", "us-central1-b", "europe-west4-a", "mars-1a"],
    "zones": [["us-central1-a"], ["us-central1-a", "us-central1-c"], ["europe-west4-a"]],
    "cron": ["0 3 * * *", "*/5 * * * *", "0 4 * * 0", "0 3 * *"],
    "schedule": ["0 4 * * 0", "@daily", "0 3 * * *", "61 * * * *"],
    "timeZone": ["Etc/UTC", "Europe/Berlin", "America/New_York", "Not/AZone"],
    "source": ["functions/on_upload", "functions/nightly_report", "functions/retrain_request", "functions/nope"],
    "bucket": ["dataLake", "artifacts", "models"],
    "prefix": ["uploads/", ""],
    "topic": ["retrain-requests", "events"],
    "invokers": [["group:ml@acme.example"], ["serviceAccount:a@acme-test.iam.gserviceaccount.com"], ["allUsers"],
                 ["bob@acme.example"], []],
    "recurrence": ["FREQ=WEEKLY;BYDAY=SA,SU", "FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO"],
    "start": ["03:00", "22:30"],
    "partitionSize": ["1g.5gb", "3g.40gb"],
    "location": ["US", "EU", "us-central1", "europe-west4"],
    "path": ["/health", "/v1/models"],
    "key": ["dedicated", "gpu"],
    "secret": ["hf-token", "api-key"],
    "stableRevision": ["svc-fuzz-v1-abcdef"],
    "prometheusMetric": ["vllm:num_requests_running"],
    "command": [["python", "-m", "serve"]],
    "args": [["--input", "gs://acme-test-fuzz-data-lake/events/"]],
    "labels": [{"team": "ml-platform", "cost-center": "4711"}, {"Team": "ml"}, {"team": "ML Platform"}, {}],
    "env": [{"LOG_LEVEL": "debug"}, {}],
}
# Where one name means different things.
REALISTIC_IN = {("SecretRef", "env"): ["HF_TOKEN", "API_KEY"], ("SecretRef", "version"): ["latest", "3"],
                ("ArtifactsSpec", "name"): [f"{PROJECT_ID}-{FUZZ_STACK}-artifacts", "my-google-models", "ab"],
                ("DataLakeSpec", "name"): [f"{PROJECT_ID}-{FUZZ_STACK}-data-lake", "UPPER"],
                ("TaintSpec", "value"): ["ml", ""]}


def chance(draw, percent: int) -> bool:
    return draw(st.integers(0, 99)) < percent


_REGEX: dict[str, st.SearchStrategy] = {}
TEXT = st.text(max_size=30)


def gen(draw, node: dict[str, Any], where: tuple[str, str] = ("", ""), depth: int = 0) -> Any:
    """A value for a schema node: mostly well typed (2% anything at all), plausible where the key
    name says, optional keys now and then."""
    roll = draw(st.integers(0, 99))  # one draw decides junk, None and plausible-or-raw
    if roll < 2:
        return draw(JSONISH)
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return gen_object(draw, name, depth)
    if "anyOf" in node:
        members = [m for m in node["anyOf"] if m.get("type") != "null"]
        return None if roll >= 90 else gen(draw, pick(draw, members), where, depth)
    if "oneOf" in node:
        return gen(draw, pick(draw, node["oneOf"]), where, depth)
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return pick(draw, node["enum"])
    plausible = REALISTIC_IN.get(where) or REALISTIC.get(where[1])
    kind = node.get("type")
    if plausible and kind in ("string", "integer", "number") and roll >= 25:
        return copy.deepcopy(pick(draw, plausible))
    if plausible and kind in ("array", "object"):
        return copy.deepcopy(pick(draw, plausible))
    if kind == "string":
        if "pattern" not in node:
            return draw(TEXT)
        pattern = node["pattern"].replace("\\d", "[0-9]")
        if pattern not in _REGEX:
            limit = node.get("maxLength", 10**9)
            _REGEX[pattern] = st.from_regex(pattern, fullmatch=True).filter(lambda v: len(v) <= limit)
        return draw(_REGEX[pattern])
    if kind in ("integer", "number"):
        low = node.get("minimum", -10**6)
        if "exclusiveMinimum" in node:
            low = node["exclusiveMinimum"] + 1
        high = node.get("maximum", low + 10**4)
        value = draw(st.integers(low, min(high, low + 20))) if roll < 60 else draw(st.integers(low, high))
        return value + 0.5 if kind == "number" and value < high and roll % 5 == 0 else value
    if kind == "boolean":
        return draw(st.booleans())
    if kind == "array":
        size = 0 if depth > 4 else draw(st.integers(0, 3))
        return [gen(draw, node.get("items", {}), where, depth + 1) for _ in range(size)]
    if kind == "object":
        values = node.get("additionalProperties")
        size = draw(st.integers(0, 3))
        return {draw(st.text(max_size=10)): draw(st.text(max_size=10)) if values in (True, None)
                else gen(draw, values, where, depth + 1) for _ in range(size)}
    return draw(JSONISH)


def gen_object(draw, name: str, depth: int, without: tuple = ()) -> dict[str, Any]:
    definition = DEFS[name]
    props = definition.get("properties", {})
    optional = [k for k in props if k not in definition.get("required", []) and k not in without]
    chosen = {pick(draw, optional) for _ in range(draw(st.integers(0, 4)))} if optional and depth <= 5 else set()
    return {k: gen(draw, v, (name, k), depth + 1) for k, v in props.items()
            if k not in without and (k not in optional or k in chosen)}


def gen_list(draw, name: str, most: int, without: tuple = (), least: int = 0) -> list[dict[str, Any]]:
    return [gen_object(draw, name, 1, without) for _ in range(draw(st.integers(least, most)))]


PATTERN_SECTIONS = {"serverless": ["labels", "network", "storage", "services", "triggers"],
                    "kubernetes": ["labels", "network", "storage", "cluster", "services", "jobs", "triggers"]}
SECTION_SCHEMA = {"labels": CONFIG_SCHEMA["properties"]["mlinfra:labels"], "network": {"$ref": "#/$defs/NetworkSpec"},
                  "storage": {"$ref": "#/$defs/StorageSpec"}, "cluster": {"$ref": "#/$defs/ClusterSpec"}}
SECTION_LISTS = {"triggers": "CloudFunctionSpec", "jobs": "GkeJobSpec"}


@st.composite
def schema_configs(draw) -> dict[str, Any]:
    """A stack file for the serverless or kubernetes pattern, generated from the schema."""
    pattern = pick(draw, ["serverless", "kubernetes"])
    values: dict[str, Any] = {
        "gcp:project": PROJECT_ID,
        "gcp:region": pick(draw, ["us-west1", "asia-south1", "mars-1", ""] if chance(draw, 15)
                           else ["us-central1", "europe-west4"]),
        "mlinfra:pattern": pick(draw, ["hybrid", "dataflow", "severless"]) if chance(draw, 5) else pattern,
        "mlinfra:environment": pick(draw, ["dev", "staging", "prod"]),
    }
    for section in PATTERN_SECTIONS[pattern]:
        key = f"mlinfra:{section}"
        if section == "cluster":  # GKE services and jobs need one, with node pools
            if chance(draw, 90):
                cluster = gen(draw, SECTION_SCHEMA["cluster"])
                if isinstance(cluster, dict) and not cluster.get("nodePools") and chance(draw, 70):
                    cluster["nodePools"] = gen_list(draw, "NodePoolSpec", 3, least=1)
                values[key] = cluster
        elif not draw(st.booleans()):
            continue
        elif section == "services":
            spec = "CloudRunServiceSpec" if pattern == "serverless" else "GkeServiceSpec"
            values[key] = gen_list(draw, spec, 2, without=("platform",))
        elif section in SECTION_LISTS:
            values[key] = gen_list(draw, SECTION_LISTS[section], 2)
        else:
            values[key] = gen(draw, SECTION_SCHEMA[section], ("", section))
    return values


@_settings(1000)
@given(values=schema_configs())
def test_schema_shaped_configs_validate_and_plan_or_name_every_key(values):
    validate_and_plan(values, FUZZ_STACK)


# --- (c) raw stack-file text ------------------------------------------------------------------

TEXTS = {name: PROJECT.stack_file(name).read_text() for name in STACKS}
YAML_EDITS = st.one_of(st.sampled_from(list(":-{}[],#&*!|>'\"%@`?\t\n ") + ["\n  ", ": ", "- ", "\ufeff"]),
                       st.text(max_size=3))
# YAML's corners: tags, anchors, complex keys, documents, types JSON has not.
YAML_ODDITIES = [
    "config:\n  gcp:project: 2024-01-01\n", "config:\n  mlinfra:labels: {a: !!binary aGVsbG8=}\n",
    "config:\n  mlinfra:labels: !!set {a, b}\n", "config:\n  mlinfra:services: &a [*a]\n",
    "config:\n  ? [a, b]\n  : 1\n", "config:\n  gcp:project: !!python/object:os.system x\n",
    "config:\n  gcp:project: 1" + "0" * 5000 + "\n", "config:\n  gcp:region: \"\\ud800\"\n",
    "config: !!omap [{a: 1}]\n", "config: 5\n", "- config\n", "config:\n  mlinfra:pattern: a\n---\nb: 1\n",
    "config:\n  mlinfra:pattern: serverless\n  mlinfra:pattern: kubernetes\n", "%YAML 1.1\n---\nconfig: {}\n",
    "config:\n  mlinfra:labels: {a: .nan}\n", "config:\n  1: 2\n  null: 3\n  true: 4\n", "config: null\n", "",
]


@st.composite
def yaml_texts(draw) -> tuple[str, bytes]:
    stack = draw(st.sampled_from(STACKS))
    text = TEXTS[stack]
    how = draw(st.sampled_from(["truncate", "edit", "oddity", "random", "bytes"]))
    if how == "truncate":
        data = text[:draw(st.integers(0, len(text)))].encode()
    elif how == "edit":
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(text)))
            cut = draw(st.integers(0, 3))
            text = text[:at] + draw(YAML_EDITS) + text[at + cut:]
        data = text.encode("utf-8", "surrogatepass")
    elif how == "oddity":
        odd = draw(st.sampled_from(YAML_ODDITIES))
        data = (odd if draw(st.booleans()) else text + odd.replace("config:\n", "", 1)).encode("utf-8", "surrogatepass")
    elif how == "random":
        data = draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    else:
        data = draw(st.binary(max_size=200))
    return stack, data


@pytest.fixture(scope="module")
def scratch_project():
    """A project like this one (its functions/ linked in) whose stack files the test writes."""
    root = Path(tempfile.mkdtemp(prefix="mlinfra-fuzz-"))
    shutil.copy(PROJECT.root / "Pulumi.yaml", root / "Pulumi.yaml")
    (root / PROJECT.stack_dir.relative_to(PROJECT.root)).mkdir(parents=True)
    (root / "functions").symlink_to(PROJECT.root / "functions")
    yield root
    shutil.rmtree(root)


def cli_validate(root: Path, stack: str, data: bytes) -> tuple[int, str, str]:
    path = root / PROJECT.stack_dir.relative_to(PROJECT.root) / f"Pulumi.{stack}.yaml"
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    debug = os.environ.pop("MLINFRA_DEBUG", None)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["--project-dir", str(root), "validate", "--stack", stack])
    finally:
        if debug is not None:
            os.environ["MLINFRA_DEBUG"] = debug
    FUZZ_COUNTS["yaml"] += 1
    return code, out.getvalue(), err.getvalue()


@_settings(400)
@given(case=yaml_texts())
# Found by this test (fixed in 727cec8): unparseable YAML, a file that is not a mapping, YAML
# dates and binary, recursive aliases, integers over Python's 4300-digit limit and invalid UTF-8
# are all reported as "This is a bug in mlinfra" (with the exception's class name), not as a
# stack-file error.
@example(case=("dev", b"config:\n  gcp:project: [unclosed\n"))
@example(case=("dev", b"- a\n- b\n"))
@example(case=("dev", b"config: 5\n"))
@example(case=("dev", b"config:\n  gcp:project: 2024-01-01\n"))
@example(case=("dev", b"config:\n  mlinfra:labels: {a: !!binary aGVsbG8=}\n"))
@example(case=("dev", b"config:\n  mlinfra:services: &a [*a]\n"))
@example(case=("dev", b"config:\n  gcp:project: 1" + b"0" * 5000 + b"\n"))
@example(case=("dev", b"\xff\xfe"))
def test_any_text_as_a_stack_file_validates_or_fails_as_a_user_error(case, scratch_project):
    stack, data = case
    code, out, err = cli_validate(scratch_project, stack, data)
    shown = f"{PROJECT.stack_dir.relative_to(PROJECT.root)}/Pulumi.{stack}.yaml"
    assert "Traceback" not in out + err
    if code == cli.EXIT_OK:
        FUZZ_COUNTS["yaml_valid"] += 1
        assert out.startswith(f"{shown}: valid"), out
        return
    assert code == cli.EXIT_ERROR, (code, err)
    first = err.splitlines()[0] if err else ""
    assert "bug in mlinfra" not in err, f"a bad stack file reported as a bug in mlinfra:\n{err}"
    assert f"Pulumi.{stack}.yaml" in first, f"the message does not name the stack file:\n{err}"


# --- the slow path: the whole program under mocks ---------------------------------------------

def _values_by_key() -> dict[str, list[Any]]:
    """Every value the real stack files give each key name, for edits that keep a file plausible."""
    seen: dict[str, dict[str, Any]] = {}
    for tree in REAL.values():
        for path, value in _nodes(tree):
            if path and isinstance(path[-1], str) and not path[-1].startswith(("gcp:", "mlinfra:")):
                seen.setdefault(path[-1], {})[json.dumps(value, sort_keys=True)] = value
    return {key: [values[k] for k in sorted(values)] for key, values in seen.items()}


REAL_VALUES = _values_by_key()


@st.composite
def gentle_cases(draw) -> tuple[str, dict[str, Any]]:
    """Real stack files with 0 to 2 small edits, about half of which still validate: a key
    removed, a value another stack file gives the same key, a list entry doubled."""
    stack = pick(draw, STACKS)
    tree = copy.deepcopy(REAL[stack])
    for _ in range(draw(st.integers(0, 2))):
        inner = [(p, v) for p, v in _nodes(tree) if p]
        kind = pick(draw, ["delete", "swap", "swap", "duplicate"])
        named = [(p, v) for p, v in inner if isinstance(p[-1], str) and len(REAL_VALUES.get(p[-1], ())) > 1]
        lists = [(p, v) for p, v in inner if isinstance(v, list) and v]
        if kind == "swap" and named:
            path, _ = pick(draw, named)
            mutate(tree, ("set", path, pick(draw, REAL_VALUES[path[-1]])))
        elif kind == "duplicate" and lists:
            path, items = pick(draw, lists)
            mutate(tree, ("duplicate", path, draw(st.integers(0, len(items) - 1))))
        else:
            mutate(tree, ("delete", pick(draw, inner)[0]))
    return stack, tree


@_settings(64, shrink=False)
@given(case=st.one_of(gentle_cases(), gentle_cases(), gentle_cases(), gentle_cases(),
                      schema_configs().map(lambda v: (FUZZ_STACK, v)),
                      mutation_cases().map(lambda case: (case[0], mutated(*case)))))
# Found by this test (fixed in 727cec8): a kubernetes stack without `mlinfra:cluster` (and so
# without services or jobs) validates, then the plan crashes with AttributeError in GkeCluster
# after registering 23 resources: a traceback and a partial plan.
@example(case=(FUZZ_STACK, {"gcp:project": PROJECT_ID, "gcp:region": "us-central1",
                            "mlinfra:pattern": "kubernetes", "mlinfra:environment": "dev"}))
def test_the_program_plans_what_validates_and_registers_nothing_from_what_does_not(case):
    stack, values = case
    plan(values, stack)
