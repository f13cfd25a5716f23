"""Benchmark the offline plan against the bare Pulumi SDK registering the same resources.

For every stack (or those given with --stack) this measures, each in a fresh Python process:

* plan:     `infra.plan.plan_stack` for the stack, imports included (mlinfra's config
            validation, components and the provider packages they import);
* baseline: the same resources (type, name, custom, parent, inputs) registered straight
            through `pulumi.CustomResource` / `pulumi.ComponentResource` under the same mock
            engine (`infra.engine.run`) and config: no mlinfra components, no config validation,
            no provider packages.

Time runs from the start of the measured code (before importing infra.plan or the SDK) until
the plan (or the baseline program) returns; peak memory is that process's ru_maxrss.

Usage: .venv/bin/python bench/run.py [--repeat N] [--json FILE] [--stack NAME ...]
Timings are printed, never asserted.

Note on memory: on Linux a child process's ru_maxrss starts at its parent's resident size at
fork time, so this parent process imports nothing heavy (no pulumi, no providers): its own peak
is printed as the floor below which no figure can go.
"""

from __future__ import annotations

import argparse
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

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

STACK_TYPE = "pulumi:pulumi:Stack"
MARK = "$bench"
"""Key marking an encoded asset or archive in the registrations file (JSON has no such type)."""


# --------------------------------------------------------------------------------------------
# Encoding resource inputs as JSON, so the baseline process needs neither the plan nor pickle.
# --------------------------------------------------------------------------------------------

def encode_value(value: Any, where: str) -> Any:
    """A resource input as plain JSON; assets and archives become {MARK: class name, ...}.

    Secret inputs arrive from the mock monitor as Pulumi's secret signature dict
    ({"4dabf1...": "1b4706...", "value": ...}); passed back as props, that dict is serialized
    exactly as `pulumi.Output.secret(value)` would be, so it needs no special case.
    """
    import pulumi

    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, list):
        return [encode_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): encode_value(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (pulumi.FileAsset, pulumi.FileArchive)):
        return {MARK: type(value).__name__, "path": str(value.path)}
    if isinstance(value, (pulumi.RemoteAsset, pulumi.RemoteArchive)):
        return {MARK: type(value).__name__, "uri": value.uri}
    if isinstance(value, pulumi.StringAsset):
        return {MARK: "StringAsset", "text": value.text}
    if isinstance(value, pulumi.AssetArchive):
        return {MARK: "AssetArchive",
                "assets": {k: encode_value(v, f"{where}.{k}") for k, v in value.assets.items()}}
    raise TypeError(f"bench: cannot encode the input {where} of type {type(value).__name__}")


def decode_value(value: Any) -> Any:
    """The inverse of encode_value: JSON back to resource inputs."""
    import pulumi

    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get(MARK)
    if kind is None:
        return {k: decode_value(v) for k, v in value.items()}
    if kind == "FileAsset":
        return pulumi.FileAsset(value["path"])
    if kind == "FileArchive":
        return pulumi.FileArchive(value["path"])
    if kind == "RemoteAsset":
        return pulumi.RemoteAsset(value["uri"])
    if kind == "RemoteArchive":
        return pulumi.RemoteArchive(value["uri"])
    if kind == "StringAsset":
        return pulumi.StringAsset(value["text"])
    if kind == "AssetArchive":
        return pulumi.AssetArchive({k: decode_value(v) for k, v in value["assets"].items()})
    raise ValueError(f"bench: unknown encoded value {kind!r}")


# --------------------------------------------------------------------------------------------
# The two measured workers. Each runs in its own process and writes one JSON result file.
# --------------------------------------------------------------------------------------------

