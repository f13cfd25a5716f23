"""The dataflow pattern: batch and streaming Dataflow pipelines (Flex Templates) with their
Pub/Sub topics and subscriptions, BigQuery datasets and tables, a temp and staging bucket and a
worker account per pipeline, on the stack's private network beside the data lake and the
model-artifact bucket. Streaming pipelines are jobs Pulumi keeps running; batch pipelines are
launched on their schedule by Cloud Scheduler. For large or streaming data processing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_gcp as gcp

from components.core.naming import dns_name
from components.gcp.dataflow.bigquery_dataset import BigQueryDataset, BigQueryDatasetArgs, TableDef
from components.gcp.dataflow.dataflow_pipeline import APIS as PIPELINE_APIS
from components.gcp.dataflow.dataflow_pipeline import DataflowPipeline, DataflowPipelineArgs
from components.gcp.dataflow.pipeline_spec import PipelineSpec
from components.gcp.monitoring.pipeline_alerts_spec import PipelineAlertsSpec
from components.gcp.storage.bucket import Bucket, BucketArgs, LifecycleRule
from infra.patterns.pattern_component import PatternArgs, PatternComponent

TYPE = "mlinfra:pattern:Dataflow"
APIS = PIPELINE_APIS


@dataclass(frozen=True, kw_only=True)
class DataflowArgs(PatternArgs):
    pipelines: Sequence[PipelineSpec] = ()
    """The pipelines as the stack file says them. Defaults to none."""


class Dataflow(PatternComponent):
    """Outputs: pipelines (by name: template_path, worker_email, and job_id or scheduler_job;
    alert_policies when watched),
    topics, datasets, trigger_urls, buckets, image_repository, network."""

    Args = DataflowArgs

    def __init__(self, name: str, args: DataflowArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, args, APIS, opts)
        self.alerts: dict = {}
        self.staging = Bucket(f"{name}-dataflow", BucketArgs(
            name=dns_name(args.project, args.stack, "dataflow"), location=args.region,
            lifecycle=[LifecycleRule(age_days=1, abort_incomplete_uploads=True)], purpose="dataflow-staging"),
            opts=self.after_apis)

        topics = sorted({part.pubsub.topic for p in args.pipelines for part in (p.source, p.sink)
                         if part.pubsub is not None})
        self.topics = {topic: gcp.pubsub.Topic(f"{name}-topic-{topic}", name=topic, project=args.project,
                                               message_retention_duration="604800s", opts=self.after_apis)
                       for topic in topics}

        tables: dict[str, list[TableDef]] = {}
        for p in args.pipelines:
            bq = p.sink.bigquery
            if bq is not None:
                part = bq.partitioning
                tables.setdefault(bq.dataset, []).append(TableDef(
                    table_id=bq.table, columns=bq.columns(args.source_root) or [],
                    partition_type=part.type if part else None, partition_field=part.field if part else None,
                    partition_expiration_days=part.expiration_days if part else None))
        self.datasets = {
            dataset: BigQueryDataset(f"{name}-bq-{dataset.lower().replace('_', '-')}", BigQueryDatasetArgs(
                dataset_id=dataset, location=args.region, project=args.project, tables=defs, protect=args.prod),
                opts=self.after_apis)
            for dataset, defs in sorted(tables.items())
        }

        # The full URL Dataflow takes, built from the subnet's ID (projects/<p>/regions/<r>/subnetworks/<s>),
        # so it names the host project of a subnet the stack does not own as well.
        subnetwork = pulumi.Output.concat("https://www.googleapis.com/compute/v1/", self.network.subnetwork_id)
        self.pipelines = {
            p.name: DataflowPipeline(f"{name}-df-{p.name}", DataflowPipelineArgs(
                spec=p, project=args.project, region=args.region, stack=args.stack, source_root=args.source_root,
                staging=self.staging, subnetwork=subnetwork, images=self.images,
                buckets=self.storage.buckets, topics=self.topics, datasets=self.datasets, labels=args.labels),
                opts=self.after_apis)
            for p in args.pipelines
        }
        watched = [(p, p.alerts or PipelineAlertsSpec()) for p in args.pipelines if p.alerts or args.prod]
        if watched:
            from components.gcp.monitoring.pipeline_alerts import PipelineAlerts, PipelineAlertsArgs

            channels = self.alert_channels()
            self.alerts = {p.name: PipelineAlerts(f"{name}-watch-{p.name}", PipelineAlertsArgs(
                pipeline=p.name, job_name=self.pipelines[p.name].job_name, streaming=p.mode == "streaming",
                project=args.project, spec=spec, channels=channels), opts=self.after_apis)
                for p, spec in watched}
        self.build_triggers()

        self.outputs = {
            "pipelines": {n: {"template_path": p.template_path, "worker_email": p.worker_email,
                              **({"job_id": p.job.job_id} if p.job else {}),
                              **({"scheduler_job": p.launch.job.name} if p.launch else {}),
                              **({"alert_policies": self.alerts[n].alert_policies} if n in self.alerts else {})}
                          for n, p in self.pipelines.items()},
            "topics": {t: topic.name for t, topic in self.topics.items()},
            "datasets": {d: ds.dataset_id for d, ds in self.datasets.items()},
            **self.common_outputs(),
        }
        self.register_outputs(self.outputs)
