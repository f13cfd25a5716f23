"""The drift job of an EKS server's request log (`services[].logging.drift` on AWS): jobs/drift as
a CronJob on the stack's cluster (an EksJob in the jobs namespace, restricted pod security, its
own service account and Pod Identity role), and a CloudWatch alarm on its metric above the
threshold, notifying the stack's alert topic.

The job's role may list the data lake under the log's prefix (s3:ListBucket with an s3:prefix
condition), read the objects there (s3:GetObject), decrypt them (kms:Decrypt through S3 only),
and put metric data in the drift namespace only (cloudwatch:PutMetricData with the condition
cloudwatch:namespace = mlinfra/drift; the action takes no resource ARN); nothing else. It writes
`PSI` per feature (dimensions Service, Feature) and `MaxPSI` per run (dimension Service), the
largest index of the run, which the alarm watches: the day's maximum above the threshold. A
day without data (no run, or no feature with enough values) is not breaching.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws

from components.aws.eks.eks_job import EksJob, EksJobArgs
from components.aws.eks.eks_job_spec import EksJobSpec
from components.aws.eks.node_labels import EKS_NODES
from components.aws.monitoring.eks_request_logging_spec import (DRIFT_NAMESPACE, MAX_PSI_METRIC, EksDriftSpec,
                                                                drift_job_name, job_env, log_prefix)
from components.aws.storage.s3_bucket import S3Bucket
from components.core.component import Component
from components.kubernetes.pods import NodeScheme, PodResourcesSpec

TYPE = "mlinfra:aws:EksDriftWatch"
JOB_TIMEOUT_SECONDS = 1800
ALARM_PERIOD = 86400


def metric_statements() -> list[dict]:
    """Putting metric data in the drift namespace, and no other."""
    return [{"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
             "Condition": {"StringEquals": {"cloudwatch:namespace": DRIFT_NAMESPACE}}}]


def job_spec(spec: EksDriftSpec, bucket: str, service: str, region: str) -> EksJobSpec:
    """The drift job as an EKS job: on spot when there is room (a reclaimed run is retried), one
    retry for a failed read (a drift is not a failure), half an hour at most."""
    return EksJobSpec(name=drift_job_name(service), image=spec.image, schedule=spec.schedule,
                      env=job_env(spec, bucket, service, region), resources=PodResourcesSpec(cpu=1, memory="2Gi"),
                      backoff_limit=1, active_deadline_seconds=JOB_TIMEOUT_SECONDS)


@dataclass(frozen=True, kw_only=True)
class EksDriftWatchArgs:
    spec: EksDriftSpec
    """The drift job as the stack file says it."""
    service: str
    """The service's name in the stack file (the metrics' Service dimension, the records' `service`)."""
    bucket: S3Bucket
    """The data lake holding the log."""
    bucket_name: str
    """Its name (the job's DRIFT_BUCKET)."""
    kms_key_arn: pulumi.Input[str]
    """The buckets' KMS key."""
    namespace: str
    """The jobs namespace it runs in; it must exist (the caller passes it in `depends_on`)."""
    provider: pulumi.ProviderResource
    """The cluster's Kubernetes provider."""
    cluster_name: pulumi.Input[str]
    """The cluster (its Pod Identity association names it)."""
    region: str
    """The stack's region."""
    alarm_name: str
    """The alarm's name (it starts with the stack's alarm prefix, which may publish to the topic)."""
    nodes: NodeScheme = EKS_NODES
    """How the cluster labels its spot nodes. Defaults to the managed node groups'."""
    alert: bool = False
    """Build the alarm. Defaults to false."""
    topics: Sequence[pulumi.Input[str]] = ()
    """SNS topics the alarm notifies. Defaults to none."""


class EksDriftWatch(Component):
    """Outputs: job_name, alarm (its name, or none), alarm_arns."""

    def __init__(self, name: str, args: EksDriftWatchArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        spec, prefix = args.spec, log_prefix(args.service)
        self.job = EksJob(f"{name}-job", EksJobArgs(
            spec=job_spec(spec, args.bucket_name, args.service, args.region), namespace=args.namespace,
            provider=args.provider, cluster_name=args.cluster_name, region=args.region, kms_key_arn=args.kms_key_arn,
            read_buckets=[args.bucket], read_prefix=prefix, statements=[metric_statements()], nodes=args.nodes),
            opts=self.child())
        self.alarm: Optional[aws.cloudwatch.MetricAlarm] = None
        self.alarm_arns: list[pulumi.Output[str]] = []
        if args.alert:
            job = drift_job_name(args.service)
            self.alarm = aws.cloudwatch.MetricAlarm(
                f"{name}-alarm", name=args.alarm_name, namespace=DRIFT_NAMESPACE, metric_name=MAX_PSI_METRIC,
                dimensions={"Service": args.service}, statistic="Maximum", period=ALARM_PERIOD,
                evaluation_periods=1, datapoints_to_alarm=1, comparison_operator="GreaterThanThreshold",
                threshold=spec.threshold, treat_missing_data="notBreaching", actions_enabled=True,
                alarm_actions=list(args.topics),
                alarm_description=(
                    f"A logged feature of {args.service} has shifted: its population stability index, the last "
                    f"{spec.current_days} day(s) against the {spec.baseline_days} day(s) before, is above "
                    f"{spec.threshold:g}. The metric PSI (namespace {DRIFT_NAMESPACE}, dimensions Service and "
                    f"Feature) names the feature; the CronJob {job}'s logs (`kubectl -n {args.namespace} logs "
                    f"job/<its latest run>`) give the counts. Compare the feature's distribution in the log "
                    f"(s3://{args.bucket_name}/{prefix}) and check upstream changes before retraining.")[:1024],
                opts=self.child())
            self.alarm_arns.append(self.alarm.arn)
        self.job_name = self.job.job_name
        self.alarm_name = args.alarm_name if self.alarm is not None else None
        self.register_outputs({"job_name": self.job_name, "alarm": self.alarm_name})
