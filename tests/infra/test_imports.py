"""A stack imports the provider submodules of its own pattern and no others.

Provider packages register every submodule lazily; a root package (`pulumi_kubernetes`, whose
schema the stack file shares) costs ~25 ms and loads nothing until touched, so the check is
on submodules, and a GCP stack must not load `pulumi_aws` at all."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from infra.patterns.registry import PATTERNS
from tests.conftest import ROOT, STACKS, stack_config

PLAN_AND_LIST = """
import json, sys
from infra import engine
from infra.plan import plan_stack
from infra.stackfile import find_project
plan_stack(find_project(), sys.argv[1])
print(json.dumps(engine.provider_modules()))
"""


@pytest.mark.parametrize("stack", STACKS)
def test_a_stack_imports_only_its_patterns_provider_submodules(stack):
    done = subprocess.run([sys.executable, "-c", PLAN_AND_LIST, stack], cwd=ROOT, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = set(json.loads(done.stdout.strip().splitlines()[-1]))
    pattern = PATTERNS[stack_config(stack)["mlinfra:pattern"]]
    assert not any(m.split(".")[0] == "pulumi_aws" for m in imported)
    submodules = {m for m in imported if "." in m}
    assert submodules <= pattern.providers, f"unexpected: {sorted(submodules - pattern.providers)}"
