"""A Dataflow pipeline as the stack file says it: where it reads, where it writes, the Flex
Template it runs, its workers and (batch) its schedule, with the rules Dataflow, Pub/Sub,
BigQuery and Cloud Scheduler would otherwise enforce minutes into an apply. No provider import."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, Mapping, Optional

from pydantic import Field

from components.core.issues import Issue, first_per_key, one_of
from components.core.naming import DNS_LABEL, dns_name
from components.core.schedules import cron_issues, time_zone_issues
from components.core.spec import Context, Spec
from components.gcp.compute.machine_types import machine_type_issues
from components.gcp.dataflow.template_metadata import load_metadata, parameter_issues
from components.gcp.monitoring.pipeline_alerts_spec import PipelineAlertsSpec
from components.gcp.pubsub.names import topic_name_issues
from components.gcp.storage.storage_spec import BUCKET_ROLES
from components.serving.model_serving_spec import ModelSpec

BQ_ID = r"^[A-Za-z0-9_]{1,1024}$"
BQ_TYPES = ("STRING", "BYTES", "INTEGER", "INT64", "FLOAT", "FLOAT64", "NUMERIC", "BIGNUMERIC", "BOOLEAN", "BOOL",
            "TIMESTAMP", "DATE", "TIME", "DATETIME", "GEOGRAPHY", "JSON", "RECORD", "STRUCT", "RANGE")
IMAGE = r"^[a-z0-9-]+-docker\.pkg\.dev/[a-z][-a-z0-9]{4,28}[a-z0-9]/[a-z0-9-]+/[a-z0-9._/-]+(:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$"


class PubsubSourceSpec(Spec):
    topic: str
    """Topic to read; the stack creates it, with a subscription and a dead-letter topic for the pipeline."""


class BucketPathSpec(Spec):
    bucket: str
    """Which of the stack's buckets: dataLake or artifacts."""
    prefix: str = ""
    """Objects under this prefix. Defaults to the whole bucket."""


class BigQuerySourceSpec(Spec):
    table: str = Field(pattern=r"^([a-z][-a-z0-9]{4,28}[a-z0-9][.:])?[A-Za-z0-9_]{1,1024}\.[-A-Za-z0-9_$]{1,1024}$")
    """Table to read: dataset.table (in the stack's project) or project.dataset.table."""


class SourceSpec(Spec):
    """Exactly one of the three."""

    pubsub: Optional[PubsubSourceSpec] = None
    """An unbounded stream of messages (streaming pipelines only)."""
    storage: Optional[BucketPathSpec] = None
    """Files in one of the stack's buckets under a prefix."""
    bigquery: Optional[BigQuerySourceSpec] = None
    """A BigQuery table, read with the Storage Read API."""

    @property
    def kind(self) -> Optional[str]:
        kinds = [k for k in ("pubsub", "storage", "bigquery") if getattr(self, k) is not None]
        return kinds[0] if len(kinds) == 1 else None


class FieldSpec(Spec):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,299}$")
    """Column name."""
    type: str
    """BigQuery type: STRING, INT64, FLOAT64, TIMESTAMP, ..."""
    mode: Literal["NULLABLE", "REQUIRED", "REPEATED"] = "NULLABLE"
    """NULLABLE, REQUIRED or REPEATED. Defaults to NULLABLE."""

    def issues(self, ctx: Context) -> list[Issue]:
        if self.type.upper() not in BQ_TYPES:
            return [Issue(("type",), "is not a BigQuery column type", self.type, allowed=one_of(BQ_TYPES),
                          fix="use a standard SQL type such as STRING or INT64")]
        return []


class PartitioningSpec(Spec):
    field: Optional[str] = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,299}$")
    """TIMESTAMP or DATE column to partition by. Defaults to the ingestion time."""
    type: Literal["HOUR", "DAY", "MONTH", "YEAR"] = "DAY"
    """Partition granularity. Defaults to DAY."""
    expiration_days: Optional[int] = Field(None, ge=1)
    """Delete partitions older than this. Defaults to never."""


