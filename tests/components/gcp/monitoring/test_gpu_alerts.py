"""GPU servers' alerts and the cluster's managed DCGM metrics: idle GPUs and GPU memory near full,
PromQL on the DCGM metrics Managed Service for Prometheus stores, in prod by default and in dev on
request; every metric they read is in metrics.py's table; bad thresholds fail naming their key."""

from __future__ import annotations

import copy
import re

import pytest

from components.gcp.monitoring.gpu_alerts import METRICS as GPU_METRICS
from components.serving.gpu_alerts_spec import GpuAlertsSpec
from components.gcp.monitoring.metrics import METRICS, prometheus_name
from infra import config
from infra.errors import ConfigError, key_path
from tests.conftest import PROJECT, run_config, run_stack, stack_config

ALERT = "gcp:monitoring/alertPolicy:AlertPolicy"
CLUSTER = "gcp:container/cluster:Cluster"


def gpu_policies(rec) -> dict[str, dict]:
    return {r.name: r.inputs for r in rec.of_type(ALERT) if "-gpu-" in r.name}


def promql(policy: dict) -> dict:
    [condition] = policy["conditions"]
    return condition["conditionPrometheusQueryLanguage"]


def with_gpu_alerts(stack: str, alerts) -> dict:
    values = stack_config(stack)
    values["mlinfra:services"][0]["gpuAlerts"] = alerts
    return values


def errors(values: dict, stack: str = "k8s-dev") -> list[tuple[str, str]]:
    """The issues of a stack file's values, loaded as the stack `stack` (its bucket names)."""
    from infra.stackfile import to_engine_config

    with pytest.raises(ConfigError) as caught:
        config.load(to_engine_config(values)[0], stack=stack, file=f"stacks/Pulumi.{stack}.yaml", root=PROJECT.root)
    return [(key_path(i.path), str(caught.value)) for i in caught.value.issues]


def test_a_cluster_with_a_gpu_pool_collects_gkes_managed_dcgm_metrics():
    for stack in ("k8s-dev", "k8s-prod", "hybrid-prod"):
        config = run_stack(stack).one(CLUSTER).inputs["monitoringConfig"]
        assert config == {"enableComponents": ["SYSTEM_COMPONENTS", "DCGM"], "managedPrometheus": {"enabled": True}}


def test_a_cluster_without_gpus_collects_no_dcgm_metrics():
    values = stack_config("k8s-dev")
    values["mlinfra:cluster"]["nodePools"] = values["mlinfra:cluster"]["nodePools"][:1]
    values["mlinfra:services"][0]["resources"] = {"cpu": 2, "memory": "8Gi"}
    values["mlinfra:services"][0].update(runtime="triton", scaling={"minReplicas": 1, "maxReplicas": 2})
    values["mlinfra:services"][0]["placement"] = {"spot": "prefer"}
    values["mlinfra:services"][0].pop("extraArgs")
    rec = run_config(values, stack="k8s-dev")
    assert rec.one(CLUSTER).inputs["monitoringConfig"]["enableComponents"] == ["SYSTEM_COMPONENTS"]
    assert gpu_policies(rec) == {}


def test_a_prod_gpu_server_alerts_on_idle_gpus_and_memory_pressure_at_the_defaults():
    rec = run_stack("k8s-prod")
    cluster = rec.one(CLUSTER).outputs["name"]
    found = gpu_policies(rec)
    assert sorted(found) == ["mlinfra-gpu-ranker-gpu-idle", "mlinfra-gpu-ranker-gpu-memory"]
    sel = f'{{cluster="{cluster}",exported_namespace="ml-ranker"}}'
    idle = found["mlinfra-gpu-ranker-gpu-idle"]
    assert promql(idle) == {"query": f"avg by (exported_pod) (avg_over_time(DCGM_FI_DEV_GPU_UTIL{sel}[5m])) < 10",
                            "duration": "3600s", "evaluationInterval": "60s", "disableMetricValidation": True}
    assert (idle["severity"], idle["combiner"]) == ("WARNING", "OR")
    assert idle["displayName"] == "ranker: GPU utilization below 10 % for 60 min"
    memory = found["mlinfra-gpu-ranker-gpu-memory"]
    assert promql(memory)["query"] == (f"max by (exported_pod) (100 * DCGM_FI_DEV_FB_USED{sel} / "
                                       f"(DCGM_FI_DEV_FB_USED{sel} + DCGM_FI_DEV_FB_FREE{sel})) > 90")
    assert (promql(memory)["duration"], memory["severity"]) == ("300s", "ERROR")
    channel = rec.one("gcp:monitoring/notificationChannel:NotificationChannel").outputs["name"]
    for policy in found.values():
        assert policy["notificationChannels"] == [channel]
        assert policy["documentation"]["mimeType"] == "text/markdown"
        assert "(namespace ml-ranker)" in policy["documentation"]["content"]
    assert "`scaling.minReplicas`" in idle["documentation"]["content"]
    assert "--gpu-memory-utilization" in memory["documentation"]["content"]


