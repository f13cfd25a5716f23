"""The mlinfra Pulumi program: read the stack file, build its pattern, export the outputs.

Run by `pulumi up` (Pulumi.yaml: `main: infra/`) and, unchanged, by `mlinfra plan` offline.
"""

import pulumi

from infra import config
from infra.patterns import PATTERNS

stack = config.from_pulumi()
outputs = PATTERNS[stack.mlinfra.pattern].load()(stack)
for key, value in outputs.items():
    pulumi.export(key, value)