class BigQuerySinkSpec(Spec):
    dataset: str = Field(pattern=BQ_ID)
    """Dataset, in the stack's project and region; the stack creates it."""
    table: str = Field(pattern=BQ_ID)
    """Table; the stack creates it with the schema."""
    schema_: Optional[list[FieldSpec]] = Field(None, alias="schema")
    """Columns. Give this or schemaFile."""
    schema_file: Optional[str] = None
    """A JSON file of columns (BigQuery's schema format), relative to the project root."""
    partitioning: Optional[PartitioningSpec] = None
    """Time partitioning. Defaults to none."""

    def issues(self, ctx: Context) -> list[Issue]:
        if (self.schema_ is None) == (self.schema_file is None):
            return [Issue(("schema",), "needs exactly one of schema and schemaFile", fix="keep one of them")]
        issues: list[Issue] = []
        columns = self.columns(ctx.root)
        if columns is None:
            return [Issue(("schemaFile",), "is not a JSON list of columns in the project", self.schema_file,
                          fix="write a file like [{\"name\": \"id\", \"type\": \"STRING\"}]")]
        names = [c.get("name") for c in columns]
        if self.partitioning is not None and self.partitioning.field is not None:
            types = {c.get("name"): str(c.get("type", "")).upper() for c in columns}
            if types.get(self.partitioning.field) not in ("TIMESTAMP", "DATE", "DATETIME"):
                issues.append(Issue(("partitioning", "field"), "is not a TIMESTAMP, DATE or DATETIME column of the schema",
                                    self.partitioning.field, allowed=one_of(n for n, t in types.items()
                                                                           if t in ("TIMESTAMP", "DATE", "DATETIME")) or "none",
                                    fix="name a time column, or drop field to partition by ingestion time"))
            elif types[self.partitioning.field] == "DATE" and self.partitioning.type == "HOUR":
                # https://cloud.google.com/bigquery/docs/partitioned-tables#date_timestamp_partitioned_tables
                issues.append(Issue(("partitioning", "type"), "HOUR partitions need a TIMESTAMP or DATETIME column; "
                                    f"{self.partitioning.field} is a DATE", "HOUR", allowed="DAY, MONTH, YEAR",
                                    fix="partition by DAY, or name a TIMESTAMP column"))
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            issues.append(Issue(("schema",), "names a column twice", dupes[0], fix="give each column its own name"))
        return issues

    def columns(self, root: Path) -> Optional[list[dict]]:
        """The schema as BigQuery's JSON list of columns, from `schema` or `schemaFile`."""
        if self.schema_ is not None:
            return [{"name": c.name, "type": c.type.upper(), "mode": c.mode} for c in self.schema_]
        try:
            data = json.loads((root / str(self.schema_file)).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        ok = isinstance(data, list) and all(isinstance(c, dict) and "name" in c and "type" in c for c in data)
        return data if ok else None


class PubsubSinkSpec(Spec):
    topic: str
    """Topic to publish to; the stack creates it."""


class SinkSpec(Spec):
    """Exactly one of the three."""

    bigquery: Optional[BigQuerySinkSpec] = None
    """A BigQuery table the stack creates."""
    storage: Optional[BucketPathSpec] = None
    """Files in one of the stack's buckets under a prefix."""
    pubsub: Optional[PubsubSinkSpec] = None
    """Messages on a topic the stack creates."""

    @property
    def kind(self) -> Optional[str]:
        kinds = [k for k in ("bigquery", "storage", "pubsub") if getattr(self, k) is not None]
        return kinds[0] if len(kinds) == 1 else None


class TemplateSpec(Spec):
    source: str = Field(pattern=r"^[^\x00]{1,255}$")
    """The template's folder (holding metadata.json), relative to the project root, e.g. pipelines/batch_scoring."""
    image: str = Field(pattern=IMAGE)
    """The launcher image CI builds and pushes to the stack's Artifact Registry
    (`<region>-docker.pkg.dev/<project>/mlinfra-<stack>/pipelines/<name>:<tag>`)."""


class WorkersSpec(Spec):
    machine_type: str = "n2-standard-2"
    """Worker machine type. Defaults to n2-standard-2."""
    min_workers: int = Field(1, ge=1, le=1000)
    """Workers at start. Defaults to 1."""
    max_workers: int = Field(10, ge=1, le=1000)
    """Upper bound for autoscaling (a cost control). Defaults to 10."""
    disk_size_gb: Optional[int] = Field(None, ge=10, le=65536)
    """Boot disk per worker. Defaults to Dataflow's (25 GB with Streaming Engine, else 250)."""

    def issues(self, ctx: Context) -> list[Issue]:
        issues = machine_type_issues(self.machine_type, key=("machineType",))
        if self.max_workers < self.min_workers:
            issues.append(Issue(("maxWorkers",), f"is below minWorkers ({self.min_workers})", self.max_workers,
                                fix=f"set maxWorkers to at least {self.min_workers}"))
        return issues


class PipelineSpec(Spec):
    """One pipeline."""

    name: str = Field(pattern=DNS_LABEL, max_length=40)
    """Pipeline name: lowercase letters, digits and hyphens, at most 40."""
    mode: Literal["batch", "streaming"]
    """batch (scheduled launches) or streaming (a job that keeps running)."""
    source: SourceSpec
    """Where it reads: pubsub, storage or bigquery."""
    sink: SinkSpec
    """Where it writes: bigquery, storage or pubsub."""
    template: TemplateSpec
    """The Flex Template: its folder and launcher image."""
    parameters: dict[str, str] = {}
    """Template parameters beside the ones the stack sets from source, sink and model; checked against metadata.json."""
    workers: WorkersSpec = WorkersSpec()
    """Worker machines and autoscaling."""
    schedule: Optional[str] = None
    """unix-cron schedule of a batch pipeline's launches, e.g. `0 2 * * *`. Defaults to none (launch it yourself)."""
    time_zone: str = "Etc/UTC"
    """IANA time zone of the schedule. Defaults to Etc/UTC."""
    flexrs: bool = False
    """Batch only: Flexible Resource Scheduling (cheaper, preemptible workers, starts within 6 hours). Defaults to false."""
    model: Optional[ModelSpec] = None
    """The model a scoring pipeline loads: `{uri, version}` in the artifact bucket."""
    alerts: Optional[PipelineAlertsSpec] = None
    """Alerts on a failed job and a streaming job falling behind. Prod pipelines always get them
    (with the defaults when this key is absent); a dev pipeline only with this key."""

    def issues(self, ctx: Context) -> list[Issue]:
        issues = pipeline_issues(self, ctx.extra.get("bucket_roles", BUCKET_ROLES), ctx.root)
        repository = image_repository(ctx.region, ctx.project, ctx.stack)
        if not self.template.image.startswith(repository + "/"):
            issues.append(Issue(("template", "image"), "is not in the stack's Artifact Registry repository, the one "
                                "its workers may read", self.template.image, allowed=f"{repository}/<path>:<tag>",
                                fix=f"push the image to {repository}/pipelines/<name> and name it there"))
        return issues

    def derived_parameters(self) -> set[str]:
        """The parameters the stack sets from this pipeline's source, sink and model."""
        names = {"pubsub": {"inputSubscription", "deadLetterTopic"}, "storage": {"inputPattern"},
                 "bigquery": {"inputTable"}}.get(self.source.kind or "", set())
        names |= {"bigquery": {"outputTable"}, "storage": {"outputPath"}, "pubsub": {"outputTopic"}}.get(
            self.sink.kind or "", set())
        return names | ({"modelUri", "modelVersion"} if self.model is not None else set())


def image_repository(region: str, project: str, stack: str) -> str:
    """The stack's Docker repository, as the pattern names it (`mlinfra-<stack>`)."""
    return f"{region}-docker.pkg.dev/{project}/{dns_name('mlinfra', stack)}"


def pipeline_issues(spec: PipelineSpec, buckets: Mapping[str, object], root: Path) -> list[Issue]:
    issues: list[Issue] = []
    for key, part, options in (("source", spec.source, "pubsub, storage, bigquery"),
                               ("sink", spec.sink, "bigquery, storage, pubsub")):
        given = [k for k in options.split(", ") if getattr(part, k) is not None]
        if len(given) != 1:
            issues.append(Issue((key,), f"needs exactly one {key}, got {len(given)}" + (f" ({', '.join(given)})" if given else ""),
                                allowed=options, fix="keep one of them"))
        if part.storage is not None and part.storage.bucket not in buckets:
            issues.append(Issue((key, "storage", "bucket"), "is not one of the stack's buckets", part.storage.bucket,
                                allowed=one_of(buckets), fix=f"use one of {one_of(buckets)}"))
        if part.pubsub is not None:
            issues += topic_name_issues(part.pubsub.topic, key=(key, "pubsub", "topic"))
    if spec.mode == "batch" and spec.source.pubsub is not None:
        issues.append(Issue(("source", "pubsub"), "a batch pipeline cannot read Pub/Sub: the stream never ends, so the job would not",
                            allowed="storage, bigquery", fix="set mode: streaming, or read files or a table"))
    if spec.mode == "batch" and spec.alerts is not None:
        issues += [Issue(("alerts", camel), "watches a streaming job; a batch job is only watched for failure",
                         getattr(spec.alerts, field), fix=f"remove alerts.{camel}, or set mode: streaming")
                   for field, camel in (("max_lag_minutes", "maxLagMinutes"),
                                        ("max_watermark_age_minutes", "maxWatermarkAgeMinutes"))
                   if field in spec.alerts.model_fields_set]
    if spec.mode == "streaming":
        if spec.schedule is not None:
            issues.append(Issue(("schedule",), "a streaming pipeline runs continuously and has no schedule", spec.schedule,
                                fix="remove schedule, or set mode: batch"))
        if spec.flexrs:
            issues.append(Issue(("flexrs",), "Flexible Resource Scheduling is for batch pipelines only", True,
                                fix="remove flexrs, or set mode: batch"))
    if spec.schedule is not None:
        issues += cron_issues(spec.schedule, "scheduler", key=("schedule",))
    if "time_zone" in spec.model_fields_set:
        issues += time_zone_issues(spec.time_zone, key=("timeZone",))
        if spec.schedule is None:
            issues.append(Issue(("timeZone",), "only applies to a schedule", spec.time_zone, fix="add schedule, or remove timeZone"))
    issues += _template_issues(spec, root)
    return first_per_key(issues)  # the most specific rule speaks for a key (a Pub/Sub source on batch)


def _template_issues(spec: PipelineSpec, root: Path) -> list[Issue]:
    try:
        folder = (root / spec.template.source).resolve()
        is_dir = folder.is_dir()
    except (OSError, ValueError):
        is_dir = False
    if not is_dir:
        return [Issue(("template", "source"), "is not a directory of the project", spec.template.source,
                      fix=f"point to the folder holding the pipeline's metadata.json (relative to {root})")]
    metadata, problem = load_metadata(folder)
    if metadata is None:
        return [Issue(("template", "source"), problem, spec.template.source, fix="add the template's metadata.json")]
    issues = parameter_issues(spec.parameters, metadata, spec.derived_parameters(), spec.template.source)
    streaming = metadata.get("streaming")
    if isinstance(streaming, bool) and streaming != (spec.mode == "streaming"):
        issues.append(Issue(("mode",), f"the template in {spec.template.source} is a "
                            f"{'streaming' if streaming else 'batch'} pipeline", spec.mode,
                            allowed="streaming" if streaming else "batch", fix="set mode to match the template"))
    return issues
