"""The Feast feature store as the stack file says it (`mlinfra:featureStore`): the offline store
(a BigQuery dataset), the registry (a bucket), the online store (its own Memorystore instance
with `noeviction`, or Bigtable) and the scheduled materialization, with the rules BigQuery,
Bigtable, Memorystore, Cloud Run and Cloud Scheduler would otherwise enforce at apply time.

Limits (checked 2026-12-02): BigQuery dataset IDs are letters, digits and underscores, at most
1024 (cloud.google.com/bigquery/docs/datasets#dataset-naming); Bigtable instance IDs are 6-33
characters, autoscaling targets 10-80 % CPU (cloud.google.com/bigtable/docs/autoscaling); Feast
project names are letters, digits, underscores and hyphens, not starting with either
(feast.repo_operations.is_valid_name, Feast 0.67). No provider import.
"""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import Field

from components.core.images import has_tag_or_digest
from components.core.issues import Issue
from components.core.naming import dns_name
from components.core.spec import Context, Spec
from components.gcp.cloudrun.cloud_run_job_spec import MAX_RETRIES, CloudRunJobSpec, JobResourcesSpec
from components.gcp.compute.regions import zone_issues, zones_of
from components.gcp.memorystore.engines import size_issues
from components.gcp.storage.names import bucket_name_issues

DATASET_ID = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
FEAST_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
BIGTABLE_CPU_TARGET = (10, 80)
JOB_NAME = "feast-materialize"
ENTRY_POINT = ("python", "-m", "materialize.main")
"""How the job runs featurestore/materialize/main.py (its image's WORKDIR holds `materialize/`)."""
_REDIS_KEYS = ("engine", "nodeType", "memoryGb", "replicas", "keyTtlSeconds")
_BIGTABLE_KEYS = ("minNodes", "maxNodes", "cpuTarget", "storageType", "zone")


def _identifier(text: str) -> str:
    """A stack name as a BigQuery/Feast identifier: anything else than letters, digits and _ becomes _."""
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


class OfflineStoreSpec(Spec):
    """The BigQuery dataset Feast's offline store uses (its temporary tables, and feature tables you put there)."""

    dataset: Optional[str] = None
    """The dataset ID (letters, digits, underscores). Defaults to `feast_<stack>` (hyphens as underscores)."""
    location: Optional[str] = None
    """Where the dataset keeps its data; it must be where the feature sources' tables are. Defaults to the stack's region."""


class RegistrySpec(Spec):
    """The bucket that holds Feast's registry (`registry.pb`)."""

    bucket: Optional[str] = None
    """Global bucket name. Defaults to `<project>-<stack>-feast-registry`."""
    cache_ttl_seconds: int = Field(60, ge=0)
    """How long readers cache the registry before reading it again (0: read once). Defaults to 60."""
    keep_versions: int = Field(10, ge=1, le=1000)
    """Noncurrent versions of the registry kept (each `feast apply` and materialization writes one). Defaults to 10."""


class OnlineStoreSpec(Spec):
    """Where served features live: a Memorystore instance of the feature store's own (`redis`,
    never the prediction cache; `noeviction`, so features are never dropped silently) or Bigtable."""

    type: Literal["redis", "bigtable"] = "redis"
    """redis (Memorystore, Valkey or Redis engine, on the stack's VPC) or bigtable. Defaults to redis."""
    engine: Literal["valkey", "redis"] = "valkey"
    """type redis: Memorystore for Valkey or Memorystore for Redis. Defaults to valkey."""
    node_type: Optional[str] = None
    """type redis, valkey engine: the node type (SHARED_CORE_NANO, STANDARD_SMALL, HIGHMEM_MEDIUM,
    HIGHMEM_XLARGE). Defaults to SHARED_CORE_NANO in dev, STANDARD_SMALL in prod."""
    memory_gb: Optional[int] = None
    """type redis, redis engine: memory in GB. Defaults to the smallest the replicas allow."""
    replicas: Optional[int] = None
    """type redis: replicas of the primary (Redis: 1 or more is STANDARD_HA). Defaults to 1 in prod, 0 elsewhere."""
    key_ttl_seconds: Optional[int] = Field(None, ge=1)
    """type redis: entities not written again within this many seconds expire. Defaults to never."""
    min_nodes: int = Field(1, ge=1)
    """type bigtable: autoscaling's lower bound of nodes. Defaults to 1."""
    max_nodes: int = Field(3, ge=1)
    """type bigtable: autoscaling's upper bound of nodes. Defaults to 3."""
    cpu_target: int = 60
    """type bigtable: the CPU utilization (%) autoscaling keeps. Defaults to 60."""
    storage_type: Literal["SSD", "HDD"] = "SSD"
    """type bigtable: SSD or HDD. Defaults to SSD."""
    zone: Optional[str] = None
    """type bigtable: the cluster's zone. Defaults to the region's first zone."""

    def replica_count(self, prod: bool) -> int:
        return self.replicas if self.replicas is not None else (1 if prod else 0)

    def valkey_node_type(self, prod: bool) -> Optional[str]:
        if self.engine != "valkey":
            return None
        return self.node_type or ("STANDARD_SMALL" if prod else "SHARED_CORE_NANO")

    def bigtable_zone(self, region: str) -> str:
        return self.zone or (zones_of(region) or (f"{region}-a",))[0]

    def issues(self, ctx: Context) -> list[Issue]:
        other = _BIGTABLE_KEYS if self.type == "redis" else _REDIS_KEYS
        issues = [Issue((key,), f"applies to online type {'bigtable' if self.type == 'redis' else 'redis'}, "
                               f"not {self.type}", fix=f"remove {key}")
                  for key in other if _field(key) in self.model_fields_set]
        if issues:
            return issues
        if self.type == "redis":
            issues += [Issue((key,), problem, fix=fix) for key, problem, fix in size_issues(
                self.engine, self.node_type, self.memory_gb, self.replica_count(ctx.prod))]
            return issues
        if self.min_nodes > self.max_nodes:
            issues.append(Issue(("maxNodes",), "is below minNodes", self.max_nodes, fix=f"set it to {self.min_nodes} or more"))
        low, high = BIGTABLE_CPU_TARGET
        if not low <= self.cpu_target <= high:
            issues.append(Issue(("cpuTarget",), "is outside what Bigtable autoscaling accepts", self.cpu_target,
                                allowed=f"{low} to {high}", fix="choose a target between 10 and 80 (60 is usual)"))
        if self.zone is not None:
            issues += zone_issues(self.zone, ctx.region, key=("zone",))
        return issues


