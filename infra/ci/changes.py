"""Which stacks a change touches, so a PR previews only those against the cloud.

A stack file changes its own stack; the program, components, functions, policy and runtime
dependencies change every stack; documentation, tests and CI files change none. Anything not
known to be inert counts as changing every stack: a preview too many costs a minute, one too
few hides a change.
"""

from __future__ import annotations

import subprocess
from fnmatch import fnmatch
from pathlib import Path
from typing import Iterable

from infra.ci.stacks import CIError

INERT = ("*.md", "tests/*", "bench/*", "scripts/*", ".github/*", ".ci/*", "requirements-dev.txt",
         ".gitignore", "tools/*", "LICENSE")


def stacks_changed(paths: Iterable[str], stacks: Iterable[str], stack_dir: str = "stacks") -> set[str]:
    stacks = set(stacks)
    changed: set[str] = set()
    for path in paths:
        if path.startswith(f"{stack_dir}/Pulumi.") and path.endswith(".yaml"):
            name = path[len(f"{stack_dir}/Pulumi."):-len(".yaml")]
            changed |= {name} & stacks
        elif not any(fnmatch(path, pattern) for pattern in INERT):
            return stacks
    return changed


def changed_paths(root: Path, base: str) -> list[str]:
    """Paths changed between the merge base of `base` and HEAD (what the PR changes)."""
    done = subprocess.run(["git", "diff", "--name-only", f"{base}...HEAD"], cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise CIError(f"git diff {base}...HEAD failed: {done.stderr.strip()}; check out the full history "
                      f"(actions/checkout with fetch-depth: 0) so the base commit is there")
    return [line for line in done.stdout.splitlines() if line]
