"""GPU monitoring on EKS (eks-prod, whose Karpenter L4 NodePool is its GPU capacity): the Amazon
CloudWatch Observability add-on with its agent's own Pod Identity role (CloudWatchAgentServerPolicy,
service account cloudwatch-agent) and every taint tolerated; per GPU server an idle-GPU and a
GPU-memory alarm on Container Insights' pod GPU metrics of its namespace, thresholds from
`services[].gpuAlerts` as on GKE, notifying the stack's SNS topic; listed as not priced. On by
default in prod, in dev only with gpuAlerts, off with `alerts.gpuMetrics: false`; the rules by key."""

from __future__ import annotations

import json

import pytest

from components.aws.monitoring.gpu_alarms import alarms
from components.serving.gpu_alerts_spec import GpuAlertsSpec
from infra.cost.estimate import estimate
from infra.errors import ConfigError, key_path
from infra import config
from infra.stackfile import to_engine_config
from tests.conftest import PROJECT, run_config, run_stack, stack_config

ADDON, ALARM = "aws:eks/addon:Addon", "aws:cloudwatch/metricAlarm:MetricAlarm"
ROLE, ATTACH = "aws:iam/role:Role", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
OBS = "amazon-cloudwatch-observability"


def gpu_alarms(rec) -> dict[str, dict]:
    return {r.inputs["name"]: r.inputs for r in rec.of_type(ALARM) if "-gpu-" in r.inputs["name"]}


def observability(rec) -> list:
    return [a for a in rec.of_type(ADDON) if a.inputs["addonName"] == OBS]


def errors_of(values: dict, stack: str) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        config.load(to_engine_config(values)[0], stack=stack, file=f"stacks/Pulumi.{stack}.yaml", root=PROJECT.root)
    return {key_path(i.path): i.message for i in caught.value.issues}


