"""The test kit: run a component, or the whole program for a stack, under Pulumi's mocks.

`run_component(fn)` runs a function that creates resources; `run_stack(name)` plans a stack
file of stacks/; `run_config(values)` runs the program for a config given inline. Each returns
a Recording of every registration (type, name, inputs, parent, ...) with finders.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Callable, Mapping

import pytest
from hypothesis import settings

from infra import engine
from infra.stackfile import find_project, read_stack_config, to_engine_config

ROOT = Path(__file__).resolve().parent.parent
PROJECT = find_project(ROOT)
STACKS = PROJECT.stacks()


def cloud_of(stack: str) -> str:
    """gcp or aws; github for the bootstrap stack, which is on neither alone (tests/infra/test_bootstrap.py)."""
    config = read_stack_config(PROJECT.stack_file(stack))
    return "github" if config.get("mlinfra:pattern") == "bootstrap" else config.get("mlinfra:cloud", "gcp")


GCP_STACKS = [s for s in STACKS if cloud_of(s) == "gcp"]
AWS_STACKS = [s for s in STACKS if cloud_of(s) == "aws"]

# A minimal valid serverless stack; tests mutate copies of it.
BASE_CONFIG: dict[str, Any] = {
    "gcp:project": "acme-test",
    "gcp:region": "us-central1",
    "mlinfra:pattern": "serverless",
    "mlinfra:environment": "dev",
}


def run_component(fn: Callable[[], Any], *, stack: str = "test", config: Mapping[str, str] | None = None) -> engine.Recording:
    values = {"gcp:project": "acme-test", "gcp:region": "us-central1", **(config or {})}
    return engine.run(fn, project="mlinfra", stack=stack, config=values)


def run_config(values: Mapping[str, Any], *, stack: str = "test",
               recording: engine.Recording | None = None) -> engine.Recording:
    engine_values, secrets = to_engine_config(dict(values))
    rec = engine.run(PROJECT.main, project=PROJECT.name, stack=stack, config=engine_values,
                     secret_keys=secrets, cwd=PROJECT.root, recording=recording)
    assert_no_output_text(rec)
    return rec


OUTPUT_AS_TEXT = "Calling __str__ on an Output"


def assert_no_output_text(rec: engine.Recording) -> None:
    """An Output in an f-string becomes Pulumi's warning text, which `pulumi up` would write into
    the resource (an alert's documentation, a label); every planned program is checked for it."""
    def strings(value):
        if isinstance(value, dict):
            for v in value.values():
                yield from strings(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                yield from strings(v)
        elif isinstance(value, str):
            yield value
    for r in rec.custom():
        assert not any(OUTPUT_AS_TEXT in text for text in strings(r.inputs)), \
            f"{r.type} {r.name}: an input formats an Output as text"


def stack_config(name: str) -> dict[str, Any]:
    return copy.deepcopy(read_stack_config(PROJECT.stack_file(name)))


_PLANS: dict[str, engine.Recording] = {}


def run_stack(name: str) -> engine.Recording:
    """Plan a stack file of stacks/ (cached: each stack is planned once per test session)."""
    if name not in _PLANS:
        _PLANS[name] = run_config(stack_config(name), stack=name)
    return _PLANS[name]


@pytest.fixture
def base_config() -> dict[str, Any]:
    return copy.deepcopy(BASE_CONFIG)


def pytest_terminal_summary(terminalreporter):
    """After a run that fuzzed stack files (tests/test_fuzz.py), say how many cases it tried."""
    import sys

    summary = getattr(sys.modules.get("tests.fuzz.contract"), "fuzz_summary", None)
    line = summary() if summary else None
    if line:
        terminalreporter.write_sep("-", "fuzz")
        terminalreporter.write_line(line)


# Fuzzing profiles (tests/test_fuzz.py): `ci` runs the full case counts and is what CI runs
# (.ci/run sets CI=true); `quick` runs a quarter of them for a fast local loop. Choose with
# HYPOTHESIS_PROFILE=ci|quick.
settings.register_profile("ci", max_examples=100)
settings.register_profile("quick", max_examples=25)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "quick"))


class CliPlan:
    """What `mlinfra plan --stack S --strict --json F --k8s-out D` printed and wrote."""

    def __init__(self, stack: str, directory: Path):
        import json
        import subprocess
        import sys

        self.stack = stack
        self.json_path = directory / f"{stack}.json"
        self.manifests = directory / f"{stack}-manifests"
        done = subprocess.run([sys.executable, "-m", "infra.cli", "plan", "--stack", stack, "--strict",
                               "--json", str(self.json_path), "--k8s-out", str(self.manifests)],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        self.returncode, self.stdout, self.stderr = done.returncode, done.stdout, done.stderr
        self.preview = json.loads(self.json_path.read_text()) if self.json_path.is_file() else None


@pytest.fixture(scope="session")
def cli_plan(tmp_path_factory) -> Callable[[str], CliPlan]:
    """Each stack planned through the CLI once per test session, for every test that reads the
    CLI's output (its text, the preview JSON, the manifests)."""
    directory = tmp_path_factory.mktemp("cli-plans")
    plans: dict[str, CliPlan] = {}

    def get(stack: str) -> CliPlan:
        if stack not in plans:
            plans[stack] = CliPlan(stack, directory)
        return plans[stack]
    return get
