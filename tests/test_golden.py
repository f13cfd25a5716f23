"""What every stack creates is pinned by a reviewed snapshot, and no upgrade replaces what a
stack deployed with an earlier release created."""

from __future__ import annotations

import difflib

import pytest

from tests import golden
from tests.conftest import STACKS, run_stack

# URNs of the example stacks as mlinfra 0.1 (the flat components/ layout) deployed them.
DEPLOYED = sorted(golden.GOLDEN.glob("v*/*.urns"))


@pytest.mark.parametrize("stack", STACKS)
def test_the_plan_matches_its_golden_snapshot(stack):
    path = golden.path_of(stack)
    assert path.is_file(), f"no snapshot for {stack}: run `make golden`"
    expected, actual = path.read_text(), golden.render(run_stack(stack))
    if expected != actual:
        diff = "".join(list(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                                 str(path), "plan", n=2))[:80])
        pytest.fail(f"the plan of {stack} changed; review the diff and run `make golden`:\n{diff}")


@pytest.mark.parametrize("urns", DEPLOYED, ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_every_resource_an_earlier_release_deployed_is_kept_or_aliased(urns):
    rec = run_stack(urns.stem)
    known = {r.urn for r in rec.registrations} | {a for r in rec.registrations for a in r.aliases}
    lost = [u for u in urns.read_text().split() if u not in known]
    assert lost == [], f"{len(lost)} resources would be replaced on upgrade, e.g. {lost[:3]}"