def test_every_metric_the_conditions_read_has_its_kind_in_the_table():
    names = {prometheus_name(m): m for m in GPU_METRICS}
    for policy in gpu_policies(run_stack("hybrid-prod")).values():
        used = set(re.findall(r"\b(DCGM_FI_[A-Z_]+)\{", promql(policy)["query"]))
        assert used and used <= set(names), used
        for name in used:
            assert METRICS[names[name]].kind == "GAUGE" and METRICS[names[name]].resource == "prometheus_target"


def test_dev_gpu_servers_alert_only_when_asked_with_their_own_thresholds():
    assert gpu_policies(run_stack("k8s-dev")) == {}
    rec = run_config(with_gpu_alerts("k8s-dev", {"idlePercent": 5, "idleMinutes": 120, "memoryPercent": 95}),
                     stack="k8s-dev")
    found = gpu_policies(rec)
    assert sorted(found) == ["mlinfra-gpu-summarizer-gpu-idle", "mlinfra-gpu-summarizer-gpu-memory"]
    idle, memory = promql(found["mlinfra-gpu-summarizer-gpu-idle"]), promql(found["mlinfra-gpu-summarizer-gpu-memory"])
    assert idle["query"].endswith("[5m])) < 5") and idle["duration"] == "7200s"
    assert memory["query"].endswith(") > 95")
    assert found["mlinfra-gpu-summarizer-gpu-idle"].get("notificationChannels") is None


@pytest.mark.parametrize("alerts, key", [
    ({"idlePercent": 0}, "mlinfra:services[0].gpuAlerts.idlePercent"),
    ({"idlePercent": 101}, "mlinfra:services[0].gpuAlerts.idlePercent"),
    ({"idleMinutes": 5}, "mlinfra:services[0].gpuAlerts.idleMinutes"),
    ({"idleMinutes": 1441}, "mlinfra:services[0].gpuAlerts.idleMinutes"),
    ({"memoryPercent": 40}, "mlinfra:services[0].gpuAlerts.memoryPercent"),
    ({"memoryPercent": 100.5}, "mlinfra:services[0].gpuAlerts.memoryPercent"),
    ({"idlePercnt": 5}, "mlinfra:services[0].gpuAlerts.idlePercnt"),
])
def test_rejects_a_bad_threshold_naming_the_key(alerts, key):
    assert [path for path, _ in errors(with_gpu_alerts("k8s-dev", alerts))] == [key]


def test_rejects_gpu_alerts_on_a_server_without_a_gpu():
    values = stack_config("k8s-prod")
    cpu = next(s for s in values["mlinfra:services"] if "gpu" not in s.get("resources", {}))
    index = values["mlinfra:services"].index(cpu)
    cpu["gpuAlerts"] = {}
    found = errors(values, stack="k8s-prod")
    assert [path for path, _ in found] == [f"mlinfra:services[{index}].gpuAlerts"]
    assert "it has none" in found[0][1]


def test_the_defaults_are_the_documented_ones():
    assert GpuAlertsSpec().model_dump(by_alias=True) == {"idlePercent": 10, "idleMinutes": 60, "memoryPercent": None}
    assert [GpuAlertsSpec().memory_threshold(r) for r in (None, "custom", "triton", "torchserve", "vllm", "tfserving")] \
        == [90, 90, 90, 90, 98, None]
    assert GpuAlertsSpec(memory_percent=80).memory_threshold("tfserving") == 80


def test_runtimes_that_reserve_gpu_memory_up_front_get_a_memory_threshold_that_means_something():
    found = gpu_policies(run_config(with_gpu_alerts("k8s-dev", {}), stack="k8s-dev"))
    assert promql(found["mlinfra-gpu-summarizer-gpu-memory"])["query"].endswith(") > 98")  # vLLM reserves 90 %
    values = with_gpu_alerts("k8s-dev", {})
    values["mlinfra:services"][0].update(runtime="tfserving", scaling={"minReplicas": 1, "maxReplicas": 2})
    values["mlinfra:services"][0].pop("extraArgs")
    assert sorted(gpu_policies(run_config(values, stack="k8s-dev"))) == ["mlinfra-gpu-summarizer-gpu-idle"]
    values["mlinfra:services"][0]["gpuAlerts"] = {"memoryPercent": 99}
    assert sorted(gpu_policies(run_config(values, stack="k8s-dev"))) == [
        "mlinfra-gpu-summarizer-gpu-idle", "mlinfra-gpu-summarizer-gpu-memory"]
