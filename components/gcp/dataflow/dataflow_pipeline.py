"""One Dataflow pipeline from its stack-file entry: a worker account with exactly the roles its
source and sink need, its Flex Template spec file, its Pub/Sub subscription (with dead letters)
when it reads a topic, and either a streaming job or a scheduled batch launch.

Workers always run as the pipeline's own account (never the Compute Engine default account),
with private IPs only, on the stack's subnet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.core.issues import Issue, raise_if_any
from components.core.naming import dns_name
from components.core.spec import Context, ensure_valid
from components.gcp.artifactregistry.artifact_registry import ArtifactRegistry
from components.gcp.dataflow.bigquery_dataset import BigQueryDataset
from components.gcp.dataflow.flex_template import FlexTemplate, FlexTemplateArgs
from components.gcp.dataflow.pipeline_spec import PipelineSpec
from components.gcp.dataflow.pubsub_feed import PubsubFeed, PubsubFeedArgs
from components.gcp.dataflow.scheduled_launch import LaunchArgs, ScheduledLaunch, ScheduledLaunchArgs, launch_request
from components.gcp.dataflow.template_metadata import declared, load_metadata
from components.gcp.iam.service_account import ServiceAccount, ServiceAccountArgs
from components.gcp.storage.bucket import Bucket

TYPE = "mlinfra:gcp:DataflowPipeline"
APIS = ("dataflow.googleapis.com", "compute.googleapis.com", "storage.googleapis.com", "pubsub.googleapis.com",
        "bigquery.googleapis.com", "bigquerystorage.googleapis.com", "cloudscheduler.googleapis.com",
        "artifactregistry.googleapis.com", "iam.googleapis.com")


@dataclass(frozen=True, kw_only=True)
class DataflowPipelineArgs:
    spec: PipelineSpec
    """The pipeline as the stack file says it."""
    project: str
    """The project it runs in."""
    region: str
    """The region of its jobs."""
    stack: str
    """The stack: job and subscription names carry it."""
    source_root: Path
    """The directory `template.source` is relative to (the project root)."""
    staging: Bucket
    """The Dataflow temp and staging bucket; template spec files are written there too."""
    subnetwork: pulumi.Input[str]
    """The subnet (self link) its workers run in."""
    images: ArtifactRegistry
    """The repository holding the template's launcher image: the workers may read it."""
    buckets: Mapping[str, Bucket] = field(default_factory=dict)
    """The stack's buckets by role, which storage sources and sinks and the model may name. Defaults to none."""
    topics: Mapping[str, gcp.pubsub.Topic] = field(default_factory=dict)
    """Topics by name, for Pub/Sub sources and sinks. Defaults to none."""
    datasets: Mapping[str, BigQueryDataset] = field(default_factory=dict)
    """Datasets by ID, holding the BigQuery sink's table. Defaults to none."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Labels of batch jobs the schedule launches (a streaming job gets them from the pattern). Defaults to none."""


