"""Feast's infrastructure on Google Cloud: the offline store (a BigQuery dataset), the registry (a
private, versioned bucket), the online store (a Memorystore instance of its own with
`maxmemory-policy: noeviction`, never the prediction cache, or an autoscaled Bigtable
instance), two identities (a materializer and a reader) with only the roles Feast uses, the
scheduled materialization, and the `feature_store.yaml` that points Feast at all of it.

Roles, each on the resource where the API has resource-level IAM:
- materializer: `bigquery.dataEditor` on the dataset (Feast's temporary tables), `bigquery.jobUser`
  and `bigquery.readSessionUser` on the project (queries; the Storage Read API `to_arrow` uses;
  neither has a dataset-level grant), `storage.objectUser` on the registry bucket (Feast reads
  `registry.pb` and writes it back whole, which overwrites; objectAdmin would add only the object
  ACL and IAM permissions uniform access turns off), and `bigtable.user` on the instance
  (read and write rows; `feast apply`, which creates tables, runs as whoever deploys features).
- reader: `storage.objectViewer` on the registry bucket and `bigtable.reader` on the instance.
Memorystore has no data-plane IAM here (AUTH off, TLS on): reaching it takes the VPC, which
the materialization job gets through direct VPC egress to private ranges.

`protect` (prod) protects the dataset, the bucket and the online store in Pulumi and turns on
the APIs' deletion protection (BigQuery tables, Bigtable, Memorystore, the Cloud Run job), which
pulumi-gcp otherwise turns on everywhere for Bigtable and Cloud Run (so dev could not be torn down).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.core.naming import dns_name
from components.gcp.dataflow.bigquery_dataset import BigQueryDataset, BigQueryDatasetArgs
from components.gcp.featurestore import feature_store_yaml as fsy
from components.gcp.cloudrun.cloud_run_job import CloudRunJob, CloudRunJobArgs
from components.gcp.featurestore.feature_store_spec import FeatureStoreSpec
from components.gcp.iam.service_account import ServiceAccount, ServiceAccountArgs
from components.gcp.memorystore.memorystore_instance import MemorystoreInstance, MemorystoreInstanceArgs
from components.gcp.storage.bucket import Bucket, BucketArgs, LifecycleRule

TYPE = "mlinfra:gcp:FeastFeatureStore"
APIS = ("bigquery.googleapis.com", "bigquerystorage.googleapis.com", "run.googleapis.com",
        "cloudscheduler.googleapis.com")
"""Besides the online store's (the pattern adds Memorystore's or Bigtable's)."""
PROJECT_ROLES = ("roles/bigquery.jobUser", "roles/bigquery.readSessionUser")
YAML_ENV = "FEAST_FEATURE_STORE_YAML"
"""The environment variable the materialization job reads feature_store.yaml from."""


@dataclass(frozen=True, kw_only=True)
class FeastFeatureStoreArgs:
    spec: FeatureStoreSpec
    """The `mlinfra:featureStore` section."""
    project: str
    region: str
    stack: str
    protect: bool = False
    """Prod: protect the stateful resources and turn on deletion protection. Defaults to false."""
    network_id: Optional[pulumi.Input[str]] = None
    """The VPC of a Memorystore online store (required for type redis). Defaults to none."""
    subnetwork_id: Optional[pulumi.Input[str]] = None
    """The subnet the materialization job egresses through to Memorystore. Defaults to none."""
    network_project: Optional[pulumi.Input[str]] = None
    """The VPC's project (a Shared VPC host). Defaults to `project`."""
    reserved_ip_range: Optional[pulumi.Input[str]] = None
    """Memorystore for Redis: the private-services range its address comes from. Defaults to none."""
    network_ready: Sequence[pulumi.Resource] = ()
    """The network's private connectivity for Memorystore, created before the instance. Defaults to none."""