class MaterializeResourcesSpec(Spec):
    cpu: float = 1
    """CPUs of the job's task (1, 2, 4, 6 or 8). Defaults to 1."""
    memory: str = "2Gi"
    """Memory of the job's task (512Mi to 32Gi). Defaults to 2Gi."""


class MaterializeSpec(Spec):
    """A Cloud Run job on a schedule that runs `materialize_incremental` up to now (featurestore/materialize/)."""

    image: str
    """The image with the entry point (built from featurestore/materialize/Dockerfile), with a tag or digest. Required."""
    schedule: str = "0 * * * *"
    """When to run (unix-cron, Cloud Scheduler). Defaults to "0 * * * *" (hourly)."""
    time_zone: str = "Etc/UTC"
    """IANA time zone of the schedule. Defaults to Etc/UTC."""
    feature_views: list[str] = []
    """Materialize only these feature views. Defaults to all."""
    timeout_seconds: int = Field(3600, ge=1)
    """A run that takes longer is stopped (at most 604800, 7 days). Defaults to 3600."""
    max_retries: int = Field(1, ge=0, le=MAX_RETRIES)
    """Retries of a failed run, 0 to 10 (materialization is idempotent: a retry writes the same rows). Defaults to 1."""
    resources: MaterializeResourcesSpec = MaterializeResourcesSpec()
    """CPU and memory of the job."""

    def job_spec(self) -> CloudRunJobSpec:
        """The Cloud Run job it runs as (components/gcp/cloudrun/cloud_run_job.py), one task at a time."""
        return CloudRunJobSpec(
            name=JOB_NAME, image=self.image, command=list(ENTRY_POINT),
            args=[a for view in self.feature_views for a in ("--feature-view", view)] or None,
            resources=JobResourcesSpec(cpu=self.resources.cpu, memory=self.resources.memory),
            tasks=1, parallelism=1, max_retries=self.max_retries, timeout_seconds=self.timeout_seconds,
            schedule=self.schedule, time_zone=self.time_zone)

    def issues(self, ctx: Context) -> list[Issue]:
        """The Cloud Run job's own rules (image, resources, timeout, schedule, time zone), and a pinned image."""
        issues = self.job_spec().issues(ctx)
        if not [i for i in issues if i.path == ("image",)] and not has_tag_or_digest(self.image):
            issues.append(Issue(("image",), "pins no tag or digest, so each run pulls whatever :latest is", self.image,
                                fix="add a tag (:1) or a digest (@sha256:...)"))
        if len(set(self.feature_views)) != len(self.feature_views):
            issues.append(Issue(("featureViews",), "names a feature view twice", fix="name each once"))
        return issues


class FeatureStoreSpec(Spec):
    """Feast's infrastructure: offline store, registry, online store, materialization, identities."""

    project: Optional[str] = None
    """The Feast project (`project:` of feature_store.yaml). Defaults to the stack name (hyphens as underscores)."""
    offline: OfflineStoreSpec = OfflineStoreSpec()
    """The offline store (BigQuery)."""
    registry: RegistrySpec = RegistrySpec()
    """The registry (a private, versioned bucket)."""
    online: OnlineStoreSpec = OnlineStoreSpec()
    """The online store."""
    materialize: Optional[MaterializeSpec] = None
    """Scheduled materialization into the online store. Defaults to none (features are pushed or materialized by hand)."""

    def feast_project(self, stack: str) -> str:
        return self.project or _identifier(stack)

    def dataset_id(self, stack: str) -> str:
        return self.offline.dataset or f"feast_{_identifier(stack)}"

    def registry_bucket(self, project: str, stack: str) -> str:
        return self.registry.bucket or dns_name(project, stack, "feast-registry")

    def issues(self, ctx: Context) -> list[Issue]:
        issues: list[Issue] = []
        checks = (
            (("project",), self.project, self.feast_project(ctx.stack), FEAST_PROJECT.match,
             "is not a Feast project name", "letters, digits, _ and -, starting with a letter or digit"),
            (("offline", "dataset"), self.offline.dataset, self.dataset_id(ctx.stack), DATASET_ID.match,
             "is not a BigQuery dataset ID", "letters, digits and underscores, at most 1024"),
        )
        for key, written, name, ok, message, allowed in checks:
            if not ok(name):
                fix = "write e.g. feast_features" if written is not None else "set it explicitly"
                issues.append(Issue(key, message if written is not None else f"the derived name {name} {message}",
                                    name, allowed=allowed, fix=fix))
        bucket = self.registry_bucket(ctx.project, ctx.stack)
        for issue in bucket_name_issues(bucket, key=("registry", "bucket")):
            issues.append(issue if self.registry.bucket is not None else Issue(
                issue.path, f"the derived name {bucket} {issue.message}", bucket, allowed=issue.allowed,
                fix="set registry.bucket explicitly"))
        return issues


def _field(key: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), key)