class DataflowPipeline(Component):
    """Outputs: template_path, worker_email, job_id (streaming) or scheduler_job (batch)."""

    def __init__(self, name: str, args: DataflowPipelineArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        spec = args.spec
        ensure_valid(f"DataflowPipeline {name}", spec, Context(
            project=args.project, region=args.region, stack=args.stack, root=Path(args.source_root),
            extra={"bucket_roles": tuple(args.buckets)}))
        raise_if_any(f"DataflowPipeline {name}", self._missing(args))
        metadata, _ = load_metadata((Path(args.source_root) / spec.template.source).resolve())
        job_name = dns_name(spec.name, args.stack, max_len=63)

        self.worker = ServiceAccount(f"{name}-worker", ServiceAccountArgs(
            display_name=f"mlinfra Dataflow workers of {spec.name}", project=args.project), opts=self.child())
        grants: list[pulumi.Resource] = [
            self.worker.grant_project_role("roles/dataflow.worker"),
            args.staging.grant_read_write(self.worker),
            gcp.artifactregistry.RepositoryIamMember(
                f"{name}-worker-image-reader", project=args.project, location=args.images.repository.location,
                repository=args.images.repository.name, role="roles/artifactregistry.reader",
                member=self.worker.member, opts=self.child()),
        ]
        bucket_access: dict[str, str] = {}  # bucket role -> read | readwrite
        project_roles: set[str] = set()
        params: dict[str, pulumi.Input[str]] = {}
        self.feed: Optional[PubsubFeed] = None

        source, sink = spec.source, spec.sink
        if source.pubsub is not None:
            self.feed = PubsubFeed(f"{name}-feed", PubsubFeedArgs(
                topic=args.topics[source.pubsub.topic].id, subscription_name=job_name, project=args.project),
                opts=self.child())
            grants += self.feed.grant_subscribe(self.worker)
            grants.append(self.feed.grant_dead_letter_publish(self.worker))
            params.update(inputSubscription=self.feed.subscription_path, deadLetterTopic=self.feed.dead_letter_topic_path)
        elif source.storage is not None:
            bucket_access.setdefault(source.storage.bucket, "read")
            params["inputPattern"] = pulumi.Output.concat(
                "gs://", args.buckets[source.storage.bucket].bucket_name, "/", source.storage.prefix, "*")
        elif source.bigquery is not None:
            project, dataset, table = _table_parts(source.bigquery.table, args.project)
            grants.append(gcp.bigquery.DatasetIamMember(
                f"{name}-worker-source-dataviewer", project=project, dataset_id=dataset,
                role="roles/bigquery.dataViewer", member=self.worker.member,
                opts=self.child(depends_on=[args.datasets[dataset]] if dataset in args.datasets and project == args.project
                                else None)))
            project_roles |= {"roles/bigquery.jobUser", "roles/bigquery.readSessionUser"}
            params["inputTable"] = f"{project}:{dataset}.{table}"

        if sink.bigquery is not None:
            dataset = args.datasets[sink.bigquery.dataset]
            grants.append(dataset.grant(self.worker, BigQueryDataset.EDITOR))
            if spec.mode == "batch":
                project_roles.add("roles/bigquery.jobUser")  # load jobs
            params["outputTable"] = dataset.table_ref(sink.bigquery.table)
        elif sink.storage is not None:
            bucket_access[sink.storage.bucket] = "readwrite"  # Beam writes temporary files, then renames them
            params["outputPath"] = pulumi.Output.concat(
                "gs://", args.buckets[sink.storage.bucket].bucket_name, "/", sink.storage.prefix)
        elif sink.pubsub is not None:
            topic = args.topics[sink.pubsub.topic]
            grants.append(gcp.pubsub.TopicIAMMember(
                f"{name}-worker-sink-publisher", project=args.project, topic=topic.name, role="roles/pubsub.publisher",
                member=self.worker.member, opts=self.child()))
            params["outputTopic"] = pulumi.Output.concat("projects/", args.project, "/topics/", topic.name)

        if spec.model is not None:
            role = next(r for r, b in args.buckets.items() if b.global_name == spec.model.bucket)
            bucket_access.setdefault(role, "read")
            params.update(modelUri=spec.model.uri, modelVersion=spec.model.version)
        for value in spec.parameters.values():  # e.g. a dead-letter path in the data lake: written to
            role = next((r for r, b in args.buckets.items() if str(value).startswith(f"gs://{b.global_name}/")), None)
            if role is not None:
                bucket_access[role] = "readwrite"
        for role, access in sorted(bucket_access.items()):
            bucket = args.buckets[role]
            grants.append(bucket.grant_read(self.worker) if access == "read" else bucket.grant_read_write(self.worker))
        grants += [self.worker.grant_project_role(r) for r in sorted(project_roles)]

        known = declared(metadata or {})
        params = {k: v for k, v in params.items() if k in known}
        params.update(spec.parameters)

        self.template = FlexTemplate(f"{name}-template", FlexTemplateArgs(
            template_name=spec.name, image=spec.template.image, metadata=metadata or {}, bucket=args.staging),
            opts=self.child())
        temp = pulumi.Output.concat("gs://", args.staging.bucket_name, "/temp/", spec.name)
        workers = spec.workers
        self.job: Optional[gcp.dataflow.FlexTemplateJob] = None
        self.launch: Optional[ScheduledLaunch] = None
        self.launch_request: Optional[pulumi.Output] = None
        self.grants = grants
        self.staging = args.staging
        outputs: dict[str, Any] = {}
        if spec.mode == "streaming":
            self.job = gcp.dataflow.FlexTemplateJob(
                name,
                name=job_name,
                project=args.project,
                region=args.region,
                container_spec_gcs_path=self.template.gcs_path,
                parameters=params,
                service_account_email=self.worker.email,
                subnetwork=args.subnetwork,
                ip_configuration="WORKER_IP_PRIVATE",
                # One image is launcher and worker SDK container: workers run what the graph was built with.
                sdk_container_image=spec.template.image,
                enable_streaming_engine=True,
                machine_type=workers.machine_type,
                num_workers=workers.min_workers,
                max_workers=workers.max_workers,
                # Python pipeline options, passed to the launcher as --disk_size_gb.
                additional_pipeline_options=[f"disk_size_gb={workers.disk_size_gb}"] if workers.disk_size_gb else None,
                temp_location=temp,
                staging_location=pulumi.Output.concat("gs://", args.staging.bucket_name, "/staging/", spec.name),
                on_delete="drain",
                # The job name is fixed and Dataflow allows one active job per name, so a
                # replacement must drain the old job before the new one starts: a derived name
                # would run two jobs on one subscription at once, splitting its messages and
                # writing every window twice.
                opts=self.child(depends_on=grants, delete_before_replace=True),
            )
            outputs["job_id"] = self.job.job_id
        else:
            launch = dict(
                job_name=job_name, project=args.project, region=args.region, template_path=self.template.gcs_path,
                worker=self.worker, template_bucket=args.staging, subnetwork=args.subnetwork, temp_location=temp,
                parameters=params, machine_type=workers.machine_type,
                num_workers=workers.min_workers, max_workers=workers.max_workers, disk_size_gb=workers.disk_size_gb,
                flexrs=spec.flexrs, labels=args.labels, sdk_container_image=spec.template.image)
            # A trigger's workflow launches it with this request (run: {pipeline}).
            self.launch_request = launch_request(LaunchArgs(**launch))
            if spec.schedule is not None:
                self.launch = ScheduledLaunch(f"{name}-launch", ScheduledLaunchArgs(
                    **launch, schedule=spec.schedule, time_zone=spec.time_zone), opts=self.child(depends_on=grants))
                outputs["scheduler_job"] = self.launch.job.name
        self.job_name = job_name
        self.template_path = self.template.gcs_path
        self.worker_email = self.worker.email
        self.register_outputs({"template_path": self.template_path, "worker_email": self.worker_email, **outputs})

    @staticmethod
    def _missing(args: DataflowPipelineArgs) -> list[Issue]:
        """What the spec names that the arguments beside it do not provide."""
        spec, issues = args.spec, []
        for key, part in (("source", args.spec.source), ("sink", args.spec.sink)):
            if part.pubsub is not None and part.pubsub.topic not in args.topics:
                issues.append(Issue((key, "pubsub", "topic"), "needs the topic", part.pubsub.topic, fix="pass it in topics"))
        if spec.sink.bigquery is not None and spec.sink.bigquery.dataset not in args.datasets:
            issues.append(Issue(("sink", "bigquery", "dataset"), "needs the dataset", spec.sink.bigquery.dataset,
                                fix="pass it in datasets"))
        if spec.model is not None and not any(b.global_name == spec.model.bucket for b in args.buckets.values()):
            issues.append(Issue(("model", "uri"), "is in none of the buckets passed", spec.model.uri,
                                fix="pass the artifact bucket in buckets"))
        return issues


def _table_parts(ref: str, default_project: str) -> tuple[str, str, str]:
    """`[project(.|:)]dataset.table` -> (project, dataset, table)."""
    head, table = ref.rsplit(".", 1)
    if ":" in head:
        project, dataset = head.split(":", 1)
    elif "." in head:
        project, dataset = head.split(".", 1)
    else:
        project, dataset = default_project, head
    return project, dataset, table
