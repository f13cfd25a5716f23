"""The mlinfra Pulumi program: read the stack file, build its pattern, export the outputs.

Run by `pulumi up` (Pulumi.yaml: `main: infra/`) and, unchanged, by `mlinfra plan` offline.
"""

import sys
from pathlib import Path

# The language host puts infra/ itself on sys.path; the packages live one level up. This
# makes the program run with only requirements.txt installed, as `pulumi install` does.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import pulumi  # noqa: E402

from infra import runtime; runtime.tune()  # noqa: E402,E702 - before the pattern's imports
from infra import config  # noqa: E402
from infra.patterns import PATTERNS  # noqa: E402

stack = config.from_pulumi()
outputs = PATTERNS[stack.mlinfra.pattern].load()(stack)
for key, value in outputs.items():
    pulumi.export(key, value)
