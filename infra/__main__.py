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

from infra import runtime  # noqa: E402

runtime.tune()  # before the pattern's imports: see infra/runtime.py for what it does and why
from infra import config  # noqa: E402
from infra.patterns.build import build  # noqa: E402

for key, value in build(config.from_pulumi()).items():
    pulumi.export(key, value)
