"""The drift job of a service's request log (`services[].logging.drift`): jobs/drift as a
scheduled Cloud Run job, and an alert policy on its metric above the threshold.

The job's account may read the log's table (`roles/bigquery.dataViewer` on the table), run
query jobs (`roles/bigquery.jobUser`, which BigQuery grants only on a project: a query is a job
of the project) and write metrics (`roles/monitoring.metricWriter`, likewise project-only);
nothing else. The metric is a GAUGE DOUBLE on the `global` resource, labels `feature` and
`service`; its descriptor is created with the stack (`psi_descriptor`), because Cloud
Monitoring refuses an alert policy on a custom metric no one has written yet (404 "Cannot find
metric(s) that match type").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.core.issues import raise_if_any
from components.gcp.cloudrun.cloud_run_job import CloudRunJob, CloudRunJobArgs
from components.gcp.cloudrun.cloud_run_job_spec import CloudRunJobSpec
from components.gcp.monitoring.metrics import aligner_issues
from components.gcp.monitoring.request_logging_spec import DriftSpec

TYPE = "mlinfra:gcp:DriftWatch"
PSI_METRIC = "custom.googleapis.com/mlinfra/drift/psi"
ALIGNER = "ALIGN_MAX"
JOB_TIMEOUT_SECONDS = 1800


def psi_descriptor(name: str, project: str, opts: Optional[pulumi.ResourceOptions] = None) -> gcp.monitoring.MetricDescriptor:
    """The PSI metric's descriptor (one per stack)."""
    return gcp.monitoring.MetricDescriptor(
        name, project=project, type=PSI_METRIC, metric_kind="GAUGE", value_type="DOUBLE",
        display_name="mlinfra drift: population stability index",
        description="PSI of a logged feature, current window against baseline window (jobs/drift).",
        labels=[gcp.monitoring.MetricDescriptorLabelArgs(key="feature", value_type="STRING",
                                                         description="the logged feature"),
                gcp.monitoring.MetricDescriptorLabelArgs(key="service", value_type="STRING",
                                                         description="the service (services[].name)")],
        opts=opts)


def job_env(spec: DriftSpec, project: str, service: str, table_ref: str) -> dict[str, str]:
    """The job's configuration (jobs/drift/main.py reads it)."""
    return {"DRIFT_PROJECT": project, "DRIFT_TABLE": table_ref, "DRIFT_SERVICE": service,
            "DRIFT_THRESHOLD": f"{spec.threshold:g}", "DRIFT_BINS": str(spec.bins),
            "DRIFT_BASELINE_DAYS": str(spec.baseline_days), "DRIFT_CURRENT_DAYS": str(spec.current_days),
            "DRIFT_MIN_COUNT": str(spec.min_count), "DRIFT_FEATURES": ",".join(spec.features)}


@dataclass(frozen=True, kw_only=True)
class DriftWatchArgs:
    spec: DriftSpec
    """The drift job as the stack file says it."""
    service: str
    """The service's name in the stack file (the metric's `service` label, the records' `service` field)."""
    job_spec_name: str
    """The job's name (at most 40 characters)."""
    job_name: str
    """The Cloud Run job's name."""
    table: gcp.bigquery.Table
    """The log's table, which the job reads."""
    table_ref: str
    """`project.dataset.table` of it."""
    project: str
    """The project it runs in."""
    region: str
    """Where the job runs."""
    descriptor: gcp.monitoring.MetricDescriptor
    """The PSI metric's descriptor (the alert policy waits for it)."""
    alert: bool = False
    """Build the alert policy. Defaults to false."""
    channels: Sequence[pulumi.Input[str]] = ()
    """Notification channels the alert notifies. Defaults to none."""
    deletion_protection: bool = False
    """Cloud Run deletion protection of the job (prod). Defaults to false."""


class DriftWatch(Component):
    """Outputs: job_name, alert_policy (its resource name, or none)."""

    def __init__(self, name: str, args: DriftWatchArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        spec = args.spec
        self.job = CloudRunJob(f"{name}-job", CloudRunJobArgs(
            spec=CloudRunJobSpec(name=args.job_spec_name, image=spec.image, schedule=spec.schedule,
                                 env=job_env(spec, args.project, args.service, args.table_ref),
                                 # A failed read is worth one retry; a drift is not a failure.
                                 max_retries=1, timeout_seconds=JOB_TIMEOUT_SECONDS),
            job_name=args.job_name, region=args.region, project=args.project,
            deletion_protection=args.deletion_protection), opts=self.child())
        member = self.job.account.member
        self.grants = [gcp.bigquery.IamMember(
            f"{name}-reads", project=args.project, dataset_id=args.table.dataset_id, table_id=args.table.table_id,
            role="roles/bigquery.dataViewer", member=member, opts=self.child())]
        self.grants += [gcp.projects.IAMMember(f"{name}-{role.split('.')[-1].lower()}", project=args.project,
                                               role=role, member=member, opts=self.child())
                        for role in ("roles/bigquery.jobUser", "roles/monitoring.metricWriter")]
        self.policy: Optional[gcp.monitoring.AlertPolicy] = None
        if args.alert:
            raise_if_any(f"DriftWatch {name}", aligner_issues(PSI_METRIC, ALIGNER))
            self.policy = gcp.monitoring.AlertPolicy(
                f"{name}-alert", project=args.project, combiner="OR", severity="WARNING",
                display_name=f"{args.service}: feature drift above {spec.threshold:g}",
                notification_channels=list(args.channels) or None,
                conditions=[gcp.monitoring.AlertPolicyConditionArgs(
                    display_name=f"PSI above {spec.threshold:g}",
                    condition_threshold=gcp.monitoring.AlertPolicyConditionConditionThresholdArgs(
                        filter=(f'metric.type="{PSI_METRIC}" resource.type="global" '
                                f'metric.label."service"="{args.service}"'),
                        comparison="COMPARISON_GT", threshold_value=spec.threshold, duration="0s",
                        aggregations=[gcp.monitoring.AlertPolicyConditionConditionThresholdAggregationArgs(
                            alignment_period="600s", per_series_aligner=ALIGNER)]))],
                documentation=gcp.monitoring.AlertPolicyDocumentationArgs(mime_type="text/markdown", content=(
                    f"A logged feature of **{args.service}** has shifted: its population stability index, the "
                    f"last {spec.current_days} day(s) against the {spec.baseline_days} day(s) before, is above "
                    f"{spec.threshold:g} (the incident's `feature` label names it). Read the job "
                    f"**{args.job_name}**'s WARNING records in its logs for the counts, compare the feature's "
                    f"distribution in `{args.table_ref}`, and check upstream changes before retraining.")),
                opts=self.child(depends_on=[args.descriptor]))
        self.job_name = args.job_name
        self.alert_policy = self.policy.name if self.policy else None
        self.register_outputs({"job_name": self.job_name, "alert_policy": self.alert_policy})
