"""A GPU model server's GPU alarms on EKS, from Container Insights with enhanced observability
(the amazon-cloudwatch-observability add-on: its DCGM exporter on the GPU nodes, its agent
publishing per pod): the server's GPUs idle for long (paid for, unused) and a GPU's memory near
full, with the thresholds of `services[].gpuAlerts` as on GKE.

The metrics are `pod_gpu_utilization` and `pod_gpu_memory_utilization` (percent) in the
ContainerInsights namespace, which the agent publishes with the dimension sets [ClusterName],
[ClusterName, Namespace], [ClusterName, Namespace, Service], [ClusterName, Namespace, PodName] and
finer (the agent's EMF metric declarations for GPU pods). The server has a namespace of its own,
so [ClusterName, Namespace] holds exactly its pods, every track: the idle alarm watches their
Average, the memory alarm their Maximum (one pod's GPU near full is enough). No pod, no data:
missing data does not breach (the node autoscaler removes an idle GPU no pod holds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components.core.component import Component
from components.serving.gpu_alerts_spec import MEMORY_RUNBOOK, GpuAlertsSpec, idle_runbook, idle_title, memory_title

TYPE = "mlinfra:aws:GpuAlarms"
NAMESPACE = "ContainerInsights"
UTIL, MEMORY = "pod_gpu_utilization", "pod_gpu_memory_utilization"
IDLE_PERIOD = 300
"""Seconds per idle datapoint: idleMinutes (10 to 1440) is 2 to 288 of them, within CloudWatch's
one day of evaluation."""
MEMORY_PERIOD, MEMORY_POINTS = 60, 5


class Alarm(NamedTuple):
    key: str
    metric: str
    stat: str
    operator: str
    threshold: float
    period: int
    points: int
    title: str
    runbook: str


def alarms(spec: GpuAlertsSpec, memory: Optional[float]) -> list[Alarm]:
    """The server's alarms: idle, and a memory alarm above `memory` percent (none without it)."""
    found = [Alarm("gpu-idle", UTIL, "Average", "LessThanThreshold", spec.idle_percent, IDLE_PERIOD,
                   spec.idle_minutes * 60 // IDLE_PERIOD,
                   idle_title(spec), idle_runbook("or use a smaller GPU instance type"))]
    if memory is not None:
        found.append(Alarm(
            "gpu-memory", MEMORY, "Maximum", "GreaterThanThreshold", memory, MEMORY_PERIOD, MEMORY_POINTS,
            memory_title(memory), MEMORY_RUNBOOK))
    return found


@dataclass(frozen=True, kw_only=True)
class GpuAlarmsArgs:
    service: str
    """The model server's name, for the alarms' names and text."""
    namespace: str
    """Its Kubernetes namespace (every track's pods)."""
    cluster_name: pulumi.Input[str]
    """The EKS cluster it runs on (the metrics' ClusterName)."""
    alarm_prefix: str
    """Every alarm's name starts with it (the alert topic lets `<prefix>-*` publish)."""
    spec: GpuAlertsSpec = GpuAlertsSpec()
    """Thresholds, as the stack file says them."""
    runtime: Optional[str] = None
    """The server's runtime preset, which picks the memory alarm's default threshold. Defaults to custom."""
    topics: Sequence[pulumi.Input[str]] = ()
    """SNS topics the alarms notify. Defaults to none."""


class GpuAlarms(Component):
    """Outputs: alarms (names: `<prefix>-<service>-gpu-idle`, `-gpu-memory`); alarm_arns (theirs)."""

    def __init__(self, name: str, args: GpuAlarmsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        self.alarms: list[str] = []
        self.alarm_arns: list[pulumi.Output[str]] = []
        for a in alarms(args.spec, args.spec.memory_threshold(args.runtime)):
            alarm_name = f"{args.alarm_prefix}-{args.service}-{a.key}"
            alarm = aws.cloudwatch.MetricAlarm(
                f"{name}-{a.key}", name=alarm_name, namespace=NAMESPACE, metric_name=a.metric, statistic=a.stat,
                dimensions={"ClusterName": args.cluster_name, "Namespace": args.namespace},
                period=a.period, evaluation_periods=a.points, datapoints_to_alarm=a.points,
                comparison_operator=a.operator, threshold=a.threshold, treat_missing_data="notBreaching",
                actions_enabled=True, alarm_actions=list(args.topics), ok_actions=list(args.topics),
                alarm_description=(f"The GPUs of {args.service} (namespace {args.namespace}): {a.title}. "
                                   f"{a.runbook}")[:1024],
                opts=self.child())
            self.alarms.append(alarm_name)
            self.alarm_arns.append(alarm.arn)
        self.register_outputs({"alarms": self.alarms})
