"""A GPU model server's GPU alerts in Cloud Monitoring, on GKE's managed DCGM metrics as Managed
Service for Prometheus stores them: its pods' GPUs idle for long (paid for, unused: scale it
down or move it to a smaller GPU) and a GPU's framebuffer memory near full.

Conditions are PromQL (`conditionPrometheusQueryLanguage`), read per pod of the server's
namespace on the stack's cluster: DCGM-Exporter labels a GPU with the pod that holds it
(`exported_namespace`, `exported_pod`, renamed from `namespace` and `pod`, which are the
exporter's own target labels), so an idle GPU no pod holds does not page; the node autoscaler
removes it. Metric validation is off: the DCGM series exist only once a GPU node runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional, Sequence

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.serving.gpu_alerts_spec import MEMORY_RUNBOOK, GpuAlertsSpec, idle_runbook, idle_title, memory_title
from components.gcp.monitoring.metrics import prometheus_name

TYPE = "mlinfra:gcp:GpuAlerts"
UTIL = "prometheus.googleapis.com/DCGM_FI_DEV_GPU_UTIL/gauge"
FB_USED = "prometheus.googleapis.com/DCGM_FI_DEV_FB_USED/gauge"
FB_FREE = "prometheus.googleapis.com/DCGM_FI_DEV_FB_FREE/gauge"
METRICS = (UTIL, FB_USED, FB_FREE)
"""Every metric the conditions read (each in metrics.py's table)."""


class Condition(NamedTuple):
    key: str
    query: str
    duration: str
    severity: str
    title: str
    runbook: str


def conditions(spec: GpuAlertsSpec, cluster: str, namespace: str, memory: Optional[float]) -> list[Condition]:
    """The PromQL of each alert, for the server's pods in `namespace` on `cluster`; a memory
    alert above `memory` percent (none without it)."""
    sel = f'{{cluster="{cluster}",exported_namespace="{namespace}"}}'
    util, used, free = (prometheus_name(m) for m in METRICS)
    found = [
        Condition("gpu-idle", f"avg by (exported_pod) (avg_over_time({util}{sel}[5m])) < {spec.idle_percent:g}",
                  f"{spec.idle_minutes * 60}s", "WARNING",
                  idle_title(spec), idle_runbook("share the GPU (`nodePools[].gpu.sharing`) or use a smaller GPU type")),
    ]
    if memory is not None:
        found.append(Condition(
            "gpu-memory", f"max by (exported_pod) (100 * {used}{sel} / ({used}{sel} + {free}{sel})) > {memory:g}",
            "300s", "ERROR", memory_title(memory), MEMORY_RUNBOOK))
    return found


@dataclass(frozen=True, kw_only=True)
class GpuAlertsArgs:
    service: str
    """The model server's name, for the alerts' text."""
    namespace: str
    """Its Kubernetes namespace (every track's pods)."""
    cluster_name: pulumi.Input[str]
    """The GKE cluster it runs on (the `cluster` label Managed Service for Prometheus adds)."""
    project: str
    """The project whose Cloud Monitoring holds the alerts."""
    spec: GpuAlertsSpec = GpuAlertsSpec()
    """Thresholds, as the stack file says them."""
    runtime: Optional[str] = None
    """The server's runtime preset, which picks the memory alert's default threshold. Defaults to custom."""
    channels: Sequence[pulumi.Input[str]] = ()
    """Notification channels the alerts notify. Defaults to none."""


class GpuAlerts(Component):
    """Outputs: alert_policies (by condition key: the policy's resource name)."""

    def __init__(self, name: str, args: GpuAlertsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        memory = args.spec.memory_threshold(args.runtime)
        found = pulumi.Output.from_input(args.cluster_name).apply(
            lambda cluster: conditions(args.spec, cluster, args.namespace, memory))
        self.policies = {}
        for i, c in enumerate(conditions(args.spec, "<cluster>", args.namespace, memory)):
            self.policies[c.key] = gcp.monitoring.AlertPolicy(
                f"{name}-{c.key}", project=args.project, combiner="OR", severity=c.severity,
                display_name=f"{args.service}: {c.title}",
                notification_channels=list(args.channels) or None,
                conditions=[gcp.monitoring.AlertPolicyConditionArgs(
                    display_name=c.title,
                    condition_prometheus_query_language=gcp.monitoring.AlertPolicyConditionConditionPrometheusQueryLanguageArgs(
                        query=found.apply(lambda cs, i=i: cs[i].query), duration=c.duration,
                        evaluation_interval="60s", disable_metric_validation=True))],
                documentation=gcp.monitoring.AlertPolicyDocumentationArgs(mime_type="text/markdown", content=(
                    f"The GPUs of **{args.service}** (namespace {args.namespace}): {c.title}. {c.runbook}")),
                opts=self.child())
        self.alert_policies = {k: p.name for k, p in self.policies.items()}
        self.register_outputs({"alert_policies": self.alert_policies})