class FeastFeatureStore(Component):
    """Outputs: feature_store_yaml, registry_path, dataset_id, online (host and port, or
    instance), ca_cert (redis), materializer_email, reader_email, materialize_job, scheduler_job."""

    def __init__(self, name: str, args: FeastFeatureStoreArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        spec, online = args.spec, args.spec.online
        self.offline = BigQueryDataset(f"{name}-offline", BigQueryDatasetArgs(
            dataset_id=spec.dataset_id(args.stack), location=spec.offline.location or args.region,
            project=args.project, protect=args.protect, description="Feast offline store"), opts=self.child())
        self.registry = Bucket(f"{name}-registry", BucketArgs(
            name=spec.registry_bucket(args.project, args.stack), location=args.region, versioning=True,
            lifecycle=[LifecycleRule(noncurrent_versions=spec.registry.keep_versions)],
            protect=args.protect, purpose="feast-registry"), opts=self.child())
        self.materializer = ServiceAccount(f"{name}-materialize", ServiceAccountArgs(
            display_name="mlinfra Feast materialization", project=args.project), opts=self.child())
        self.reader = ServiceAccount(f"{name}-reader", ServiceAccountArgs(
            display_name="mlinfra Feast online reader", project=args.project), opts=self.child())
        self.grants: list[pulumi.Resource] = [
            self.offline.grant(self.materializer, BigQueryDataset.EDITOR),
            *[self.materializer.grant_project_role(role) for role in PROJECT_ROLES],
            self.registry.grant_read_write(self.materializer),
            self.registry.grant_read(self.reader),
        ]

        self.memorystore: Optional[MemorystoreInstance] = None
        self.bigtable: Optional[gcp.bigtable.Instance] = None
        env: dict[str, pulumi.Input[str]] = {}
        if online.type == "redis":
            self.memorystore = MemorystoreInstance(f"{name}-online", MemorystoreInstanceArgs(
                instance_name=dns_name("mlinfra", args.stack, "feast"), region=args.region,
                network_id=args.network_id, engine=online.engine, node_type=online.valkey_node_type(args.protect),
                memory_size_gb=online.memory_gb, replicas=online.replica_count(args.protect), tls=True,
                eviction_policy="noeviction", protect=args.protect, project=args.project,
                network_project=args.network_project, reserved_ip_range=args.reserved_ip_range),
                opts=self.child(depends_on=list(args.network_ready)))
            store = pulumi.Output.all(self.memorystore.host, self.memorystore.port).apply(
                lambda v: fsy.redis_online_store(v[0], int(v[1]), True, online.key_ttl_seconds))
            self.online = {"host": self.memorystore.host, "port": self.memorystore.port}
            self.ca_cert: Optional[pulumi.Output[str]] = self.memorystore.ca_cert
            env[fsy.CA_PEM_ENV] = self.memorystore.ca_cert
        else:
            self.bigtable = self._bigtable(name, args)
            store = self.bigtable.name.apply(lambda instance: fsy.bigtable_online_store(args.project, instance))
            self.online = {"instance": self.bigtable.name}
            self.ca_cert = None
            for account, role in ((self.materializer, "user"), (self.reader, "reader")):
                self.grants.append(gcp.bigtable.InstanceIamMember(
                    f"{name}-{account.principal_name}-bigtable-{role}", instance=self.bigtable.name,
                    project=args.project, role=f"roles/bigtable.{role}", member=account.member, opts=self.child()))

        self.config = pulumi.Output.all(self.offline.dataset_id, self.registry.bucket_name, store).apply(
            lambda v: fsy.feature_store_config(
                feast_project=spec.feast_project(args.stack), project=args.project, registry_bucket=v[1],
                cache_ttl_seconds=spec.registry.cache_ttl_seconds, dataset=v[0],
                location=spec.offline.location or args.region, online_store=v[2]))
        self.yaml = self.config.apply(fsy.render)
        self.registry_path = self.registry.bucket_name.apply(fsy.registry_path)

        # The scheduled materialization: the shared Cloud Run job, run as the materializer, on the VPC
        # (private ranges only) when the online store is Memorystore.
        self.materialization: Optional[CloudRunJob] = None
        if spec.materialize is not None:
            private = online.type == "redis"
            self.materialization = CloudRunJob(f"{name}-job", CloudRunJobArgs(
                spec=spec.materialize.job_spec(), job_name=dns_name("mlinfra", args.stack, "feast-materialize"),
                region=args.region, project=args.project, account=self.materializer,
                output_env={YAML_ENV: self.yaml, **env}, network_id=args.network_id if private else None,
                subnetwork_id=args.subnetwork_id if private else None, deletion_protection=args.protect),
                opts=self.child(depends_on=self.grants))
        self.register_outputs(self.outputs())

    def _bigtable(self, name: str, args: FeastFeatureStoreArgs) -> gcp.bigtable.Instance:
        online = args.spec.online
        instance_id = dns_name("mlinfra", args.stack, "feast", max_len=33)
        return gcp.bigtable.Instance(
            f"{name}-online",
            name=instance_id,
            project=args.project,
            display_name=f"Feast online store {args.stack}"[:30],
            deletion_protection=args.protect,
            clusters=[gcp.bigtable.InstanceClusterArgs(
                cluster_id=dns_name(instance_id, "c1", max_len=30),
                zone=online.bigtable_zone(args.region),
                storage_type=online.storage_type,
                autoscaling_config=gcp.bigtable.InstanceClusterAutoscalingConfigArgs(
                    min_nodes=online.min_nodes, max_nodes=online.max_nodes, cpu_target=online.cpu_target),
            )],
            opts=self.child(protect=args.protect, retain_on_delete=args.protect),
        )

    def outputs(self) -> dict[str, Any]:
        m = self.materialization
        return {
            "feature_store_yaml": self.yaml,
            "registry_path": self.registry_path,
            "dataset_id": self.offline.dataset_id,
            "online": self.online,
            **({"ca_cert": self.ca_cert} if self.ca_cert is not None else {}),
            "materializer_email": self.materializer.email,
            "reader_email": self.reader.email,
            **({"materialize_job": m.job.name, "scheduler_job": m.scheduler_job.name} if m else {}),
        }
