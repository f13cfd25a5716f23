"""A stack imports the provider submodules of its own pattern and no others.

Provider packages register every submodule lazily, so the check is on modules really loaded.
What `pulumi up` runs (the program, before and while registering) must not pay for what the
pattern does not use: a serverless stack loads no Kubernetes module and no policy code, and a
GCP stack never loads `pulumi_aws`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from infra.patterns.registry import pattern_for
from tests.conftest import ROOT, STACKS, stack_config

# Run the program exactly as `pulumi up` does (no guardrails: the offline plan judges those after).
RUN_AND_LIST = """
import json, sys
from infra import engine
from infra.stackfile import find_project, read_stack_config, to_engine_config
project = find_project()
values, secrets = to_engine_config(read_stack_config(project.stack_file(sys.argv[1])))
engine.run(project.main, project=project.name, stack=sys.argv[1], config=values, secret_keys=secrets, cwd=project.root)
loaded = [m for m, mod in sys.modules.items() if type(mod).__name__ != "_LazyModule"]
print(json.dumps({"providers": engine.provider_modules(), "loaded": loaded}))
"""


def program_modules(stack: str, cwd=ROOT) -> dict:
    """The modules the program loads for a stack of the project at `cwd` (this checkout's code)."""
    done = subprocess.run([sys.executable, "-c", RUN_AND_LIST, stack], cwd=cwd, capture_output=True, text=True,
                          timeout=180, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("stack", STACKS)
def test_a_stack_imports_only_its_patterns_provider_submodules(stack):
    found = program_modules(stack)
    imported = set(found["providers"])
    config = stack_config(stack)
    if config["mlinfra:pattern"] == "bootstrap":  # on every cloud of the CI stacks (tests/infra/test_bootstrap.py)
        pattern = pattern_for("github", "bootstrap")
    else:
        pattern = pattern_for(config.get("mlinfra:cloud", "gcp"), config["mlinfra:pattern"])
        other = "pulumi_gcp" if pattern.cloud == "aws" else "pulumi_aws"
        assert not any(m.split(".")[0] == other for m in imported), f"a {pattern.cloud} stack imports {other}"
        assert not any(m.split(".")[0] == other for m in found["loaded"]), f"a {pattern.cloud} stack loads {other}"
        assert not any(m.startswith("pulumi_github") for m in found["loaded"]), "a cloud stack loads pulumi_github"
    submodules = {m for m in imported if "." in m}
    assert submodules <= pattern.providers, f"unexpected: {sorted(submodules - pattern.providers)}"
    if not config.get("mlinfra:waivers"):  # a stack that waives a rule loads the rule IDs to check it
        assert not any(m == "policy" or m.startswith(("policy.", "pulumi_policy")) for m in found["loaded"]), \
            "the program loads the guardrails' code, which only the plan and the policy pack need"
    assert not any(m.startswith("pulumi_policy") for m in found["loaded"])


@pytest.mark.parametrize("stack", [s for s in STACKS if stack_config(s)["mlinfra:pattern"] in ("serverless", "dataflow")])
def test_a_serverless_or_dataflow_stack_loads_no_kubernetes_module_at_all(stack):
    loaded = program_modules(stack)["loaded"]
    assert [m for m in loaded if m.startswith("pulumi_kubernetes")] == []
