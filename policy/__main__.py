"""The mlinfra guardrails policy pack: `pulumi preview --policy-pack policy`."""

import sys
from pathlib import Path

# Run by the Pulumi CLI from this directory; the rules and components live one level up.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from infra.guardrails import stack_waivers  # noqa: E402
from policy.pack import policies  # noqa: E402

ROOT = Path(_ROOT)
PolicyPack(name="mlinfra-guardrails", enforcement_level=EnforcementLevel.MANDATORY,
           policies=policies(lambda urn: stack_waivers(urn, ROOT)))
