"""The template images: what each Dockerfile copies exists, versions agree with the pins, and
the entry point runs the way the Flex Template launcher runs it."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import apache_beam
import pytest

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = ["batch_scoring", "streaming_features", "streaming_scoring"]


def instructions(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    text = open(os.path.join(HERE, name, "Dockerfile"), encoding="utf-8").read()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [tuple(line.split(None, 1)) for line in joined.splitlines() if line.strip()]


def env(name: str) -> dict[str, str]:
    pairs = {}
    for op, args in instructions(name):
        if op == "ENV":
            pairs.update(re.findall(r"(\w+)=(\S+)", args))
    return pairs


def pinned(name: str, package: str) -> str:
    text = open(os.path.join(HERE, name, "requirements.txt"), encoding="utf-8").read()
    return re.search(rf"^{re.escape(package)}(\[[^\]]*\])?==(\S+)$", text, re.M).group(2)


@pytest.mark.parametrize("name", NAMES)
def test_the_sdk_image_launcher_and_requirements_agree_on_python_and_beam(name):
    froms = [args for op, args in instructions(name) if op == "FROM"]
    sdk = re.fullmatch(r"apache/beam_python(\d)\.(\d+)_sdk:(\S+)", froms[-1])
    assert sdk, froms[-1]
    major, minor, beam = sdk.groups()
    assert beam == pinned(name, "apache-beam") == apache_beam.__version__
    # The tests run on the Python the image runs, so what passes here runs there.
    assert (int(major), int(minor)) == sys.version_info[:2]
    launcher = [args for op, args in instructions(name) if op == "ARG"
                and args.startswith("LAUNCHER=")][0]
    assert f"/python{major}{minor}-template-launcher-base" in launcher


@pytest.mark.parametrize("name", NAMES)
def test_the_image_copies_files_that_exist_and_points_the_launcher_at_them(name):
    copied = {}
    for op, args in instructions(name):
        if op == "COPY" and not args.startswith("--from"):
            source, target = args.split()
            assert os.path.exists(os.path.join(HERE, source)), source
            copied[target.rstrip("/")] = source.rstrip("/")
    variables = env(name)
    assert variables["PYTHONPATH"] == "/template"
    for key in ("FLEX_TEMPLATE_PYTHON_PY_FILE", "FLEX_TEMPLATE_PYTHON_REQUIREMENTS_FILE"):
        relative = os.path.relpath(variables[key], "/template")
        assert os.path.dirname(relative) in copied, key
        assert os.path.isfile(os.path.join(HERE, relative)), relative
    assert "beamkit" in copied
    assert ("ENTRYPOINT", '["/opt/apache/beam/boot"]') in instructions(name)


@pytest.mark.parametrize("name", NAMES)
def test_the_entry_point_runs_as_a_script_with_the_images_pythonpath(name):
    # The launcher runs `python <FLEX_TEMPLATE_PYTHON_PY_FILE> --param=value ...`.
    done = subprocess.run([sys.executable, os.path.join(HERE, name, "main.py"), "--help"],
                          env={**os.environ, "PYTHONPATH": HERE}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert re.search(r"--output(Table|Topic) ", done.stdout), done.stdout


def test_a_launch_with_a_missing_model_version_exits_before_touching_any_data(registry):
    uri, _ = registry
    done = subprocess.run(
        [sys.executable, os.path.join(HERE, "batch_scoring", "main.py"),
         "--inputPattern=gs://acme-ml-dev-dev-data-lake/in/*.jsonl", f"--modelUri={uri}",
         "--modelVersion=41", "--outputTable=acme-ml-dev:scores.churn"],
        env={**os.environ, "PYTHONPATH": HERE}, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "ModelVersionNotFound: model version '41' not found" in done.stderr
    assert "versions under" in done.stderr and "2, 3" in done.stderr
