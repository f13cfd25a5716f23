#!/usr/bin/env python3
"""A second, independent security opinion on the rendered Kubernetes manifests: checkov, offline.

For every stack in stacks/ this renders the stack's Kubernetes objects with
`mlinfra plan --stack S --quiet --k8s-out build/manifests/S` (stacks that render none, such as
the serverless ones, are skipped), runs checkov over each directory restricted to
REQUIRED_CHECKS, and fails (exit 1) listing check, file and resource when any required check
fails on any object, unless EXEMPTIONS waives that check for that object with a written reason.

Several checkov checks count a missing setting as passed (privileged, added capabilities, host
namespaces, hostPort, ...), so a scan that evaluated nothing would look green. Two guards:
  * tests/data/insecure-deployment.yaml breaks every required check, and EVERY required check
    must FAIL on it;
  * every pod-bearing object and every Role/binding a stack renders must have a result from each
    required check that applies to its kind, and checkov must report no parsing errors.

checkov lives in its own virtual environment, .venv-checkov (`make scan` creates it): it pins
old libraries that must not share .venv. It runs with --skip-download and with its update check
off, so it makes no network call at all (verified with strace).

Standard library only; run with the project's interpreter: `.venv/bin/python scripts/checkov_scan.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MLINFRA = ROOT / ".venv" / "bin" / "mlinfra"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
MANIFESTS = ROOT / "build" / "manifests"
CANARY = ROOT / "tests" / "data" / "insecure-deployment.yaml"

# Kinds each required check must give a result for (used for the coverage guard).
POD = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")
SERVING = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod")  # probes: not Jobs
NAMESPACED = POD + ("Service", "ServiceAccount", "Role", "RoleBinding", "Secret", "ConfigMap")
CLUSTER_ROLE = ("ClusterRole",)
ROLE = ("Role", "ClusterRole")
BINDING = ("RoleBinding", "ClusterRoleBinding")
DERIVED = ()  # graph check on the Pods checkov derives from workloads: no kind to count

# The checks that must pass on every object. Meanings verified against checkov 3.3.30's source
# (checkov/kubernetes/checks/resource/k8s/*.py and graph_checks/*.json).
REQUIRED_CHECKS: dict[str, tuple[str, ...]] = {
    # --- every container (and init container) of every pod-bearing object ---
    "CKV_K8S_16": POD,  # securityContext.privileged is not true
    "CKV_K8S_20": POD,  # securityContext.allowPrivilegeEscalation is explicitly false
    "CKV_K8S_23": POD,  # runs as non-root: runAsNonRoot true or runAsUser > 0 (pod or container)
    "CKV_K8S_22": POD,  # securityContext.readOnlyRootFilesystem is true
    "CKV_K8S_37": POD,  # capabilities.drop contains ALL
    "CKV_K8S_28": POD,  # capabilities.drop contains NET_RAW (or ALL)
    "CKV_K8S_25": POD,  # capabilities.add is empty: no capability added back
    "CKV_K8S_39": POD,  # SYS_ADMIN is not added
    "CKV_K8S_30": POD,  # the container has a securityContext
    "CKV_K8S_10": POD,  # resources.requests.cpu set
    "CKV_K8S_11": POD,  # resources.limits.cpu set
    "CKV_K8S_12": POD,  # resources.requests.memory set
    "CKV_K8S_13": POD,  # resources.limits.memory set
    "CKV_K8S_14": POD,  # image has a fixed tag (not :latest, not blank) or a digest
    "CKV_K8S_26": POD,  # no hostPort on any container port
    "CKV_K8S_35": POD,  # no secret passed as an environment variable (secretKeyRef / secretRef)
    # --- pod spec ---
    "CKV_K8S_29": POD,  # the pod has a securityContext
    "CKV_K8S_31": POD,  # seccompProfile RuntimeDefault (pod, or every container)
    "CKV_K8S_17": POD,  # hostPID is not true
    "CKV_K8S_18": POD,  # hostIPC is not true
    "CKV_K8S_19": POD,  # hostNetwork is not true
    "CKV_K8S_27": POD,  # no hostPath volume of /var/run/docker.sock
    "CKV_K8S_38": POD,  # automountServiceAccountToken is explicitly false
    # --- long-running pods only (checkov skips Jobs and CronJobs) ---
    "CKV_K8S_8": SERVING,  # every container has a livenessProbe
    "CKV_K8S_9": SERVING,  # every container has a readinessProbe
    # --- placement and network ---
    "CKV_K8S_21": NAMESPACED,  # metadata.namespace is set and is not `default`
    "CKV2_K8S_6": DERIVED,  # a NetworkPolicy's podSelector matches the pod's labels (Deployments,
    #                         Jobs; checkov derives no Pod from a CronJob, and ignores namespaces)
    # --- RBAC: privilege-escalation primitives, every rule of every role ---
    "CKV_K8S_155": CLUSTER_ROLE,  # no create/update/patch on (validating|mutating)webhookconfigurations
    "CKV_K8S_156": CLUSTER_ROLE,  # no update/patch of certificatesigningrequests/approval + approve on signers
    "CKV_K8S_157": ROLE,  # no `bind` on rolebindings/clusterrolebindings
    "CKV_K8S_158": ROLE,  # no `escalate` on roles/clusterroles
    "CKV_K8S_42": BINDING,  # no (Cluster)RoleBinding grants anything to a `default` service account
}

# Checks left out on purpose, and why (the scan does not run them).
NOT_REQUIRED = {
    "CKV_K8S_40": "wants runAsUser >= 10000; model servers and jobs run as 1000 (non-root, all "
    "capabilities dropped), which CKV_K8S_23 already covers",
    "CKV_K8S_43": "wants images pinned by digest; stack files name images by tag "
    "(runtime presets, `jobs[].image`): a supply-chain improvement, not a current rule",
    "CKV_K8S_15": "wants imagePullPolicy Always; with fixed tags IfNotPresent is intended (no "
    "registry round trip on every start, spot nodes restart often)",
    "CKV_K8S_49": "flags any wildcard; the metrics adapter's external-metrics-reader must grant "
    "resources '*' in external.metrics.k8s.io (metric names are dynamic), read-only",
    "CKV2_K8S_5": "false positive: ignores apiGroups, so read-only '*' on external.metrics.k8s.io "
    "counts as 'read all secrets'",
    "CKV2_K8S_1..4": "(bind, pods/exec|nodes/proxy create, impersonate, services/status) see only "
    "one rule of a multi-rule role: a role whose first rule is harmless passes even when a later "
    "rule grants `bind` (tried on 3.3.30); CKV_K8S_157/158 check every rule",
    "CKV_K8S_41": "only concerns a ServiceAccount named `default`, which no stack renders",
    "CKV_K8S_33/34/68-151/159": "dashboard, Tiller, control-plane and kubelet flags, git-sync: "
    "nothing the stacks render (GKE runs the control plane)",
}

# Failures waived for one object, each with its reason. A key matches a resource exactly or as
# a prefix ending at a dot ("Pod.mlinfra-jobs" matches every Pod checkov derives in that
# namespace). An exemption that matches nothing is reported, so the list only shrinks.
EXEMPTIONS: dict[tuple[str, str], str] = {
    ("CKV_K8S_38", "Deployment.custom-metrics.custom-metrics-stackdriver-adapter"): (
        "the adapter is an aggregated API server: it needs its service-account token for "
        "TokenReview/SubjectAccessReview and to read pods and nodes"
    ),
    ("CKV_K8S_38", "Deployment.cluster-autoscaler.cluster-autoscaler"): (
        "the cluster autoscaler reads the cluster's workloads and cordons, drains and deletes nodes: "
        "it needs its service-account token"
    ),
    # A queued job's PodTemplate (the only PodTemplates, in the jobs' namespace): the Job's pods as
    # the autoscaler fits them for its ProvisioningRequest. Probes are not required of Jobs either.
    ("CKV_K8S_8", "PodTemplate.mlinfra-jobs"): "the pods of a batch Job, which serve nothing to probe",
    ("CKV_K8S_9", "PodTemplate.mlinfra-jobs"): "the pods of a batch Job, which serve nothing to probe",
    # EKS stacks with GPU pools: NVIDIA's device plugin (waived as MLI-K8S-001/006 in the stack files).
    ("CKV_K8S_23", "DaemonSet.nvidia-device-plugin.nvidia-device-plugin"): (
        "the device plugin writes its socket into the kubelet's root-owned /var/lib/kubelet/device-plugins"
    ),
    ("CKV_K8S_8", "DaemonSet.nvidia-device-plugin.nvidia-device-plugin"): (
        "the device plugin serves no health endpoint; the kubelet watches it through its socket"
    ),
    ("CKV_K8S_9", "DaemonSet.nvidia-device-plugin.nvidia-device-plugin"): (
        "the device plugin serves no health endpoint; the kubelet watches it through its socket"
    ),
}

# checkov calls home unless told not to: --skip-download stops the platform calls (guidelines,
# run config), CKV_SKIP_PACKAGE_UPDATE_CHECK the version check against the package index.
OFFLINE_ENV = {
    "CKV_SKIP_PACKAGE_UPDATE_CHECK": "True",
    "BC_SKIP_MAPPING": "TRUE",
    "CKV_GITHUB_CONFIG_FETCH_DATA": "False",
    "CKV_GITLAB_CONFIG_FETCH_DATA": "False",
}
# Never hand checkov a platform key, nor settings that change what it runs.
DROPPED_ENV_PREFIXES = ("BC_", "PRISMA_", "CKV_", "CHECKOV_")

KIND_LINE = re.compile(r"^kind:\s*['\"]?([A-Za-z]+)", re.MULTILINE)


class ScanError(Exception):
    """The scan could not run (as opposed to: it ran and found failures)."""


def stacks() -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))


def render(stack: str) -> Path:
    out = MANIFESTS / stack
    if out.exists():
        shutil.rmtree(out)  # no stale objects from an earlier render
    out.mkdir(parents=True)
    cmd = [str(MLINFRA), "plan", "--stack", stack, "--quiet", "--k8s-out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ScanError(f"{' '.join(cmd[1:])} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return out


def kinds_in(target: Path) -> dict[str, int]:
    """Objects per kind, from each YAML document's top-level `kind:` line."""
    files = [target] if target.is_file() else sorted(target.glob("*.y*ml"))
    counts: dict[str, int] = defaultdict(int)
    for f in files:
        for kind in KIND_LINE.findall(f.read_text()):
            counts[kind] += 1
    return dict(counts)


