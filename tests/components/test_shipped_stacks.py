"""The stack files mlinfra ships, and the tables other modules keep, pass every catalogue rule:
a rule that rejected them would be wrong, not the stacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from components.core.images import image_issues
from components.core.schedules import cron_issues, time_zone_issues
from components.gcp.compute.machine_types import machine_type_issues
from components.gcp.compute.regions import REGIONS, region_issues, zone_issues
from components.gcp.iam.members import iam_member_issues
from components.gcp.pubsub.names import topic_name_issues
from infra import mocks

try:  # the layout by cloud and service
    from components.gcp.cloudrun.cloud_run_service_spec import CLOUD_RUN_GPU_REGIONS
except ImportError:  # the flat layout this branch started from
    from components.cloud_run_service import GPU_REGIONS as CLOUD_RUN_GPU_REGIONS

STACKS = sorted((Path(__file__).resolve().parents[2] / "stacks").glob("Pulumi.*.yaml"))


def _walk(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield path + (k,), v
            yield from _walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield path + (i,), v
            yield from _walk(v, path + (i,))


def _rules(path: tuple, value: Any) -> list:
    last = path[-1]
    parent = path[-2] if len(path) > 1 else None
    if last == "machineType":
        return machine_type_issues(value)
    if last == "image":
        return image_issues(value)
    if last == "gcp:region":
        return region_issues(value)
    if last == "aws:region":
        from infra.aws_config import provider_issues
        return provider_issues({"aws:region": value})
    if last == "zone":
        return zone_issues(value)
    if last == "timeZone":
        return time_zone_issues(value)
    if last == "topic":
        return topic_name_issues(value)
    if parent == "invokers":
        return iam_member_issues(value)
    if last == "cron" or (last == "schedule" and isinstance(value, str)):
        return cron_issues(value, "scheduler" if last == "cron" else "kubernetes")
    return []


@pytest.mark.parametrize("stack", STACKS, ids=lambda p: p.name)
def test_every_shipped_stack_passes_the_catalogue_rules(stack):
    config = yaml.safe_load(stack.read_text())
    checked, found = 0, []
    for path, value in _walk(config):
        if isinstance(value, str):
            issues = _rules(path, value)
            checked += bool(issues) or path[-1] in ("machineType", "image", "gcp:region", "aws:region") or \
                (len(path) > 1 and path[-2] == "invokers")
            found += issues
    assert found == []
    # The bootstrap stack names no Google Cloud region or image: only its aws:region is catalogued.
    assert checked >= (1 if config["config"].get("mlinfra:pattern") == "bootstrap" else 2), \
        "the walk found nothing to check"


def test_every_region_another_module_names_is_a_known_region():
    assert set(CLOUD_RUN_GPU_REGIONS) <= set(REGIONS)
    assert set(mocks.REGION_CODES) <= set(REGIONS)
