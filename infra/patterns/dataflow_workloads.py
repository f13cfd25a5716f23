"""What a pattern builds to run Dataflow pipelines: a temp and staging bucket, the Pub/Sub
topics and BigQuery datasets the pipelines name, the pipelines, and their alerts. Every pattern
with pipelines (dataflow, hybrid) builds them through here."""

from __future__ import annotations

from typing import Any, Sequence

import pulumi
import pulumi_gcp as gcp

from components.core.naming import dns_name
from components.gcp.dataflow.bigquery_dataset import BigQueryDataset, BigQueryDatasetArgs, TableDef
from components.gcp.dataflow.dataflow_pipeline import APIS
from components.gcp.dataflow.dataflow_pipeline import DataflowPipeline, DataflowPipelineArgs
from components.gcp.dataflow.pipeline_spec import PipelineSpec
from components.gcp.monitoring.pipeline_alerts_spec import PipelineAlertsSpec
from components.gcp.storage.bucket import Bucket, BucketArgs, LifecycleRule

__all__ = ["APIS", "build_pipelines", "pipeline_outputs"]


def build_pipelines(self: Any, pipelines: Sequence[PipelineSpec]) -> None:
    """Sets `staging`, `topics`, `datasets`, `pipelines` and `alerts` on the pattern."""
    args, name = self.args, self.name
    self.alerts: dict = {}
    self.staging = Bucket(f"{name}-dataflow", BucketArgs(
        name=dns_name(args.project, args.stack, "dataflow"), location=args.region,
        lifecycle=[LifecycleRule(age_days=1, abort_incomplete_uploads=True)], purpose="dataflow-staging"),
        opts=self.after_apis)

    topics = sorted({part.pubsub.topic for p in pipelines for part in (p.source, p.sink)
                     if part.pubsub is not None})
    self.topics = {topic: gcp.pubsub.Topic(f"{name}-topic-{topic}", name=topic, project=args.project,
                                           message_retention_duration="604800s", opts=self.after_apis)
                   for topic in topics}

    tables: dict[str, list[TableDef]] = {}
    for p in pipelines:
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
    # (No pipelines, no workers: a dataflow stack of triggers alone may have no VPC.)
    subnetwork = pulumi.Output.concat("https://www.googleapis.com/compute/v1/", self.network.subnetwork_id) \
        if self.network is not None else None
    self.pipelines = {
        p.name: DataflowPipeline(f"{name}-df-{p.name}", DataflowPipelineArgs(
            spec=p, project=args.project, region=args.region, stack=args.stack, source_root=args.source_root,
            staging=self.staging, subnetwork=subnetwork, images=self.images,
            buckets=self.storage.buckets, topics=self.topics, datasets=self.datasets, labels=args.labels),
            opts=self.after_apis)
        for p in pipelines
    }
    watched = [(p, p.alerts or PipelineAlertsSpec()) for p in pipelines if p.alerts or args.prod]
    if watched:
        from components.gcp.monitoring.pipeline_alerts import PipelineAlerts, PipelineAlertsArgs

        channels = self.alert_channels()
        self.alerts = {p.name: PipelineAlerts(f"{name}-watch-{p.name}", PipelineAlertsArgs(
            pipeline=p.name, job_name=self.pipelines[p.name].job_name, streaming=p.mode == "streaming",
            project=args.project, spec=spec, channels=channels), opts=self.after_apis)
            for p, spec in watched}


def pipeline_outputs(self: Any) -> dict[str, Any]:
    return {
        "pipelines": {n: {"template_path": p.template_path, "worker_email": p.worker_email,
                          **({"job_id": p.job.job_id} if p.job else {}),
                          **({"scheduler_job": p.launch.job.name} if p.launch else {}),
                          **({"alert_policies": self.alerts[n].alert_policies} if n in self.alerts else {})}
                      for n, p in self.pipelines.items()},
        "topics": {t: topic.name for t, topic in self.topics.items()},
        "datasets": {d: ds.dataset_id for d, ds in self.datasets.items()},
    }