def test_prod_runs_the_cloudwatch_observability_add_on_with_its_own_pod_identity_role():
    rec = run_stack("eks-prod")
    [addon] = observability(rec)
    role = rec.one(ROLE, f"mlinfra-eks-{OBS}")
    assert json.loads(role.inputs["assumeRolePolicy"]) == {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"]}]}
    attached = rec.one(ATTACH, f"mlinfra-eks-{OBS}")
    assert attached.inputs == {"role": role.outputs["name"], "policyArn": "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"}
    assert {k: v for k, v in addon.inputs.items() if k != "tags"} == {
        "clusterName": "mlinfra-eks-prod", "addonName": OBS,
        "podIdentityAssociations": [{"serviceAccount": "cloudwatch-agent", "roleArn": role.outputs["arn"]}],
        "configurationValues": json.dumps({"tolerations": [{"operator": "Exists"}]}),
        "resolveConflictsOnCreate": "OVERWRITE", "resolveConflictsOnUpdate": "OVERWRITE"}
    # Its operator and agents are pods: after the system node group and Karpenter, with the policy attached.
    deps = set(addon.dependencies)
    assert attached.urn in deps
    assert rec.one("aws:eks/nodeGroup:NodeGroup").urn in deps
    assert any("mlinfra:aws:Karpenter" in d for d in deps)


def test_prod_watches_the_rankers_gpus_idle_and_memory_notifying_the_stack_topic():
    rec = run_stack("eks-prod")
    topic = rec.one("aws:sns/topic:Topic").outputs["arn"]
    common = {"namespace": "ContainerInsights", "dimensions": {"ClusterName": "mlinfra-eks-prod", "Namespace": "ml-ranker"},
              "treatMissingData": "notBreaching", "actionsEnabled": True, "alarmActions": [topic], "okActions": [topic]}
    found = {n: {k: v for k, v in a.items() if k != "tags"} for n, a in gpu_alarms(rec).items()}
    assert sorted(found) == ["mlinfra-eks-prod-ranker-gpu-idle", "mlinfra-eks-prod-ranker-gpu-memory"]
    idle, memory = found["mlinfra-eks-prod-ranker-gpu-idle"], found["mlinfra-eks-prod-ranker-gpu-memory"]
    assert idle == {**common, "name": "mlinfra-eks-prod-ranker-gpu-idle", "metricName": "pod_gpu_utilization",
                    "statistic": "Average", "period": 300, "evaluationPeriods": 12, "datapointsToAlarm": 12,
                    "comparisonOperator": "LessThanThreshold", "threshold": 10,
                    "alarmDescription": idle["alarmDescription"]}
    assert memory == {**common, "name": "mlinfra-eks-prod-ranker-gpu-memory", "metricName": "pod_gpu_memory_utilization",
                      "statistic": "Maximum", "period": 60, "evaluationPeriods": 5, "datapointsToAlarm": 5,
                      "comparisonOperator": "GreaterThanThreshold", "threshold": 90,  # triton: the default 90 %
                      "alarmDescription": memory["alarmDescription"]}
    assert idle["alarmDescription"].startswith("The GPUs of ranker (namespace ml-ranker): GPU utilization below 10 % "
                                               "for 60 min.") and "scaling.minReplicas" in idle["alarmDescription"]
    assert "CUDA out-of-memory" in memory["alarmDescription"] and "--gpu-memory-utilization" in memory["alarmDescription"]


def test_the_alarms_take_the_thresholds_of_gpu_alerts_as_on_gke():
    values = stack_config("eks-prod")
    values["mlinfra:services"][0]["gpuAlerts"] = {"idlePercent": 5, "idleMinutes": 1440, "memoryPercent": 95}
    found = gpu_alarms(run_config(values, stack="eks-prod"))
    idle, memory = found["mlinfra-eks-prod-ranker-gpu-idle"], found["mlinfra-eks-prod-ranker-gpu-memory"]
    assert (idle["threshold"], idle["period"] * idle["evaluationPeriods"]) == (5, 86400)  # CloudWatch's one-day limit
    assert memory["threshold"] == 95
    # tfserving maps the GPU's memory at start: no memory alarm unless asked; vllm's default is 98 %.
    assert [a.key for a in alarms(GpuAlertsSpec(), GpuAlertsSpec().memory_threshold("tfserving"))] == ["gpu-idle"]
    assert [a.threshold for a in alarms(GpuAlertsSpec(), GpuAlertsSpec().memory_threshold("vllm"))] == [10, 98]


def test_dev_runs_none_of_it_unless_a_server_asks_for_gpu_alerts():
    dev = run_stack("eks-dev")
    assert observability(dev) == [] and gpu_alarms(dev) == {}
    values = stack_config("eks-dev")
    values["mlinfra:services"][0]["gpuAlerts"] = {}
    asked = run_config(values, stack="eks-dev")
    assert len(observability(asked)) == 1
    found = gpu_alarms(asked)
    assert {n: (a["metricName"], a["threshold"], a["dimensions"]) for n, a in found.items()} == {
        "mlinfra-eks-dev-summarizer-gpu-idle": ("pod_gpu_utilization", 10,
                                                {"ClusterName": "mlinfra-eks-dev", "Namespace": "ml-summarizer"}),
        "mlinfra-eks-dev-summarizer-gpu-memory": ("pod_gpu_memory_utilization", 98,  # vllm
                                                  {"ClusterName": "mlinfra-eks-dev", "Namespace": "ml-summarizer"})}
    topic = asked.one("aws:sns/topic:Topic").outputs["arn"]
    assert all(a["alarmActions"] == [topic] for a in found.values())


def test_prod_turns_it_off_when_told_and_the_dashboard_says_the_gpu_pool_is_not_charted():
    values = stack_config("eks-prod")
    values["mlinfra:alerts"]["gpuMetrics"] = False
    rec = run_config(values, stack="eks-prod")
    assert observability(rec) == [] and gpu_alarms(rec) == {}
    widgets = json.loads(rec.one(DASHBOARD).inputs["dashboardBody"])["widgets"]
    assert "GPU pools (l4): no GPU charts" in widgets[0]["properties"]["markdown"]
    assert not [w for w in widgets if "GPU" in w["properties"].get("title", "")]


def test_the_add_on_is_listed_as_not_priced_with_its_reason():
    rec = run_stack("eks-prod")
    unpriced = {u.name: u.reason for u in estimate(rec.registrations, "us-east-1").unpriced}
    assert "bills per observation" in unpriced[f"mlinfra-eks-{OBS}"]
    assert "no confirmed rate" in unpriced[f"mlinfra-eks-{OBS}"]


@pytest.mark.parametrize("change, key", [
    (lambda v: v["mlinfra:services"][0].update(gpuAlerts={"idlePercent": 0}), "mlinfra:services[0].gpuAlerts.idlePercent"),
    (lambda v: v["mlinfra:services"][0].update(gpuAlerts={"idleMinutes": 5}), "mlinfra:services[0].gpuAlerts.idleMinutes"),
    (lambda v: v["mlinfra:services"][0].update(gpuAlerts={"memoryPercent": 40}),
     "mlinfra:services[0].gpuAlerts.memoryPercent"),
    (lambda v: v["mlinfra:services"][0].update(gpuAlerts={"idlePercnt": 5}), "mlinfra:services[0].gpuAlerts.idlePercnt"),
    # A server without a GPU has none to watch.
    (lambda v: v["mlinfra:services"][0].update(gpuAlerts={}, resources={"cpu": 4, "memory": "16Gi"},
                                                placement={}), "mlinfra:services[0].gpuAlerts"),
    # GPU alerts read the add-on's metrics, which gpuMetrics: false turns off.
    (lambda v: (v["mlinfra:services"][0].update(gpuAlerts={}), v["mlinfra:alerts"].update(gpuMetrics=False)),
     "mlinfra:services[0].gpuAlerts"),
    (lambda v: v["mlinfra:alerts"].update(gpuMetrics="sometimes"), "mlinfra:alerts.gpuMetrics"),
])
def test_bad_gpu_monitoring_fails_naming_its_key(change, key):
    values = stack_config("eks-prod")
    change(values)
    assert list(errors_of(values, "eks-prod")) == [key]


def test_gpu_metrics_on_a_cluster_without_gpu_pools_has_no_effect_and_says_so():
    values = stack_config("eks-dev")
    values["mlinfra:cluster"]["nodePools"] = values["mlinfra:cluster"]["nodePools"][:1]
    values["mlinfra:services"], values["mlinfra:jobs"] = [], []
    values["mlinfra:alerts"] = {"gpuMetrics": True}
    assert errors_of(values, "eks-dev") == {"mlinfra:alerts.gpuMetrics": "has no effect: the cluster has no GPU pools"}
