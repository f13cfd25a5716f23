"""Golden snapshots: what each stack in stacks/ creates, normalised, kept in tests/golden/.

Each snapshot lists every registration of the stack's offline plan, sorted by URN: its type,
parent, inputs, the resource options that change what `pulumi up` does (protect, retain on
delete, delete before replace, ignored changes, dependencies) and the URNs it answers to as
aliases. A change to what a stack creates shows up as a diff of these files in review.

    make golden                              # rewrite every snapshot from the current code
    .venv/bin/python -m tests.golden --check # exit 1 and list the stacks whose plan changed
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from infra import engine
from infra.plan import _jsonable

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"


def _relative(value: Any) -> Any:
    """Absolute paths under the project root (function sources) as paths from the root."""
    if isinstance(value, dict):
        return {k: _relative(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative(v) for v in value]
    if isinstance(value, str) and value.startswith(str(ROOT) + "/"):
        return value[len(str(ROOT)) + 1:]
    return value


def snapshot(recording: engine.Recording) -> list[dict[str, Any]]:
    """The normalised registrations of a plan, sorted by URN."""
    out = []
    for r in sorted(recording.registrations, key=lambda r: r.urn):
        entry: dict[str, Any] = {"urn": r.urn, "type": r.type, "parent": r.parent or ""}
        if r.custom:
            entry["inputs"] = _relative(_jsonable(r.inputs))
        options = {"protect": r.protect, "retainOnDelete": r.retain_on_delete,
                   "deleteBeforeReplace": r.delete_before_replace,
                   "ignoreChanges": sorted(r.ignore_changes), "dependsOn": sorted(set(r.dependencies))}
        entry["options"] = {k: v for k, v in options.items() if v}
        aliases = sorted(r.aliases)
        if aliases:
            entry["aliases"] = aliases
        out.append(entry)
    return out


def render(recording: engine.Recording) -> str:
    return json.dumps(snapshot(recording), indent=1, sort_keys=True) + "\n"


def path_of(stack: str) -> Path:
    return GOLDEN / f"{stack}.json"


def main(argv: list[str] | None = None) -> int:
    from tests.conftest import STACKS, run_stack

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("stacks", nargs="*", help="stacks (default: every stack in stacks/)")
    args = parser.parse_args(argv)
    changed = []
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for stack in args.stacks or STACKS:
        text = render(run_stack(stack))
        path = path_of(stack)
        if args.check:
            if not path.is_file() or path.read_text() != text:
                changed.append(stack)
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if changed:
        print(f"plan changed for: {', '.join(changed)} (review, then `make golden`)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
