"""The offline plan: run the real program for a stack under the mock engine, then show it as
a resource tree with counts, or as JSON shaped like `pulumi preview --json`."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Optional

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import rpc

from infra import engine
from infra.stackfile import Project, read_stack_config, to_engine_config

# Signatures Pulumi uses for assets and archives in its JSON.
_SIG = "4dabf18193072939515e22adb298388d"
_ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
_ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
# A value known only after apply (an address the cloud assigns): in the JSON, the placeholder
# `pulumi preview --json` writes for one; in the text the plan prints, words.
UNKNOWN_JSON = rpc.UNKNOWN
UNKNOWN_TEXT = "(known after apply)"
PROVIDER_VERSIONS = {"gcp": "10.2.0", "aws": "7.51.1", "kubernetes": "4.34.2", "github": "6.15.0"}


@dataclass
class Plan:
    stack: str
    file: str
    config: dict[str, Any]
    recording: engine.Recording
    seconds: float
    warnings: list[str]

    @cached_property
    def verdicts(self) -> list["guardrails.Verdict"]:  # noqa: F821
        """Every guardrail's verdict on this plan, with the stack file's waivers applied."""
        # Imported here: the rules are for reading a finished plan, and `pulumi up` runs the
        # program without them, so planning (what the benchmark times) does not load them.
        from infra import guardrails

        waivers = [guardrails.Waiver(w["rule"], w["reason"], tuple(w.get("resources") or ()))
                   for w in self.config.get("mlinfra:waivers") or []]
        return guardrails.judge(guardrails.resources_of(self.recording), waivers)


def plan_stack(project: Project, stack: str) -> Plan:
    """Plan one stack offline. Raises ConfigError for a bad stack file."""
    path = project.stack_file(stack)
    if not path.is_file():
        available = ", ".join(project.stacks()) or "none"
        raise FileNotFoundError(f"no stack file {project.display(path)} (stacks: {available})")
    written = read_stack_config(path, project.display(path))
    values, secrets = to_engine_config(written)
    warnings = []
    if secrets:
        warnings.append(f"secure values are not decrypted offline: {', '.join(secrets)}")
    started = time.perf_counter()
    recording = engine.run(project.main, project=project.name, stack=stack, config=values,
                           secret_keys=secrets, cwd=project.root)
    return Plan(stack, project.display(path), written, recording, time.perf_counter() - started, warnings)


def render_tree(plan: Plan) -> str:
    rec = plan.recording
    lines = [f"Offline plan of stack {plan.stack} ({plan.file}): Pulumi's mock engine, no cloud calls", ""]
    by_parent: dict[Optional[str], list[engine.Registration]] = {}
    for r in rec.registrations:
        by_parent.setdefault(r.parent, []).append(r)

    def walk(r: engine.Registration, prefix: str, last: bool, top: bool) -> None:
        marks = " [protect]" if r.protect else ""
        summary = summarize(r)
        if summary:
            marks += f"  ({summary})"
        branch = "" if top else ("└─ " if last else "├─ ")
        lines.append(f"{prefix}{branch}{r.type}  {r.name}{marks}")
        children = sorted(by_parent.get(r.urn, []), key=lambda c: (not c.custom, c.type, c.name))
        child_prefix = prefix if top else prefix + ("   " if last else "│  ")
        for i, child in enumerate(children):
            walk(child, child_prefix, i == len(children) - 1, False)

    for root in by_parent.get(None, []):
        walk(root, "", True, True)

    counts = rec.count_by_type()
    custom = sum(n for t, n in counts.items() if not t.startswith("mlinfra:"))
    lines += ["", f"Resources: {custom} cloud resources to create, in {sum(counts.values()) - custom} components"]
    for type_, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {n:4d}  {type_}")
    if rec.outputs:
        lines += ["", "Outputs:"]
        for key, value in rec.outputs.items():
            lines.append(f"  {key}: {json.dumps(_jsonable(value, UNKNOWN_TEXT), sort_keys=True)}")
    from infra import guardrails
    from infra.cost import render as cost

    lines += ["", cost.table(cost.of_plan(plan))]
    lines += ["", guardrails.render(plan.verdicts)]
    for warning in plan.warnings:
        lines.append(f"warning: {warning}")
    # What the program says about what it will not create (an existing VPC, ...).
    for level, message in rec.log:
        lines.append(f"{'note' if level == 'info' else level}: {message}")
    return "\n".join(lines)


def summarize(r: engine.Registration) -> Optional[str]:
    """The few settings a reviewer looks for first, for the resources that have them."""
    i = r.inputs
    if r.type == "gcp:container/nodePool:NodePool":
        node = i.get("nodeConfig") or {}
        auto = i.get("autoscaling") or {}
        gpus = ", ".join(f"{g.get('count')}x {g.get('type')}" for g in node.get("guestAccelerators") or [])
        if "minNodeCount" in auto:
            # Per-zone counts multiply by the pool's zones: its own, one for a zonal cluster, else the
            # three GKE picks in the cluster's region.
            location = str(i.get("location") or "")
            zones = len(i.get("nodeLocations") or []) or (1 if location.count("-") == 2 else 3)
            lo, hi = auto.get("minNodeCount"), auto.get("maxNodeCount")
            scale = f"{lo}-{hi} per zone" + (f" ({lo * zones}-{hi * zones} in {zones} zones)"
                                             if zones > 1 and isinstance(lo, int) and isinstance(hi, int) else "")
        else:
            scale = f"{auto.get('totalMinNodeCount')}-{auto.get('totalMaxNodeCount')} in total"
        taints = ", ".join(t.get("key", "") for t in node.get("taints") or [])
        parts = [node.get("machineType"), gpus or None, "spot" if node.get("spot") else None, scale,
                 f"taints {taints}" if taints else None]
        return ", ".join(p for p in parts if p)
    if r.type == "gcp:cloudrunv2/service:Service":
        t = i.get("template") or {}
        limits = ((t.get("containers") or [{}])[0].get("resources") or {}).get("limits") or {}
        scaling = t.get("scaling") or {}
        split = " / ".join(f"{x.get('tag')} {x.get('percent')}%" for x in i.get("traffics") or [])
        gpu = f", {limits['nvidia.com/gpu']}x {(t.get('nodeSelector') or {}).get('accelerator')}" \
            if "nvidia.com/gpu" in limits else ""
        return (f"{limits.get('cpu')} CPU, {limits.get('memory')}{gpu}, "
                f"{scaling.get('minInstanceCount')}-{scaling.get('maxInstanceCount')} instances, {split}")
    if r.type == "gcp:cloudfunctionsv2/function:Function":
        event = (i.get("eventTrigger") or {}).get("eventType")
        return f"{(i.get('buildConfig') or {}).get('runtime')}, " + ("event: Pub/Sub" if event else "HTTP")
    return None


def _jsonable(value: Any, unknown: str = UNKNOWN_JSON) -> Any:
    """`value` as plain JSON; a value the mock engine leaves unknown becomes `unknown`."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v, unknown) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, unknown) for v in value]
    if isinstance(value, Unknown) or value == rpc.UNKNOWN:
        return unknown
    if isinstance(value, pulumi.Archive):
        path = getattr(value, "path", None)
        return {_SIG: _ARCHIVE_SIG, "path": path} if path else {_SIG: _ARCHIVE_SIG}
    if isinstance(value, pulumi.Asset):
        return {_SIG: _ASSET_SIG, "path": getattr(value, "path", None)}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def preview_json(plan: Plan) -> dict[str, Any]:
    """The plan as `pulumi preview --json` prints it: steps with op, urn and newState. Without
    Pulumi's optional `duration`: the same plan writes the same file (the time is on the summary line)."""
    rec = plan.recording
    prefix = f"urn:pulumi:{rec.stack}::{rec.project}::"
    packages = sorted({r.package for r in rec.registrations if r.package})
    providers = {}
    steps = []
    ordered = rec.tree_order()
    stack_urn = ordered[0].urn if ordered and ordered[0].type == engine.STACK_TYPE else None
    provider_steps = []
    for package in packages:
        name = f"default_{PROVIDER_VERSIONS.get(package, '0').replace('.', '_')}"
        urn = f"{prefix}pulumi:providers:{package}::{name}"
        providers[package] = f"{urn}::00000000-0000-0000-0000-000000000000"
        inputs = {k.split(":", 1)[1]: v for k, v in plan.config.items() if k.startswith(f"{package}:")}
        inputs["version"] = PROVIDER_VERSIONS.get(package, "")
        provider_steps.append({"op": "create", "urn": urn, "newState": {
            "urn": urn, "custom": True, "type": f"pulumi:providers:{package}", "inputs": _jsonable(inputs),
            "parent": stack_urn or "", "dependencies": []}})
    for r in ordered:
        state = {
            "urn": r.urn, "custom": r.custom, "type": r.type, "inputs": _jsonable(r.inputs),
            "outputs": _jsonable(r.outputs) if r.custom else {},
            "parent": r.parent or "", "dependencies": r.dependencies,
            "propertyDependencies": r.property_dependencies,
        }
        if r.type == engine.STACK_TYPE:
            state["outputs"] = _jsonable(rec.outputs)
        if r.protect:
            state["protect"] = True
        if r.retain_on_delete:
            state["retainOnDelete"] = True
        if r.aliases:
            state["aliases"] = r.aliases
        if r.custom:
            state["provider"] = r.provider or providers.get(r.package, "")
        steps.append({"op": "create", "urn": r.urn, "provider": state.get("provider", ""), "newState": state})
        if r.type == engine.STACK_TYPE:
            steps += provider_steps  # as in Pulumi's own previews: the stack, its providers, the rest
    return {
        "config": {k: v if isinstance(v, str) else json.dumps(v) for k, v in plan.config.items()},
        "steps": steps,
        "changeSummary": {"create": len(steps)},
        "cost": _cost_json(plan),
    }


