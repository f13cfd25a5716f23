"""Benchmark the offline plan against the hand-written Pulumi program for the same resources.

For each target stack (default: the largest example stack, k8s-prod, and serverless stacks of
about 100, 500 and 1,000 resources generated into a temporary project), each in a fresh
Python process and alternating:

* plan:          `infra.plan.plan_stack`: the stack file read and validated, mlinfra's
                 components, the provider classes they import (and infra/runtime.py's tuning,
                 which the program applies at its start);
* user program:  the hand-written program (bench/baseline.py writes it from the plan's
                 recording: typed provider classes, the same parents, options and inputs)
                 under the same mocks (`infra.engine.run`) and the same stack file, read the
                 same way (the Pulumi CLI reads it for any program), as a user runs it;
* tuned program: the same program with the plan's interpreter tuning as its first line.

Each program must register exactly the plan's URNs with the plan's inputs (checked every run).
"run" time is from the worker's first line (before importing Pulumi) until the program
returns; "wall" is the whole process as the shell sees it (interpreter start and exit too).
Peak memory is the process's ru_maxrss. Timings are printed, never asserted.

Usage: .venv/bin/python bench/run.py [--repeat N | --quick] [--json FILE] [--stack NAME ...]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

_STARTED = time.perf_counter()  # a worker's clock starts before anything heavy is imported

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.stacks import write_project  # noqa: E402 - yaml only: the parent stays small

GENERATED = {"gen-100": 13, "gen-500": 80, "gen-1000": 163}
"""Generated serverless stacks: name -> model servers (six registrations each, beside the
stack's fixed 23), so about 100, 500 and 1,000 resources."""
# The largest example stack, the dataflow and hybrid examples, and the generated ones. (eks-dev: the
# hand-written baseline cannot write pulumi-aws's split S3 resources yet, see bench/README.md.)
DEFAULT_TARGETS = ["k8s-prod", "dataflow-dev", "hybrid-dev", "hybrid-prod", *GENERATED]
SIDES = ("plan", "user", "tuned")


# --------------------------------------------------------------------------------------------
# Workers: each runs in its own process and writes one JSON result file.
# --------------------------------------------------------------------------------------------

class GcClock:
    """Seconds the cyclic collector ran, from its own start/stop callbacks."""

    def __init__(self) -> None:
        self.seconds, self._since = 0.0, 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._since = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._since


def figures(seconds: float, clock: GcClock) -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # CPU time as well as elapsed time: on a shared machine it is far less disturbed by load.
    return {"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime, "gc_seconds": clock.seconds,
            "gc_collections": sum(s["collections"] for s in gc.get_stats()),
            "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def encoded(value: Any) -> Any:
    """Inputs as comparable JSON (assets and archives have no equality of their own)."""
    import pulumi

    if isinstance(value, dict):
        return {str(k): encoded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encoded(v) for v in value]
    if isinstance(value, (pulumi.Asset, pulumi.Archive)):
        fields = {k: encoded(v) for k, v in vars(value).items() if not k.startswith("_")}
        return {"$asset": type(value).__name__, **{k: str(v) for k, v in fields.items()}}
    return value


def plan_worker(project_dir: Path, stack: str, result: Path, programs: Optional[Path]) -> None:
    """Time one offline plan; with `programs`, also write the two baseline programs and what
    they must register."""
    clock = GcClock()
    from infra.plan import plan_stack
    from infra.stackfile import read_project

    project = read_project(project_dir)
    plan = plan_stack(project, stack)
    out = figures(time.perf_counter() - _STARTED, clock)
    out["resources"] = len(plan.recording.registrations)
    out["undeclared_provider_packages"] = undeclared_provider_packages(
        str(plan.config.get("mlinfra:cloud") or "gcp"), str(plan.config.get("mlinfra:pattern")))
    if programs is not None:
        write_baselines(project, stack, plan.recording.registrations, programs)
    result.write_text(json.dumps(out))


def undeclared_provider_packages(cloud: str, pattern: str) -> list[str]:
    """Provider subpackages imported that the pattern does not declare (infra/patterns/registry.py)."""
    from infra import engine
    from infra.patterns.registry import pattern_for

    found = pattern_for(cloud, pattern)
    declared = found.providers if found is not None else frozenset()
    return [name for name in engine.provider_modules()
            if "." in name and hasattr(sys.modules[name], "__path__") and name not in declared]


def write_baselines(project: Any, stack: str, registrations: list[Any], programs: Path) -> None:
    from bench import baseline

    for side, tuned in (("user", False), ("tuned", True)):
        baseline.write_program(programs / side, registrations, stack, tuned, PROJECT_ROOT)
    (programs / "expected.json").write_text(json.dumps({
        "project": project.name, "stack": stack, "root": str(project.root),
        "stack_file": str(project.stack_file(stack)),
        "inputs": {r.urn: encoded(r.inputs) for r in registrations},
    }))


def program_worker(main: Path, expected_file: Path, result: Path) -> None:
    """Time one hand-written program under the mocks, then check what it registered."""
    clock = GcClock()
    expected = json.loads(expected_file.read_text())
    from infra import engine
    from infra.stackfile import read_stack_config, to_engine_config

    # The stack file is read as the plan reads it: under `pulumi up` the CLI reads it for any
    # program, so neither side is spared it.
    values, secrets = to_engine_config(read_stack_config(Path(expected["stack_file"])))
    recording = engine.run(main, project=expected["project"], stack=expected["stack"],
                           config=values, secret_keys=secrets, cwd=Path(expected["root"]))
    out = figures(time.perf_counter() - _STARTED, clock)
    got = {r.urn: encoded(r.inputs) for r in recording.registrations}
    want = expected["inputs"]
    out["resources"] = len(got)
    out["same_urns"] = sorted(got) == sorted(want)
    out["inputs_differ"] = sorted(u for u in want if u in got and got[u] != want[u])
    out["imported_mlinfra"] = sorted(m for m in sys.modules if m.split(".")[0] == "components"
                                     or m in ("infra.config", "infra.patterns", "infra.build"))
    result.write_text(json.dumps(out))


# --------------------------------------------------------------------------------------------
# The parent: prepares the targets, alternates the workers, prints the figures.
# --------------------------------------------------------------------------------------------

def run_worker(args: list[str], result: Path) -> dict[str, Any]:
    """This script as a worker in a fresh process; its result plus the process's wall time."""
    command = [sys.executable, str(Path(__file__).resolve()), *args, "--result", str(result)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    process_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if done.returncode != 0:
        last_lines = "\n".join(done.stderr.rstrip().splitlines()[-25:])
        raise RuntimeError(f"worker failed ({' '.join(args)}), exit {done.returncode}:\n{last_lines}")
    return {**json.loads(result.read_text()), "wall_seconds": wall, "process_cpu_seconds": process_cpu}


def measure(target: str, project_dir: Path, repeat: int, workdir: Path) -> dict[str, Any]:
    """Every side of one target `repeat` times, rotating which side goes first."""
    programs = workdir / target
    result = workdir / f"{target}.result.json"
    runs: dict[str, list[dict]] = {side: [] for side in SIDES}
    # An untimed plan first: it writes the baseline programs (and warms the file cache).
    run_worker(["--worker", "plan", "--project", str(project_dir), "--stack", target,
                "--programs", str(programs)], result)
    for i in range(repeat):
        order = SIDES[i % 3:] + SIDES[:i % 3]
        for side in order:
            if side == "plan":
                args = ["--worker", "plan", "--project", str(project_dir), "--stack", target]
            else:
                args = ["--worker", "program", "--main", str(programs / side / "__main__.py"),
                        "--expected", str(programs / "expected.json")]
            runs[side].append(run_worker(args, result))
        print(f"  {target} {i + 1}/{repeat}: " + ", ".join(
            f"{s} {runs[s][-1]['seconds']:.2f}s ({runs[s][-1]['cpu_seconds']:.2f}s CPU)" for s in SIDES),
            file=sys.stderr, flush=True)
    return summarize(target, runs)


def summarize(target: str, runs: dict[str, list[dict]]) -> dict[str, Any]:
    """Medians of time, max of peak memory, per side; ratios of the plan to each program."""
    out: dict[str, Any] = {"stack": target, "resources": runs["plan"][-1]["resources"], "runs": runs}
    for side, side_runs in runs.items():
        for key in ("seconds", "cpu_seconds", "wall_seconds", "process_cpu_seconds", "gc_seconds"):
            out[f"{side}_{key}"] = statistics.median(r[key] for r in side_runs)
        out[f"{side}_peak_mib"] = max(r["peak_kib"] for r in side_runs) / 1024
    for side in ("user", "tuned"):
        for key in ("seconds", "cpu_seconds", "wall_seconds", "process_cpu_seconds"):
            out[f"plan_vs_{side}_{key}"] = out[f"plan_{key}"] / out[f"{side}_{key}"]
    programs = runs["user"] + runs["tuned"]
    out["programs_same_urns"] = all(r["same_urns"] and r["resources"] == out["resources"] for r in programs)
    out["programs_inputs_differ"] = sorted({u for r in programs for u in r["inputs_differ"]})
    out["programs_imported_mlinfra"] = sorted({m for r in programs for m in r["imported_mlinfra"]})
    out["undeclared_provider_packages"] = runs["plan"][-1]["undeclared_provider_packages"]
    return out


def per_resource(results: list[dict[str, Any]], key: str) -> list[str]:
    """Cost per resource of each side: average at each generated size, and marginal between
    consecutive sizes (a constant marginal cost is linear growth)."""
    generated = sorted((r for r in results if r["stack"] in GENERATED), key=lambda r: r["resources"])
    lines = []
    for side in SIDES:
        parts = [f"{r['resources']}: {1000 * r[f'{side}_{key}'] / r['resources']:.1f}" for r in generated]
        parts += [f"{a['resources']}->{b['resources']}: "
                  f"{1000 * (b[f'{side}_{key}'] - a[f'{side}_{key}']) / (b['resources'] - a['resources']):.2f}"
                  for a, b in zip(generated, generated[1:])]
        lines.append(f"  {side:6s} " + "; ".join(parts))
    return lines


def _rows(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
            for row in [header, ["-" * w for w in widths], *rows]]


def tables(results: list[dict[str, Any]]) -> list[str]:
    def trio(r: dict, key: str, fmt: str = "{:.2f}") -> str:
        return "/".join(fmt.format(r[f"{s}_{key}"]) for s in SIDES)

    time_rows = [[r["stack"], str(r["resources"]), trio(r, "seconds"), f"{r['plan_vs_user_seconds']:.2f}x",
                  f"{r['plan_vs_tuned_seconds']:.2f}x", trio(r, "cpu_seconds"),
                  f"{r['plan_vs_user_cpu_seconds']:.2f}x", f"{r['plan_vs_tuned_cpu_seconds']:.2f}x"]
                 for r in results]
    process_rows = [[r["stack"], trio(r, "wall_seconds"), f"{r['plan_vs_user_wall_seconds']:.2f}x",
                     f"{r['plan_vs_tuned_wall_seconds']:.2f}x", trio(r, "process_cpu_seconds"),
                     trio(r, "gc_seconds"), trio(r, "peak_mib", "{:.0f}")] for r in results]
    return [*_rows(["stack", "resources", "run s plan/user/tuned", "plan/user", "plan/tuned",
                    "cpu s plan/user/tuned", "plan/user", "plan/tuned"], time_rows), "",
            "Whole process (interpreter start and exit included), collector time, peak memory:",
            *_rows(["stack", "wall s plan/user/tuned", "plan/user", "plan/tuned", "cpu s plan/user/tuned",
                    "gc s plan/user/tuned", "peak MiB plan/user/tuned"], process_rows)]


def print_report(results: list[dict[str, Any]], repeat: int, parent_kib: int) -> None:
    print()
    print(f"Offline plan vs the hand-written program (typed provider classes, same mocks): "
          f"user = as a user runs it, tuned = with the plan's infra/runtime.py; median of {repeat}")
    print("\n".join(tables(results)))
    print()
    for key, what in (("seconds", "run time"), ("cpu_seconds", "CPU time")):
        print(f"Cost per resource, ms of {what} (average at each size; marginal between sizes):")
        print("\n".join(per_resource(results, key)))
    for r in results:
        checks = "same URNs and inputs as the plan" if r["programs_same_urns"] and not r["programs_inputs_differ"] \
            else f"DIFFER from the plan: URNs same={r['programs_same_urns']}, inputs differ at {r['programs_inputs_differ'][:3]}"
        extra = r["undeclared_provider_packages"]
        print(f"{r['stack']}: programs registered {checks}; mlinfra modules they imported: "
              f"{', '.join(r['programs_imported_mlinfra']) or 'none'}; plan's provider packages "
              + ("all declared by its pattern" if not extra else f"NOT declared: {', '.join(extra)}"))
    print(f"resources = registrations including the stack; this parent's own peak (the floor of "
          f"every memory figure): {parent_kib / 1024:.0f} MiB")
    print("Reproduce: make bench   (or: .venv/bin/python bench/run.py --repeat 5 --json bench/results/bench.json)")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the offline plan against the hand-written program.")
    parser.add_argument("--repeat", type=int, default=3, help="measurements per target and side (default 3)")
    parser.add_argument("--quick", action="store_true", help="one measurement each (a smoke run)")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--stack", nargs="+", action="extend",
                        help=f"targets: example stacks and/or {', '.join(GENERATED)} (default: {' '.join(DEFAULT_TARGETS)})")
    # Worker mode, used by the parent only.
    parser.add_argument("--worker", choices=["plan", "program"], help=argparse.SUPPRESS)
    for flag in ("--project", "--programs", "--main", "--expected", "--result"):
        parser.add_argument(flag, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker == "plan":
        plan_worker(args.project, args.stack[0], args.result, args.programs)
        return 0
    if args.worker == "program":
        program_worker(args.main, args.expected, args.result)
        return 0

    repeat = 1 if args.quick else args.repeat
    if repeat < 1:
        parser.error("--repeat must be at least 1")
    from infra.stackfile import read_project

    examples = read_project(PROJECT_ROOT).stacks()
    targets = list(dict.fromkeys(args.stack or DEFAULT_TARGETS))
    unknown = [t for t in targets if t not in examples and t not in GENERATED]
    if unknown:
        parser.error(f"unknown targets {', '.join(unknown)} (stacks: {', '.join(examples)}; generated: {', '.join(GENERATED)})")

    results, failed = [], []
    with tempfile.TemporaryDirectory(prefix="mlinfra-bench-") as tmp:
        workdir = Path(tmp)
        generated = write_project(workdir / "project", {t: GENERATED[t] for t in targets if t in GENERATED})
        for target in targets:
            try:
                project_dir = generated if target in GENERATED else PROJECT_ROOT
                results.append(measure(target, project_dir, repeat, workdir))
            except RuntimeError as error:
                print(f"bench: {target} skipped: {error}", file=sys.stderr)
                failed.append(target)
    parent_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print_report(results, repeat, parent_kib)
    if failed:
        print(f"FAILED (see above): {', '.join(failed)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"repeat": repeat, "python": sys.version.split()[0],
                                         "platform": platform.platform(), "parent_peak_kib": parent_kib,
                                         "stacks": results, "failed": failed}, indent=2) + "\n")
        print(f"wrote {args.json}")
    ok = all(r["programs_same_urns"] and not r["programs_inputs_differ"] for r in results)
    return 0 if ok and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