def peak_memory_kib() -> int:
    """This process's peak resident set size (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def undeclared_provider_packages(imported: list[str], pattern: str) -> list[str]:
    """Imported provider subpackages (`pulumi_gcp.compute`, not helper modules such as
    `pulumi_gcp.provider`) that the pattern does not declare in `Pattern.providers`."""
    from infra.patterns import PATTERNS

    declared = PATTERNS[pattern].providers if pattern in PATTERNS else frozenset()
    return [name for name in imported
            if "." in name and hasattr(sys.modules[name], "__path__") and name not in declared]


def plan_worker(stack: str, result_file: Path, dump_file: Optional[Path]) -> None:
    """Measure one offline plan of `stack`; optionally dump its registrations for the baseline."""
    started = time.perf_counter()
    from infra import engine
    from infra.plan import plan_stack
    from infra.stackfile import find_project

    project = find_project(PROJECT_ROOT)
    plan = plan_stack(project, stack)
    seconds = time.perf_counter() - started
    peak_kib = peak_memory_kib()

    imported = engine.provider_modules()
    pattern = str(plan.config.get("mlinfra:pattern"))
    result = {
        "seconds": seconds,
        "engine_seconds": plan.seconds,
        "peak_kib": peak_kib,
        "resources": len(plan.recording.registrations),
        "provider_modules": imported,
        "pattern": pattern,
        "undeclared_provider_packages": undeclared_provider_packages(imported, pattern),
    }
    if dump_file is not None:
        dump_registrations(project, stack, plan.recording, dump_file)
    result_file.write_text(json.dumps(result))


def dump_registrations(project: Any, stack: str, recording: Any, dump_file: Path) -> None:
    """Write what the baseline needs: engine config and the registrations in tree order."""
    from infra.stackfile import read_stack_config, to_engine_config

    values, secrets = to_engine_config(read_stack_config(project.stack_file(stack)))
    stack_urns = {r.urn for r in recording.registrations if r.type == STACK_TYPE}
    registrations = []
    for r in recording.tree_order():
        if r.type == STACK_TYPE:
            continue  # engine.run creates the stack resource itself
        registrations.append({
            "urn": r.urn,
            "type": r.type,
            "name": r.name,
            "custom": r.custom,
            # A child of the stack is created without a parent: the SDK parents it to the stack.
            "parent": None if r.parent in stack_urns else r.parent,
            "inputs": encode_value(r.inputs, f"{r.type}::{r.name}") if r.custom else {},
        })
    dump_file.write_text(json.dumps({
        "project": project.name,
        "stack": stack,
        "config": values,
        "secret_keys": secrets,
        "urns": sorted(r.urn for r in recording.registrations),
        "registrations": registrations,
    }))


def baseline_worker(dump_file: Path, result_file: Path) -> None:
    """Measure registering the dumped resources with the bare SDK under the same mocks."""
    started = time.perf_counter()
    dump = json.loads(dump_file.read_text())
    import pulumi
    from infra import engine

    def program() -> None:
        """Create every dumped resource, parents first, with its parent object."""
        created: dict[str, pulumi.Resource] = {}
        for reg in dump["registrations"]:
            parent = None if reg["parent"] is None else created[reg["parent"]]
            opts = pulumi.ResourceOptions(parent=parent)
            if reg["custom"]:
                res = pulumi.CustomResource(reg["type"], reg["name"], props=decode_value(reg["inputs"]), opts=opts)
            else:
                res = pulumi.ComponentResource(reg["type"], reg["name"], None, opts=opts)
                res.register_outputs({})
            created[reg["urn"]] = res

    recording = engine.run(program, project=dump["project"], stack=dump["stack"],
                           config=dump["config"], secret_keys=dump["secret_keys"])
    seconds = time.perf_counter() - started
    peak_kib = peak_memory_kib()

    if "pulumi_gcp" in sys.modules or engine.provider_modules():
        raise AssertionError(f"the baseline imported provider packages: {engine.provider_modules()}")
    urns = sorted(r.urn for r in recording.registrations)
    result = {
        "seconds": seconds,
        "peak_kib": peak_kib,
        "resources": len(recording.registrations),
        "same_urns_as_plan": urns == dump["urns"],
        "imported_pulumi_gcp": "pulumi_gcp" in sys.modules,
        "provider_modules": engine.provider_modules(),
        "imported_components": any(m == "components" or m.startswith("components.") for m in sys.modules),
        "imported_infra_config": "infra.config" in sys.modules,
    }
    result_file.write_text(json.dumps(result))


# --------------------------------------------------------------------------------------------
# The parent: starts the workers, collects and prints the figures.
# --------------------------------------------------------------------------------------------

def run_worker(args: list[str], result_file: Path) -> dict[str, Any]:
    """Run this script as a worker in a fresh process and return its JSON result."""
    command = [sys.executable, str(Path(__file__).resolve()), *args, "--result", str(result_file)]
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        last_lines = "\n".join(done.stderr.rstrip().splitlines()[-25:])
        raise RuntimeError(f"worker failed ({' '.join(args)}), exit {done.returncode}:\n{last_lines}")
    return json.loads(result_file.read_text())


def measure_stack(stack: str, repeat: int, workdir: Path) -> dict[str, Any]:
    """Measure the plan and the baseline of one stack `repeat` times each, alternating."""
    dump_file = workdir / f"{stack}.registrations.json"
    result_file = workdir / f"{stack}.result.json"
    plans, baselines = [], []
    for i in range(repeat):
        plan_args = ["--worker", "plan", "--stack", stack]
        if i == 0:
            plan_args += ["--dump", str(dump_file)]
        plans.append(run_worker(plan_args, result_file))
        baselines.append(run_worker(["--worker", "baseline", "--dump", str(dump_file)], result_file))
        print(f"  {stack} run {i + 1}/{repeat}: plan {plans[-1]['seconds']:.2f}s, "
              f"baseline {baselines[-1]['seconds']:.2f}s", file=sys.stderr)
    return summarize(stack, plans, baselines)


def summarize(stack: str, plans: list[dict], baselines: list[dict]) -> dict[str, Any]:
    """Median time and max peak memory of each side, their ratios, and the per-run figures."""
    plan_s = statistics.median(p["seconds"] for p in plans)
    base_s = statistics.median(b["seconds"] for b in baselines)
    plan_kib = max(p["peak_kib"] for p in plans)
    base_kib = max(b["peak_kib"] for b in baselines)
    last_plan, last_base = plans[-1], baselines[-1]
    return {
        "stack": stack,
        "resources": last_plan["resources"],
        "baseline_resources": last_base["resources"],
        "plan_seconds": plan_s,
        "baseline_seconds": base_s,
        "time_ratio": plan_s / base_s,
        "plan_peak_mib": plan_kib / 1024,
        "baseline_peak_mib": base_kib / 1024,
        "memory_ratio": plan_kib / base_kib,
        "plan_provider_modules": last_plan["provider_modules"],
        "pattern": last_plan["pattern"],
        "undeclared_provider_packages": last_plan["undeclared_provider_packages"],
        "baseline_same_urns": all(b["same_urns_as_plan"] for b in baselines),
        "baseline_imported_pulumi_gcp": any(b["imported_pulumi_gcp"] for b in baselines),
        "baseline_provider_modules": last_base["provider_modules"],
        "baseline_imported_components": any(b["imported_components"] for b in baselines),
        "baseline_imported_infra_config": any(b["imported_infra_config"] for b in baselines),
        "plan_runs": plans,
        "baseline_runs": baselines,
    }


def print_report(results: list[dict[str, Any]], repeat: int, parent_kib: int) -> None:
    """The table, the provider submodules each plan imported, and how to reproduce."""
    header = ["stack", "resources", "plan s", "baseline s", "time x", "plan MiB", "baseline MiB", "memory x"]
    rows = [[r["stack"], str(r["resources"]), f"{r['plan_seconds']:.2f}", f"{r['baseline_seconds']:.2f}",
             f"{r['time_ratio']:.1f}", f"{r['plan_peak_mib']:.1f}", f"{r['baseline_peak_mib']:.1f}",
             f"{r['memory_ratio']:.1f}"] for r in results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print()
    print(f"Offline plan vs bare SDK, same resources under the same mocks "
          f"(median of {repeat} for time, max of {repeat} for peak memory)")
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))
    print(f"resources = registrations including the stack; this parent's own peak, the floor of every "
          f"memory figure: {parent_kib / 1024:.1f} MiB")

    for r in results:
        print()
        print(f"{r['stack']}: provider modules the plan imported (engine.provider_modules()):")
        for name in r["plan_provider_modules"]:
            print(f"  {name}")
        extra = r["undeclared_provider_packages"]
        print(f"  all within the {r['pattern']} pattern's declared providers" if not extra else
              f"  NOT declared by the {r['pattern']} pattern (infra/patterns.py): {', '.join(extra)}")
        checks = "same URNs as the plan" if r["baseline_same_urns"] else "URNs DIFFER from the plan"
        print(f"  baseline: {checks}; imported pulumi_gcp: {'yes' if r['baseline_imported_pulumi_gcp'] else 'no'}; "
              f"mlinfra components: {'yes' if r['baseline_imported_components'] else 'no'}; "
              f"config validation: {'yes' if r['baseline_imported_infra_config'] else 'no'}")
    print()
    print("Reproduce: make bench   (or: .venv/bin/python bench/run.py --repeat 3 --json bench/results/bench.json)")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the offline plan against the bare Pulumi SDK.")
    parser.add_argument("--repeat", type=int, default=3, help="measurements per stack and side (default 3)")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--stack", nargs="+", action="extend", help="stacks to measure (default: every stacks/Pulumi.*.yaml)")
    # Worker mode, used by the parent only.
    parser.add_argument("--worker", choices=["plan", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker == "plan":
        plan_worker(args.stack[0], args.result, args.dump)
        return 0
    if args.worker == "baseline":
        baseline_worker(args.dump, args.result)
        return 0

    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    from infra.stackfile import find_project

    project = find_project(PROJECT_ROOT)
    available = project.stacks()
    stacks = list(dict.fromkeys(args.stack or available))  # in the order given, each once
    unknown = [s for s in stacks if s not in available]
    if unknown:
        parser.error(f"no stack file for {', '.join(unknown)} (stacks: {', '.join(available) or 'none'})")

    results, failed = [], []
    with tempfile.TemporaryDirectory(prefix="mlinfra-bench-") as workdir:
        for stack in stacks:
            try:
                results.append(measure_stack(stack, args.repeat, Path(workdir)))
            except RuntimeError as error:
                print(f"bench: stack {stack} skipped: {error}", file=sys.stderr)
                failed.append(stack)
    parent_kib = peak_memory_kib()
    print_report(results, args.repeat, parent_kib)
    if failed:
        print(f"FAILED (see above): {', '.join(failed)}")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "repeat": args.repeat,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "parent_peak_kib": parent_kib,
            "stacks": results,
            "failed": failed,
        }, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0 if not failed and all(r["baseline_same_urns"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
