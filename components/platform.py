"""What every pattern builds first and last: the stack's labels on every child, the project
APIs, the network, the data lake and artifact buckets, the image repository, and the triggers.
Each pattern's component (serverless, kubernetes, ...) adds its workloads in between."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import pulumi

from components.artifact_registry import ArtifactRegistry, ArtifactRegistryArgs
from components.base import Component
from components.cloud_function import CloudFunctionSpec
from components.labels import labels_transformation
from components.naming import dns_name
from components.network import Network, NetworkArgs, NetworkSpec
from components.project_services import ProjectServices
from components.storage import Storage, StorageArgs, StorageSpec
from components.triggers import APIS as TRIGGER_APIS
from components.triggers import TriggerSet, TriggerSetArgs


@dataclass(kw_only=True)
class PlatformArgs:
    project: str
    region: str
    stack: str
    environment: str
    labels: Mapping[str, str]
    """Applied to every labelled resource below the platform."""
    network: NetworkSpec = field(default_factory=NetworkSpec)
    storage: StorageSpec = field(default_factory=StorageSpec)
    triggers: Sequence[CloudFunctionSpec] = ()
    source_root: Path = Path(".")
    """The directory trigger sources are relative to (the project root)."""

    @property
    def prod(self) -> bool:
        return self.environment == "prod"


class Platform(Component):
    """A pattern's top component. Children built here: apis, network, storage, images; call
    `build_triggers()` after the workloads and merge `common_outputs()` into the outputs."""

    def __init__(self, type_: str, name: str, args: PlatformArgs, apis: Sequence[str],
                 opts: Optional[pulumi.ResourceOptions] = None, proxy_only_subnet: bool = False):
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            transformations=[labels_transformation(args.labels)]))
        super().__init__(type_, name, opts)
        self.args = args
        self.apis = ProjectServices(f"{name}-apis", tuple(apis) + (TRIGGER_APIS if args.triggers else ()),
                                    project=args.project, opts=self.child())
        self.after_apis = self.child(depends_on=self.apis.resources)
        self.network = Network(f"{name}-network", NetworkArgs(
            args.network, args.region, flow_logs=args.prod, proxy_only_subnet=proxy_only_subnet), opts=self.after_apis)
        self.storage = Storage(f"{name}-storage", StorageArgs(
            args.storage, args.project, args.stack, args.region, protect=args.prod), opts=self.after_apis)
        self.images = ArtifactRegistry(f"{name}-images", ArtifactRegistryArgs(
            repository_id=dns_name("mlinfra", args.stack), location=args.region,
            immutable_tags=args.prod, protect=args.prod), opts=self.after_apis)
        self.triggers: Optional[TriggerSet] = None

    def build_triggers(self) -> Optional[TriggerSet]:
        args = self.args
        if args.triggers:
            self.triggers = TriggerSet(f"{self.name}-fn", TriggerSetArgs(
                args.triggers, project=args.project, region=args.region, stack=args.stack,
                source_root=args.source_root, network_id=self.network.network_id,
                subnetwork_id=self.network.subnetwork_id, buckets=self.storage.buckets,
                egress=args.network.egress), opts=self.after_apis)
        return self.triggers

    def common_outputs(self) -> dict[str, Any]:
        return {
            "trigger_urls": self.triggers.urls if self.triggers else {},
            "buckets": {role: b.bucket_name for role, b in self.storage.buckets.items()},
            "image_repository": self.images.url,
            "network": self.network.network_name,
        }
