"""The feature_store.yaml files the Feast virtualenv's tests load (featurestore/tests/fixtures/),
written by this project's own program: each is the `feature_store_yaml` stack output of an
offline plan (hybrid-dev as shipped, and hybrid-dev with each other online store).

    .venv/bin/python -m tests.feast_fixtures          # rewrite them
    .venv/bin/python -m tests.feast_fixtures --check  # exit 1 when one is stale (a test runs this)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "featurestore" / "tests" / "fixtures"


def _online(**online: Any) -> Callable[[dict], dict]:
    def edit(config: dict) -> dict:
        store = dict(config["mlinfra:featureStore"])
        store["online"] = online
        return {**config, "mlinfra:featureStore": store}
    return edit


# fixture name -> how it differs from stacks/Pulumi.hybrid-dev.yaml
VARIANTS: dict[str, Callable[[dict], dict]] = {
    "hybrid-dev": lambda config: config,
    "memorystore-redis": _online(type="redis", engine="redis", memoryGb=1, keyTtlSeconds=604800),
    "bigtable": _online(type="bigtable", minNodes=1, maxNodes=2),
}


def generate() -> dict[str, str]:
    """Fixture file name -> its text, from a fresh plan of each variant."""
    from tests.conftest import run_config, stack_config

    out = {}
    for name, edit in VARIANTS.items():
        recording = run_config(edit(stack_config("hybrid-dev")), stack="hybrid-dev")
        out[f"{name}.feature_store.yaml"] = recording.outputs["feature_store_yaml"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale fixtures")
    args = parser.parse_args(argv)
    stale = []
    for name, text in generate().items():
        path = FIXTURES / name
        if path.is_file() and path.read_text() == text:
            continue
        stale.append(name)
        if not args.check:
            FIXTURES.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print(("stale: " if args.check else "wrote: ") + ", ".join(stale))
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
