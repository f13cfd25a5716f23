"""The program starts exactly as the Pulumi language host starts it.

The host (pulumi-language-python-exec) reads PULUMI_CONFIG into the SDK's config store,
changes to the project root, and runs `run_in_stack(lambda: runpy.run_path("infra/",
run_name="__main__"))`. This test does the same in a fresh, isolated interpreter, with the
mlinfra packages hidden so only what `pulumi install` provides (requirements.txt) is there,
and with generic mocks that know nothing of mlinfra.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import PROJECT, ROOT, stack_config
from infra.stackfile import to_engine_config

HOST = r'''
import asyncio, json, os, runpy, sys
# Hide the installed mlinfra packages: the program must find them itself.
sys.meta_path = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.abspath(sys.argv[1])]
import pulumi, pulumi.runtime
from pulumi.runtime import mocks, settings

class Generic(mocks.Mocks):
    def new_resource(self, args):
        return args.name + "-id", dict(args.inputs)
    def call(self, args):
        return {"emailAddress": "agent@example.iam.gserviceaccount.com"}

pulumi.runtime.set_all_config(pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env())
monitor = mocks.MockMonitor(Generic())
settings.configure(mocks.MockSettings(monitor=monitor, engine=mocks.MockEngine(None), project="mlinfra",
                   stack=sys.argv[2], dry_run=True, organization="o", callbacks=None,
                   monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures)))
os.chdir(sys.argv[1])
sys.argv = ["infra/"]
loop = asyncio.new_event_loop(); asyncio.set_event_loop(loop)
try:
    loop.run_until_complete(pulumi.runtime.run_in_stack(lambda: runpy.run_path("infra/", run_name="__main__")))
except pulumi.RunError as e:
    print("RUN ERROR:", e); sys.exit(1)
print(json.dumps({"types": sorted({r.urn.split("::")[2].split("$")[-1] for r in monitor.resources.values()}),
                  "mlinfra_from": sys.modules["infra"].__file__}))
'''


def host(stack: str, values: dict) -> subprocess.CompletedProcess:
    engine_values, _ = to_engine_config(values)
    env = {**os.environ, "PULUMI_CONFIG": json.dumps(engine_values)}
    return subprocess.run([sys.executable, "-I", "-c", HOST, str(ROOT), stack], cwd="/", env=env,
                          capture_output=True, text=True, timeout=120)


def test_program_runs_as_the_language_host_runs_it():
    done = host("dev", stack_config("dev"))
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["mlinfra_from"] == str(ROOT / "infra" / "__init__.py")
    assert {"gcp:cloudrunv2/service:Service", "gcp:cloudfunctionsv2/function:Function",
            "mlinfra:pattern:Serverless"} <= set(result["types"])


def test_a_bad_stack_file_reaches_the_host_as_a_run_error_without_traceback():
    values = stack_config("dev")
    values["mlinfra:services"][0]["scaling"]["maxReplicas"] = -1
    done = host("dev", values)
    assert done.returncode == 1
    assert "RUN ERROR: stacks/Pulumi.dev.yaml: 1 error in the stack file" in done.stdout
    assert "mlinfra:services[0].scaling.maxReplicas" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_pulumi_yaml_points_the_cli_at_the_program_and_the_stacks():
    assert PROJECT.main == ROOT / "infra"
    assert PROJECT.stack_dir == ROOT / "stacks"
    assert PROJECT.name == "mlinfra"