def _cost_json(plan: Plan) -> dict[str, Any]:
    from infra.cost import render as cost

    return cost.of_plan(plan).to_json()


def write_json(plan: Plan, path: Path) -> None:
    path.write_text(json.dumps(preview_json(plan), indent=2, sort_keys=False) + "\n")


HELM_RELEASE = "kubernetes:helm.sh/"


def kubernetes_objects(plan: Plan) -> list[dict[str, Any]]:
    """Every Kubernetes object the program creates, as the manifest the provider would apply."""
    objects = []
    for r in plan.recording.tree_order():
        if not r.custom or not r.type.startswith("kubernetes:") or r.type.startswith(HELM_RELEASE):
            continue  # a Helm release is no object: its chart's objects are rendered in the cluster
        _, group_version, kind = r.type.split(":")
        group, version = group_version.rsplit("/", 1)
        obj = _jsonable(dict(r.inputs))
        obj.setdefault("apiVersion", version if group == "core" else f"{group}/{version}")
        obj.setdefault("kind", kind)
        obj.setdefault("metadata", {}).setdefault("name", r.name)
        ordered = {k: obj[k] for k in ("apiVersion", "kind", "metadata") if k in obj}
        ordered.update({k: v for k, v in obj.items() if k not in ordered})
        objects.append(ordered)
    return objects


def manifest_name(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata", {})
    name = f"{obj['kind'].lower()}-{meta.get('namespace', 'cluster')}-{meta['name']}"
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".yaml"


def write_manifests(plan: Plan, directory: Path) -> list[Path]:
    """One YAML file per Kubernetes object, ready for review; returns the files written."""
    import yaml

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for obj in kubernetes_objects(plan):
        path = directory / manifest_name(obj)
        path.write_text(yaml.safe_dump(obj, sort_keys=False, default_flow_style=False))
        written.append(path)
    return written
