"""How long validating a stack file takes: `config.load` on its config, as `mlinfra validate`
and the program run it, in a fresh interpreter (so the schema's imports count), and again warm.

    .venv/bin/python bench/validation.py [--stack k8s-prod] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WORKER = """
import json, sys, time
started = time.perf_counter()
from infra import config
from infra.stackfile import find_project, read_stack_config, to_engine_config
project = find_project()
path = project.stack_file(sys.argv[1])
values, _ = to_engine_config(read_stack_config(path))
config.load(values, stack=sys.argv[1], file=str(path), root=project.root)
cold = time.perf_counter() - started
warm = []
for _ in range(5):
    t = time.perf_counter()
    config.load(values, stack=sys.argv[1], file=str(path), root=project.root)
    warm.append(time.perf_counter() - t)
print(json.dumps({"cold": cold, "warm": min(warm)}))
"""


def measure(stack: str, repeat: int) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", WORKER, stack], cwd=ROOT, capture_output=True, text=True,
                              check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(r[key] for r in runs) for key in ("cold", "warm")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="k8s-prod", help="the stack to validate (default: the largest, k8s-prod)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    figures = measure(args.stack, args.repeat)
    print(f"validation of {args.stack}: {figures['cold']:.3f} s in a fresh interpreter (imports included), "
          f"{figures['warm'] * 1000:.1f} ms warm (median of {args.repeat})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
