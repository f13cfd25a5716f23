"""The serverless pattern: model servers on Cloud Run and triggers as Cloud Functions (gen2),
on a private network, beside the data lake and the model-artifact bucket. No cluster; every
part scales to zero unless told otherwise. For intermittent, unpredictable traffic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_gcp as gcp

from components.artifact_registry import ArtifactRegistry, ArtifactRegistryArgs
from components.base import Component
from components.bucket import Bucket, BucketArgs, LifecycleRule
from components.cloud_function import CloudFunctionSpec, CloudFunctionTrigger, CloudFunctionTriggerArgs
from components.cloud_run_service import CloudRunModelServer, CloudRunModelServerArgs, CloudRunServiceSpec
from components.labels import labels_transformation
from components.naming import dns_name
from components.network import Network, NetworkArgs, NetworkSpec
from components.project_services import ProjectServices
from components.service_account import ServiceAccount, ServiceAccountArgs
from components.storage import Storage, StorageArgs, StorageSpec

SERVING_APIS = ("run.googleapis.com", "compute.googleapis.com", "iam.googleapis.com", "storage.googleapis.com",
                "artifactregistry.googleapis.com", "secretmanager.googleapis.com")
TRIGGER_APIS = ("cloudfunctions.googleapis.com", "cloudbuild.googleapis.com", "eventarc.googleapis.com",
                "pubsub.googleapis.com", "cloudscheduler.googleapis.com")


class ServerlessPlatformArgs:
    def __init__(self, *, project: str, region: str, stack: str, environment: str,
                 labels: Mapping[str, str], network: NetworkSpec = NetworkSpec(),
                 storage: StorageSpec = StorageSpec(), services: Sequence[CloudRunServiceSpec] = (),
                 triggers: Sequence[CloudFunctionSpec] = (), source_root: Path = Path(".")):
        """`labels`: applied to every labelled resource below the platform.
        `source_root`: the directory trigger sources are relative to (the project root)."""
        self.project = project
        self.region = region
        self.stack = stack
        self.environment = environment
        self.labels = dict(labels)
        self.network = network
        self.storage = storage
        self.services = list(services)
        self.triggers = list(triggers)
        self.source_root = Path(source_root)

    @property
    def prod(self) -> bool:
        return self.environment == "prod"


class ServerlessPlatform(Component):
    """Outputs: service_urls, service_tagged_urls, service_revisions, trigger_urls, buckets,
    image_repository, network."""

    def __init__(self, name: str, args: ServerlessPlatformArgs, opts: Optional[pulumi.ResourceOptions] = None):
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            transformations=[labels_transformation(args.labels)]))
        super().__init__("mlinfra:pattern:Serverless", name, opts)

        apis = SERVING_APIS + (TRIGGER_APIS if args.triggers else ())
        self.apis = ProjectServices(f"{name}-apis", apis, project=args.project, opts=self.child())
        after_apis = self.child(depends_on=self.apis.resources)

        self.network = Network(f"{name}-network", NetworkArgs(args.network, args.region, flow_logs=args.prod),
                               opts=after_apis)
        self.storage = Storage(f"{name}-storage", StorageArgs(
            args.storage, args.project, args.stack, args.region, protect=args.prod), opts=after_apis)
        self.images = ArtifactRegistry(f"{name}-images", ArtifactRegistryArgs(
            repository_id=dns_name("mlinfra", args.stack), location=args.region,
            immutable_tags=args.prod, protect=args.prod), opts=after_apis)

        self.services = {
            spec.name: CloudRunModelServer(f"{name}-svc-{spec.name}", CloudRunModelServerArgs(
                spec, service_name=dns_name(spec.name, args.stack, max_len=40), region=args.region,
                project=args.project, network_id=self.network.network_id,
                subnetwork_id=self.network.subnetwork_id, egress=args.network.egress,
                model_bucket=self.storage.artifacts, deletion_protection=args.prod), opts=after_apis)
            for spec in args.services
        }

        self.triggers: dict[str, CloudFunctionTrigger] = {}
        if args.triggers:
            self.sources = Bucket(f"{name}-function-sources", BucketArgs(
                name=dns_name(args.project, args.stack, "function-sources"), location=args.region,
                lifecycle=[LifecycleRule(age_days=1, abort_incomplete_uploads=True)]), opts=after_apis)
            self.build_account = ServiceAccount(f"{name}-build", ServiceAccountArgs(
                display_name="mlinfra function builds", project=args.project), opts=after_apis)
            for role in ("roles/logging.logWriter", "roles/artifactregistry.writer"):
                self.build_account.grant_project_role(role)
            # Builds read the source from Google's gcf-v2-sources-* copy, not from our bucket.
            self.build_account.grant_project_role(
                "roles/storage.objectViewer",
                condition=("function sources", 'resource.name.startsWith("projects/_/buckets/gcf-v2-sources-")'))

            topics = sorted({t.on.pubsub.topic for t in args.triggers if t.on.pubsub is not None})
            self.topics = {
                topic: gcp.pubsub.Topic(f"{name}-topic-{topic}", name=topic, project=args.project,
                                        message_retention_duration="604800s",
                                        opts=self.child(depends_on=self.apis.resources))
                for topic in topics
            }
            for spec in args.triggers:
                self.triggers[spec.name] = CloudFunctionTrigger(f"{name}-fn-{spec.name}", CloudFunctionTriggerArgs(
                    spec, function_name=dns_name(spec.name, args.stack, max_len=63), region=args.region,
                    project=args.project, source_bucket=self.sources, source_root=args.source_root,
                    build_account=self.build_account, network_id=self.network.network_id,
                    subnetwork_id=self.network.subnetwork_id, buckets=self.storage.buckets,
                    topic=self.topics.get(spec.on.pubsub.topic) if spec.on.pubsub else None,
                    egress=args.network.egress), opts=after_apis)

        self.outputs = {
            "service_urls": {n: s.url for n, s in self.services.items()},
            "service_tagged_urls": {n: s.tagged_urls for n, s in self.services.items()},
            "service_revisions": {n: s.revisions for n, s in self.services.items()},
            "trigger_urls": {n: t.url for n, t in self.triggers.items()},
            "buckets": {role: b.bucket_name for role, b in self.storage.buckets.items()},
            "image_repository": self.images.url,
            "network": self.network.network_name,
        }
        self.register_outputs(self.outputs)
