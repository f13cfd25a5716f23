"""A Dataflow pipeline's alerts in Cloud Monitoring: its job failed (batch and streaming), and a
streaming job has fallen behind (system lag) or stopped producing fresh output (data watermark
age). Conditions read the job's own `dataflow_job` metrics by job name, so they cover every
launch of a scheduled batch pipeline, which reuses its job name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional, Sequence

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.gcp.monitoring.pipeline_alerts_spec import PipelineAlertsSpec

TYPE = "mlinfra:gcp:PipelineAlerts"


class Condition(NamedTuple):
    key: str
    metric: str
    aligner: str
    threshold: float
    duration: str
    severity: str
    title: str
    runbook: str


def conditions(spec: PipelineAlertsSpec, streaming: bool) -> list[Condition]:
    """What is watched: a failure always; lag and freshness on a streaming job."""
    found = [Condition("failed", "dataflow.googleapis.com/job/is_failed", "ALIGN_MAX", 0, "0s", "CRITICAL",
                       "job failed", "Open the job in the Dataflow console and read its error logs; a batch "
                       "pipeline runs again at its next scheduled launch.")]
    if streaming:
        found += [
            Condition("lag", "dataflow.googleapis.com/job/system_lag", "ALIGN_MAX", spec.max_lag_minutes * 60,
                      "600s", "WARNING", f"system lag above {spec.max_lag_minutes} min",
                      "Check the workers' CPU and the autoscaler's ceiling (`workers.maxWorkers`), a hot key, "
                      "and errors retried by a sink."),
            Condition("freshness", "dataflow.googleapis.com/job/data_watermark_age", "ALIGN_MAX",
                      spec.max_watermark_age_minutes * 60, "600s", "WARNING",
                      f"output older than {spec.max_watermark_age_minutes} min",
                      "Check that the source still receives messages and that no stage is stuck."),
        ]
    return found


@dataclass(frozen=True, kw_only=True)
class PipelineAlertsArgs:
    pipeline: str
    """The pipeline's name, for the alerts' text."""
    job_name: str
    """The Dataflow job name every run of the pipeline uses."""
    streaming: bool
    """Whether the job keeps running (lag and freshness are watched)."""
    project: str
    """The project whose Cloud Monitoring holds the alerts."""
    spec: PipelineAlertsSpec = PipelineAlertsSpec()
    """Thresholds, as the stack file says them."""
    channels: Sequence[pulumi.Input[str]] = ()
    """Notification channels the alerts notify. Defaults to none."""


class PipelineAlerts(Component):
    """Outputs: alert_policies (by condition key: the policy's resource name)."""

    def __init__(self, name: str, args: PipelineAlertsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        job = (f'resource.type="dataflow_job" resource.label."job_name"="{args.job_name}"')
        self.policies = {
            c.key: gcp.monitoring.AlertPolicy(
                f"{name}-{c.key}", project=args.project, combiner="OR", severity=c.severity,
                display_name=f"{args.pipeline}: {c.title}",
                notification_channels=list(args.channels) or None,
                conditions=[gcp.monitoring.AlertPolicyConditionArgs(
                    display_name=c.title,
                    condition_threshold=gcp.monitoring.AlertPolicyConditionConditionThresholdArgs(
                        filter=f'metric.type="{c.metric}" {job}', comparison="COMPARISON_GT",
                        threshold_value=c.threshold, duration=c.duration,
                        aggregations=[gcp.monitoring.AlertPolicyConditionConditionThresholdAggregationArgs(
                            alignment_period="60s", per_series_aligner=c.aligner)]))],
                documentation=gcp.monitoring.AlertPolicyDocumentationArgs(mime_type="text/markdown", content=(
                    f"The Dataflow job **{args.job_name}** of the pipeline **{args.pipeline}**: {c.title}. "
                    f"{c.runbook}")),
                opts=self.child())
            for c in conditions(args.spec, args.streaming)
        }
        self.alert_policies = {k: p.name for k, p in self.policies.items()}
        self.register_outputs({"alert_policies": self.alert_policies})
