"""(b) Stack files generated from the shape of the JSON Schema, mostly well typed."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from components.core.issues import format_path
from infra import cli, config, reference
from infra.engine import STACK_TYPE, Recording
from infra.errors import ConfigError, key_path
from infra.patterns.registry import PATTERNS
from infra.stackfile import to_engine_config
from tests.conftest import GCP_STACKS as STACKS  # the fuzzers walk the Google Cloud schema
from tests.conftest import PROJECT, run_config, stack_config
from tests.fuzz.contract import *  # noqa: F401,F403
from tests.fuzz.values import *  # noqa: F401,F403
from tests.fuzz.mutations import *  # noqa: F401,F403


# --- (b) configs shaped like the JSON Schema --------------------------------------------------

PROJECT_ID, FUZZ_STACK = "acme-test", "fuzz"
ARTIFACTS = f"gs://{PROJECT_ID}-{FUZZ_STACK}-artifacts"

# Plausible values by key name, so that generated files get past the types into the rules.
REALISTIC: dict[str, list[Any]] = {
    "name": ["svc", "ranker", "on-upload", "general", "l4", "a", "x-1", "My_Service", ""],
    "image": ["us-docker.pkg.dev/acme/serve/svc:1", "us-central1-docker.pkg.dev/acme-test/mlinfra-fuzz/s:2", "x:2"],
    "uri": [f"{ARTIFACTS}/models/m", f"{ARTIFACTS}/models/n", "gs://elsewhere/models/m"],
    "version": ["1", "7", "12", "latest"],
    "memory": ["512Mi", "1Gi", "2Gi", "4Gi", "8Gi", "16Gi", "32Gi", "64Gi", "256Mi", "lots"],
    "cpu": [0.5, 1, 2, 4, 6, 8, 3, 16],
    "cidr": ["10.0.0.0/8", "203.0.113.0/24", "10.0.0.1/8", "bogus"],
    "subnetCidr": ["10.10.0.0/20", "10.50.0.0/20", "10.10.0.1/20", "8.8.0.0/20"],
    "podsCidr": ["10.20.0.0/14", "10.52.0.0/14", "10.20.0.0/24"],
    "servicesCidr": ["10.24.0.0/20", "10.56.0.0/20", "10.10.4.0/24"],
    "proxyOnlyCidr": ["10.11.0.0/23", "10.57.0.0/23"],
    "masterCidr": ["172.16.0.0/28", "172.16.0.0/24"],
    "type": ["nvidia-l4", "nvidia-tesla-t4", "nvidia-a100-80gb", "nvidia-tesla-a100", "nvidia-h100-80gb"],
    "machineType": ["e2-standard-4", "n2-standard-8", "g2-standard-8", "g2-standard-24", "n1-standard-8",
                    "a2-highgpu-1g", "a3-highgpu-8g", "bogus-1"],
    "zone": ["us-central1-a", "us-central1-b", "europe-west4-a", "mars-1a"],
    "zones": [["us-central1-a"], ["us-central1-a", "us-central1-c"], ["europe-west4-a"]],
    "cron": ["0 3 * * *", "*/5 * * * *", "0 4 * * 0", "0 3 * *"],
    "schedule": ["0 4 * * 0", "@daily", "0 3 * * *", "61 * * * *"],
    "timeZone": ["Etc/UTC", "Europe/Berlin", "America/New_York", "Not/AZone"],
    "source": ["functions/on_upload", "functions/nightly_report", "functions/retrain_request", "functions/nope"],
    "bucket": ["dataLake", "artifacts", "models"],
    "prefix": ["uploads/", ""],
    "topic": ["retrain-requests", "events"],
    "invokers": [["group:ml@acme.example"], ["serviceAccount:a@acme-test.iam.gserviceaccount.com"], ["allUsers"],
                 ["bob@acme.example"], []],
    "recurrence": ["FREQ=WEEKLY;BYDAY=SA,SU", "FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO"],
    "start": ["03:00", "22:30"],
    "partitionSize": ["1g.5gb", "3g.40gb"],
    "location": ["US", "EU", "us-central1", "europe-west4"],
    "path": ["/health", "/v1/models"],
    "key": ["dedicated", "gpu"],
    "secret": ["hf-token", "api-key"],
    "stableRevision": ["svc-fuzz-v1-abcdef"],
    "prometheusMetric": ["vllm:num_requests_running"],
    "command": [["python", "-m", "serve"]],
    "args": [["--input", "gs://acme-test-fuzz-data-lake/events/"]],
    "labels": [{"team": "ml-platform", "cost-center": "4711"}, {"Team": "ml"}, {"team": "ML Platform"}, {}],
    "env": [{"LOG_LEVEL": "debug"}, {}],
}
# Where one name means different things.
REALISTIC_IN = {("SecretRef", "env"): ["HF_TOKEN", "API_KEY"], ("SecretRef", "version"): ["latest", "3"],
                ("ArtifactsSpec", "name"): [f"{PROJECT_ID}-{FUZZ_STACK}-artifacts", "my-google-models", "ab"],
                ("DataLakeSpec", "name"): [f"{PROJECT_ID}-{FUZZ_STACK}-data-lake", "UPPER"],
                ("TaintSpec", "value"): ["ml", ""]}


def chance(draw, percent: int) -> bool:
    return draw(st.integers(0, 99)) < percent


_REGEX: dict[str, st.SearchStrategy] = {}
TEXT = st.text(max_size=30)


def gen(draw, node: dict[str, Any], where: tuple[str, str] = ("", ""), depth: int = 0) -> Any:
    """A value for a schema node: mostly well typed (2% anything at all), plausible where the key
    name says, optional keys now and then."""
    roll = draw(st.integers(0, 99))  # one draw decides junk, None and plausible-or-raw
    if roll < 2:
        return draw(JSONISH)
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return gen_object(draw, name, depth)
    if "anyOf" in node and all("$ref" in m for m in node["anyOf"]):  # a service or job: one platform's spec
        return gen(draw, pick(draw, node["anyOf"]), where, depth)
    if "anyOf" in node:
        members = [m for m in node["anyOf"] if m.get("type") != "null"]
        return None if roll >= 90 else gen(draw, pick(draw, members), where, depth)
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return pick(draw, node["enum"])
    plausible = REALISTIC_IN.get(where) or REALISTIC.get(where[1])
    kind = node.get("type")
    if plausible and kind in ("string", "integer", "number") and roll >= 25:
        return copy.deepcopy(pick(draw, plausible))
    if plausible and kind in ("array", "object"):
        return copy.deepcopy(pick(draw, plausible))
    if kind == "string":
        if "pattern" not in node:
            return draw(TEXT)
        pattern = node["pattern"].replace("\\d", "[0-9]")
        if pattern not in _REGEX:
            limit = node.get("maxLength", 10**9)
            _REGEX[pattern] = st.from_regex(pattern, fullmatch=True).filter(lambda v: len(v) <= limit)
        return draw(_REGEX[pattern])
    if kind in ("integer", "number"):
        low = node.get("minimum", -10**6)
        if "exclusiveMinimum" in node:
            low = node["exclusiveMinimum"] + 1
        high = node.get("maximum", low + 10**4)
        low, high = math.ceil(low), math.floor(high)  # whole numbers inside fractional bounds (99.99)
        value = draw(st.integers(low, min(high, low + 20))) if roll < 60 else draw(st.integers(low, high))
        return value + 0.5 if kind == "number" and value < high and roll % 5 == 0 else value
    if kind == "boolean":
        return draw(st.booleans())
    if kind == "array":
        size = 0 if depth > 4 else draw(st.integers(0, 3))
        return [gen(draw, node.get("items", {}), where, depth + 1) for _ in range(size)]
    if kind == "object":
        values = node.get("additionalProperties")
        size = draw(st.integers(0, 3))
        return {draw(st.text(max_size=10)): draw(st.text(max_size=10)) if values in (True, None)
                else gen(draw, values, where, depth + 1) for _ in range(size)}
    return draw(JSONISH)


def gen_object(draw, name: str, depth: int, without: tuple = ()) -> dict[str, Any]:
    definition = DEFS[name]
    props = definition.get("properties", {})
    optional = [k for k in props if k not in definition.get("required", []) and k not in without]
    chosen = {pick(draw, optional) for _ in range(draw(st.integers(0, 4)))} if optional and depth <= 5 else set()
    return {k: gen(draw, v, (name, k), depth + 1) for k, v in props.items()
            if k not in without and (k not in optional or k in chosen)}


def gen_list(draw, name: str, most: int, without: tuple = (), least: int = 0) -> list[dict[str, Any]]:
    return [gen_object(draw, name, 1, without) for _ in range(draw(st.integers(least, most)))]


PATTERN_SECTIONS = {"serverless": ["labels", "network", "storage", "services", "triggers"],
                    "kubernetes": ["labels", "network", "storage", "cluster", "services", "jobs", "triggers"],
                    "dataflow": ["labels", "network", "storage", "pipelines", "triggers"]}
SECTION_SCHEMA = {"labels": CONFIG_SCHEMA["properties"]["mlinfra:labels"], "network": {"$ref": "#/$defs/NetworkSpec"},
                  "storage": {"$ref": "#/$defs/StorageSpec"}, "cluster": {"$ref": "#/$defs/ClusterSpec"}}
SECTION_LISTS = {"triggers": "CloudFunctionSpec", "jobs": "GkeJobSpec", "pipelines": "PipelineSpec"}


@st.composite
def schema_configs(draw) -> dict[str, Any]:
    """A stack file for the serverless, kubernetes or dataflow pattern, generated from the schema."""
    pattern = pick(draw, ["serverless", "kubernetes", "dataflow"])
    values: dict[str, Any] = {
        "gcp:project": PROJECT_ID,
        "gcp:region": pick(draw, ["us-west1", "asia-south1", "mars-1", ""] if chance(draw, 15)
                           else ["us-central1", "europe-west4"]),
        "mlinfra:pattern": pick(draw, ["hybrid", "severless"]) if chance(draw, 5) else pattern,
        "mlinfra:environment": pick(draw, ["dev", "staging", "prod"]),
    }
    for section in PATTERN_SECTIONS[pattern]:
        key = f"mlinfra:{section}"
        if section == "cluster":  # GKE services and jobs need one, with node pools
            if chance(draw, 90):
                cluster = gen(draw, SECTION_SCHEMA["cluster"])
                if isinstance(cluster, dict) and not cluster.get("nodePools") and chance(draw, 70):
                    cluster["nodePools"] = gen_list(draw, "NodePoolSpec", 3, least=1)
                values[key] = cluster
        elif not draw(st.booleans()):
            continue
        elif section == "services":
            spec = "CloudRunServiceSpec" if pattern == "serverless" else "GkeServiceSpec"
            values[key] = gen_list(draw, spec, 2, without=("platform",))
        elif section in SECTION_LISTS:
            values[key] = gen_list(draw, SECTION_LISTS[section], 2)
        else:
            values[key] = gen(draw, SECTION_SCHEMA[section], ("", section))
    return values


# The fuzz modules build on each other's helpers, underscored ones included.
__all__ = [name for name in list(globals()) if not name.startswith("__")]
