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
from tests.fuzz.contract import *  # noqa: F401,F403
from tests.fuzz.values import *  # noqa: F401,F403
from tests.fuzz.mutations import *  # noqa: F401,F403
from tests.fuzz.schema_configs import *  # noqa: F401,F403


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
            items = node["items"]
            if "anyOf" in items and all("$ref" in m for m in items["anyOf"]):
                # A service or job: the spec of its platform, or of its pattern's default platform.
                pattern = PATTERNS[tree["mlinfra:pattern"]]
                default = pattern.default_platform if path[0] == "mlinfra:services" else pattern.job_platforms[0]
                platform = _get(tree, path[:i + 1]).get("platform") or default
                specs = [_resolve(m) for m in items["anyOf"]]
                node = next((s for s in specs if s["properties"]["platform"]["const"] == platform), None)
                if node is None:
                    return None
            else:
                node = _resolve(items)
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


@_settings(1000)
@given(values=schema_configs())
def test_schema_shaped_configs_validate_and_plan_or_name_every_key(values):
    validate_and_plan(values, FUZZ_STACK)


@st.composite
def hybrid_job_configs(draw) -> dict[str, Any]:
    """A hybrid stack of Cloud Run jobs (and maybe a GKE one beside them) generated from the schema."""
    jobs = [{**job, "platform": "cloudrun"} for job in gen_list(draw, "CloudRunJobSpec", 3, without=("platform",), least=1)]
    values = {"gcp:project": PROJECT_ID, "gcp:region": pick(draw, ["us-central1", "us-west1"]),
              "mlinfra:pattern": "hybrid", "mlinfra:environment": pick(draw, ["dev", "prod"]), "mlinfra:jobs": jobs}
    if chance(draw, 30):
        values["mlinfra:jobs"] = jobs + gen_list(draw, "GkeJobSpec", 1, without=("platform",))
    return values


@_settings(300)
@given(values=hybrid_job_configs())
def test_cloud_run_job_configs_validate_and_plan_or_name_every_key(values):
    validate_and_plan(values, FUZZ_STACK)


@st.composite
def feature_store_configs(draw) -> dict[str, Any]:
    """A stack of any GCP pattern with a feature store generated from the schema (sometimes without a VPC)."""
    pattern = pick(draw, ["hybrid", "serverless", "dataflow"])
    values = {"gcp:project": PROJECT_ID, "gcp:region": pick(draw, ["us-central1", "europe-west4"]),
              "mlinfra:pattern": pattern, "mlinfra:environment": pick(draw, ["dev", "prod"]),
              "mlinfra:featureStore": gen_object(draw, "FeatureStoreSpec", 1)}
    if chance(draw, 20):
        values["mlinfra:network"] = {"egress": "none"}
    return values


@_settings(300)
@given(values=feature_store_configs())
def test_feature_store_configs_validate_and_plan_or_name_every_key(values):
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
    """A project like this one (its functions/ and pipelines/ linked in) whose stack files the test writes."""
    root = Path(tempfile.mkdtemp(prefix="mlinfra-fuzz-"))
    shutil.copy(PROJECT.root / "Pulumi.yaml", root / "Pulumi.yaml")
    (root / PROJECT.stack_dir.relative_to(PROJECT.root)).mkdir(parents=True)
    (root / "functions").symlink_to(PROJECT.root / "functions")
    (root / "pipelines").symlink_to(PROJECT.root / "pipelines")  # the dataflow stacks' template sources
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
