"""The serverless pattern: model servers on Cloud Run and triggers as Cloud Functions (gen2),
on a private network, beside the data lake and the model-artifact bucket. No cluster; every
part scales to zero unless told otherwise. For intermittent, unpredictable traffic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Sequence

import pulumi

from components.artifact_registry import ArtifactRegistry, ArtifactRegistryArgs
from components.base import Component
from components.cloud_function import CloudFunctionSpec
from components.cloud_run_service import CloudRunModelServer, CloudRunModelServerArgs, CloudRunServiceSpec
from components.labels import labels_transformation
from components.naming import dns_name
from components.network import Network, NetworkArgs, NetworkSpec
from components.project_services import ProjectServices
from components.storage import Storage, StorageArgs, StorageSpec
from components.triggers import APIS as TRIGGER_APIS
from components.triggers import TriggerSet, TriggerSetArgs

SERVING_APIS = ("run.googleapis.com", "compute.googleapis.com", "iam.googleapis.com", "storage.googleapis.com",
                "artifactregistry.googleapis.com", "secretmanager.googleapis.com")


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

        self.triggers = TriggerSet(f"{name}-fn", TriggerSetArgs(
            args.triggers, project=args.project, region=args.region, stack=args.stack,
            source_root=args.source_root, network_id=self.network.network_id,
            subnetwork_id=self.network.subnetwork_id, buckets=self.storage.buckets,
            egress=args.network.egress), opts=after_apis) if args.triggers else None

        self.outputs = {
            "service_urls": {n: s.url for n, s in self.services.items()},
            "service_tagged_urls": {n: s.tagged_urls for n, s in self.services.items()},
            "service_revisions": {n: s.revisions for n, s in self.services.items()},
            "trigger_urls": self.triggers.urls if self.triggers else {},
            "buckets": {role: b.bucket_name for role, b in self.storage.buckets.items()},
            "image_repository": self.images.url,
            "network": self.network.network_name,
        }
        self.register_outputs(self.outputs)
