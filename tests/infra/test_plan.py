"""The offline plan: the tree, the preview-shaped JSON, loud failures, and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest
from pulumi.runtime import rpc

from infra import engine
from infra.mocks import UnknownInvoke
from infra.plan import UNKNOWN_TEXT, Plan, _jsonable, preview_json, render_tree
from tests.conftest import ROOT, STACKS, run_component, run_stack, stack_config


def cli(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infra.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180, env={**os.environ, **(env or {})})


def dev_plan() -> Plan:
    return Plan("dev", "stacks/Pulumi.dev.yaml", stack_config("dev"), run_stack("dev"), 1.0, [])


def test_tree_shows_parents_over_children_and_counts_by_type():
    text = render_tree(dev_plan())
    assert "└─ mlinfra:pattern:Serverless  mlinfra" in text
    assert "│  ├─ gcp:cloudrunv2/service:Service  mlinfra-svc-churn  (1 CPU, 1Gi, 0-5 instances, stable 100%)" in text
    assert "mlinfra-svc-summarizer  (8 CPU, 32Gi, 1x nvidia-l4, 0-2 instances, stable 90% / canary 10%)" in text
    assert "     2  gcp:cloudrunv2/service:Service" in text
    assert 'service_urls: {"churn": "https://churn-dev-' in text


def test_json_is_shaped_like_pulumi_preview():
    doc = preview_json(dev_plan())
    steps = doc["steps"]
    assert doc["changeSummary"] == {"create": len(steps)}
    assert {s["op"] for s in steps} == {"create"}
    seen = set()
    for step in steps:
        state = step["newState"]
        assert step["urn"] == state["urn"]
        assert {"type", "inputs", "parent", "dependencies"} <= set(state)
        if state["parent"]:
            assert state["parent"] in seen, "a parent comes before its children"
        seen.add(state["urn"])
    provider = next(s for s in steps if s["newState"]["type"] == "pulumi:providers:gcp")
    assert provider["newState"]["inputs"] == {"project": "acme-ml-dev", "region": "us-central1", "version": "10.2.0"}
    run = next(s for s in steps if s["newState"]["type"] == "gcp:cloudrunv2/service:Service")
    assert run["provider"].startswith(provider["urn"] + "::")
    source = next(s for s in steps if s["newState"]["type"] == "gcp:storage/bucketObject:BucketObject")
    assert source["newState"]["inputs"]["source"]["path"].endswith("functions/nightly_report")
    json.dumps(doc)


def test_fails_loudly_on_an_invoke_the_plan_has_no_answer_for():
    import pulumi_gcp as gcp

    with pytest.raises(UnknownInvoke, match="gcp:organizations/getBillingAccount"):
        run_component(lambda: gcp.organizations.get_billing_account(display_name="x"))


def test_cli_plan_writes_preview_json_and_exits_zero(cli_plan):
    done = cli_plan("dev")
    assert done.returncode == 0, done.stderr
    expected = len(run_stack("dev").custom())
    assert f"Resources: {expected} cloud resources to create" in done.stdout
    assert any(s["newState"]["type"] == "gcp:cloudscheduler/job:Job" for s in done.preview["steps"])


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_plans_through_the_cli_under_strict_with_the_urns_of_the_program(stack, cli_plan):
    done = cli_plan(stack)
    assert done.returncode == 0, done.stderr
    default_providers = {s["urn"] for s in done.preview["steps"]
                         if s["newState"]["type"].startswith("pulumi:providers:") and "::default_" in s["urn"]}
    planned = {s["urn"] for s in done.preview["steps"]} - default_providers
    assert planned == {r.urn for r in run_stack(stack).registrations}


@pytest.mark.parametrize("stack", ["dev", "eks-prod"])
def test_two_plans_of_a_stack_write_the_same_json_byte_for_byte(stack, tmp_path):
    # Two processes with different hash seeds: the SDK gathers dependencies in sets, so a run in
    # this process again would repeat whatever order the first gave.
    files = []
    for seed in ("1", "2"):
        path = tmp_path / f"{stack}-{seed}.json"
        done = cli("plan", "--stack", stack, "--quiet", "--json", str(path), env={"PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr
        files.append(path.read_bytes())
    assert files[0] == files[1]
    assert b" object at 0x" not in files[0]


def test_values_known_only_after_apply_show_as_such_in_the_text_and_as_pulumis_placeholder_in_json():
    plan = dev_plan()
    text = render_tree(plan)
    assert '"address": "(known after apply)"' in text and " object at 0x" not in text
    stack = next(s for s in preview_json(plan)["steps"] if s["newState"]["type"] == engine.STACK_TYPE)
    balancer = stack["newState"]["outputs"]["service_load_balancers"]["summarizer"]
    assert balancer["address"] == balancer["dns_authorization_record"] == "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    assert balancer["hostname"] == "summarizer.dev.acme.example"
    # Both forms the SDK gives an unknown in: its Unknown object and the wire format's string.
    assert _jsonable([pulumi.output.UNKNOWN, rpc.UNKNOWN], UNKNOWN_TEXT) == ["(known after apply)"] * 2


@pytest.fixture
def bad_project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    (tmp_path / "infra").symlink_to(ROOT / "infra")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.bad.yaml").write_text(
        "config:\n  gcp:project: acme-bad-1\n  gcp:region: us-central1\n  mlinfra:pattern: serverless\n"
        "  mlinfra:environment: dev\n  mlinfra:services:\n    - {name: a, image: 'x:1', scaling: {minReplicas: 3, maxReplicas: 1}}\n")
    return tmp_path


def test_cli_prints_config_errors_without_traceback_and_exits_non_zero(bad_project):
    for command in ("validate", "plan"):
        done = cli("--project-dir", str(bad_project), command, "--stack", "bad")
        assert done.returncode == 1
        assert "stacks/Pulumi.bad.yaml: 1 error in the stack file" in done.stderr
        assert "mlinfra:services[0].scaling.maxReplicas: is below minReplicas (3) (got 1)" in done.stderr
        assert "Traceback" not in done.stderr


def test_cli_shows_the_traceback_with_mlinfra_debug(bad_project):
    done = cli("--project-dir", str(bad_project), "validate", "--stack", "bad", env={"MLINFRA_DEBUG": "1"})
    assert done.returncode == 1 and "Traceback" in done.stderr


def test_cli_names_the_stacks_it_has_when_one_is_missing():
    done = cli("validate", "--stack", "qa")
    assert done.returncode == 1
    assert "no stack file stacks/Pulumi.qa.yaml (stacks: " in done.stderr
    assert "dev" in done.stderr.split("(stacks: ")[1] and "prod" in done.stderr.split("(stacks: ")[1]


def test_cli_validate_and_schema():
    done = cli("validate", "--stack", "prod")
    assert done.returncode == 0 and "stacks/Pulumi.prod.yaml: valid (serverless pattern, prod, 2 services, 2 triggers)" in done.stdout
    schema = json.loads(cli("schema").stdout)
    assert "mlinfra:services" in schema["properties"]["config"]["properties"]