def checkov(target: Path) -> tuple[list[dict], list[dict], str, float]:
    """Run checkov over a directory or file; return (passed, failed, version, seconds)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED_ENV_PREFIXES)}
    env.update(OFFLINE_ENV)
    cmd = [
        str(CHECKOV),
        "-f" if target.is_file() else "-d", str(target),
        "--framework", "kubernetes",
        "--skip-download",
        "--check", ",".join(REQUIRED_CHECKS),
        "--output", "json",
        "--soft-fail",  # failed checks exit 0: any other exit code is checkov itself failing
    ]
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        raise ScanError(f"checkov exited {proc.returncode} on {rel(target)}:\n{proc.stderr[-4000:]}")
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise ScanError(f"checkov printed no JSON for {rel(target)} ({exc}):\n{proc.stdout[:2000]}") from exc
    if isinstance(report, list):  # one report per framework; we asked for one
        report = next((r for r in report if r.get("check_type") == "kubernetes"), {})
    if "results" not in report:  # checkov found nothing to scan
        return [], [], report.get("checkov_version", "?"), seconds
    results = report["results"]
    if results.get("parsing_errors"):
        raise ScanError(f"checkov could not parse {results['parsing_errors']} in {rel(target)}")
    version = report.get("summary", {}).get("checkov_version", "?")
    return results.get("passed_checks", []), results.get("failed_checks", []), version, seconds


def rel(path: Path | str) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def exemption_for(check_id: str, resource: str) -> tuple[str, str] | None:
    for (cid, key) in EXEMPTIONS:
        if cid == check_id and (resource == key or resource.startswith(key + ".")):
            return (cid, key)
    return None


def coverage_gaps(kinds: dict[str, int], results: list[dict]) -> list[str]:
    """Required checks that gave no result for an object they apply to."""
    checked: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for r in results:
        if REQUIRED_CHECKS.get(r["check_id"]) == DERIVED:
            continue  # reported on Pods checkov derives, not on the rendered objects
        kind = r["resource"].split(".", 1)[0]
        checked[kind][r["resource"]].add(r["check_id"])
    gaps = []
    for kind, count in sorted(kinds.items()):
        applicable = {cid for cid, scope in REQUIRED_CHECKS.items() if kind in scope}
        if not applicable:
            continue
        seen = checked.get(kind, {})
        if len(seen) != count:
            gaps.append(f"{count} {kind} object(s) rendered, checkov reported on {len(seen)}")
        for resource, ids in sorted(seen.items()):
            missing = applicable - ids
            if missing:
                gaps.append(f"{resource}: no result from {', '.join(sorted(missing, key=check_order))}")
    return gaps


def check_order(check_id: str) -> tuple[str, int]:
    prefix, _, number = check_id.rpartition("_")
    return (prefix, int(number))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", action="append", help="scan only this stack (repeatable)")
    parser.add_argument("--dir", action="append", type=Path,
                        help="scan this directory of manifests instead of rendering stacks (repeatable)")
    parser.add_argument("--canary", type=Path, default=CANARY,
                        help=f"manifest every required check must fail on (default: {rel(CANARY)})")
    args = parser.parse_args(argv)

    for tool, how in ((CHECKOV, "run `make scan`, which creates .venv-checkov"),
                      (MLINFRA, "run `make install`")):
        if not tool.exists() and not (tool is MLINFRA and args.dir):
            print(f"checkov scan: {rel(tool)} is missing: {how}", file=sys.stderr)
            return 2

    failures: list[str] = []
    waived: list[str] = []
    used_exemptions: set[tuple[str, str]] = set()
    version = "?"
    try:
        # 1. The canary: every required check must fail on it, or the scan proves nothing.
        passed, failed, version, seconds = checkov(args.canary)
        failed_ids = {r["check_id"] for r in failed}
        silent = sorted(set(REQUIRED_CHECKS) - failed_ids, key=check_order)
        if silent:
            failures.append(f"FAIL canary {rel(args.canary)}: these required checks did not fail on a "
                            f"manifest that breaks them, so a pass from them means nothing: {', '.join(silent)}")
        else:
            print(f"canary {rel(args.canary)}: all {len(REQUIRED_CHECKS)} required checks failed as "
                  f"expected ({seconds:.1f}s): {', '.join(sorted(failed_ids & set(REQUIRED_CHECKS), key=check_order))}")

        # 2. The stacks.
        if args.dir:
            targets = [(rel(d), d.resolve()) for d in args.dir]
        else:
            targets = []
            for stack in args.stack or stacks():
                out = render(stack)
                if not any(out.iterdir()):
                    print(f"{stack}: no Kubernetes objects, skipped")
                    out.rmdir()
                    continue
                targets.append((stack, out))
        if not targets:
            failures.append("FAIL: no stack rendered any Kubernetes object; nothing was scanned")

        for name, target in targets:
            kinds = kinds_in(target)
            passed, failed, version, seconds = checkov(target)
            stack_failures = 0
            for r in sorted(failed, key=lambda r: (check_order(r["check_id"]), r["resource"])):
                file = rel(r.get("file_abs_path") or r.get("file_path", "?"))
                exemption = exemption_for(r["check_id"], r["resource"])
                if exemption:
                    used_exemptions.add(exemption)
                    waived.append(f"  waived {r['check_id']} on {file}: {EXEMPTIONS[exemption]}")
                    continue
                stack_failures += 1
                failures.append(f"FAIL {name}: {r['check_id']} ({r['check_name']})\n"
                                f"       file: {file}\n       resource: {r['resource']}")
            gaps = coverage_gaps(kinds, passed + failed)
            for gap in gaps:
                failures.append(f"FAIL {name}: coverage: {gap}")
            objects = sum(kinds.values())
            scanned = len({r["resource"] for r in passed + failed})
            print(f"{name}: {objects} objects rendered, {scanned} resources checked; {len(passed)} required-check "
                  f"results passed, {stack_failures} failed, {len(failed) - stack_failures} waived "
                  f"({seconds:.1f}s)")
    except ScanError as exc:
        print(f"checkov scan: {exc}", file=sys.stderr)
        return 2

    for line in waived:
        print(line)
    if not args.dir and not args.stack:
        for (cid, key) in sorted(set(EXEMPTIONS) - used_exemptions):
            print(f"  note: exemption ({cid}, {key}) matched nothing: remove it from EXEMPTIONS")

    for f in failures:
        print(f)
    if failures:
        print(f"checkov scan (checkov {version}): FAILED: {len(failures)} problem(s)")
        return 1
    print(f"checkov scan (checkov {version}): OK, {len(REQUIRED_CHECKS)} required checks hold on every object")
    return 0


if __name__ == "__main__":
    sys.exit(main())
