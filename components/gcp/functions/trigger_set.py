"""Every trigger of a stack: the functions (triggers with `source`; those with `run` are workflows, built by
infra/patterns/event_chains.py on these topics), the bucket their sources are uploaded to, the
account their builds run as, and the Pub/Sub topics they listen on. Shared by the patterns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.core.naming import dns_name
from components.gcp.functions.cloud_function_spec import CloudFunctionSpec, function_name
from components.gcp.functions.cloud_function_trigger import (CloudFunctionTrigger, CloudFunctionTriggerArgs,
                                                            storage_agent_publisher)
from components.gcp.iam.service_account import ServiceAccount, ServiceAccountArgs
from components.gcp.storage.bucket import Bucket, BucketArgs, LifecycleRule

TYPE = "mlinfra:gcp:TriggerSet"
APIS = ("cloudfunctions.googleapis.com", "cloudbuild.googleapis.com", "eventarc.googleapis.com",
        "pubsub.googleapis.com", "cloudscheduler.googleapis.com", "run.googleapis.com")


@dataclass(frozen=True, kw_only=True)
class TriggerSetArgs:
    triggers: Sequence[CloudFunctionSpec]
    """The triggers as the stack file says them."""
    project: str
    """The project they run in."""
    region: str
    """Where they run."""
    stack: str
    """The stack: function and source-bucket names carry it."""
    source_root: Path
    """The directory trigger sources are relative to (the project root)."""
    network_id: Optional[pulumi.Input[str]]
    """The VPC their direct VPC egress uses; None: no VPC egress."""
    subnetwork_id: Optional[pulumi.Input[str]]
    """The subnet their direct VPC egress uses; None with network_id."""
    buckets: Mapping[str, Bucket] = field(default_factory=dict)
    """The stack's buckets by role, which storage triggers may name. Defaults to none."""
    egress: str = "privateRangesOnly"
    """Which outbound traffic goes through the VPC. Defaults to privateRangesOnly."""
    topics: Mapping[str, gcp.pubsub.Topic] = field(default_factory=dict)
    """Topics the stack already creates (a pipeline's), by name: triggers on them reuse them. Defaults to none."""


class TriggerSet(Component):
    """Outputs: urls (by trigger name)."""

    def __init__(self, name: str, args: TriggerSetArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        functions = [t for t in args.triggers if t.run is None]
        topics = sorted({t.on.pubsub.topic for t in args.triggers if t.on.pubsub is not None})
        self.topics = {
            topic: args.topics.get(topic) or gcp.pubsub.Topic(
                f"{name}-topic-{topic}", name=topic, project=args.project, message_retention_duration="604800s",
                opts=self.child())
            for topic in topics
        }
        # Eventarc's storage events (functions' and workflows') need the storage agent to publish.
        self.storage_agent_grant = storage_agent_publisher(
            f"{name}-storage-agent-publisher", args.project, self.child()) if any(
            t.on.storage is not None and t.on.storage.delivery == "eventarc" for t in args.triggers) else None
        self.functions: dict[str, CloudFunctionTrigger] = {}
        self.urls: dict = {}
        if not functions:  # only workflows (`run`): no sources, no builds
            self.register_outputs({"urls": self.urls})
            return
        self.sources = Bucket(f"{name}-sources", BucketArgs(
            name=dns_name(args.project, args.stack, "function-sources"), location=args.region,
            lifecycle=[LifecycleRule(age_days=1, abort_incomplete_uploads=True)], purpose="function-sources"),
            opts=self.child())
        self.build_account = ServiceAccount(f"{name}-build", ServiceAccountArgs(
            display_name="mlinfra function builds", project=args.project), opts=self.child())
        self.build_grants = [self.build_account.grant_project_role(role)
                             for role in ("roles/logging.logWriter", "roles/artifactregistry.writer")]
        # Builds read the source from Google's gcf-v2-sources-* copy, not from our bucket.
        self.build_grants.append(self.build_account.grant_project_role(
            "roles/storage.objectViewer",
            condition=("function sources", 'resource.name.startsWith("projects/_/buckets/gcf-v2-sources-")')))
        self.functions = {
            spec.name: CloudFunctionTrigger(f"{name}-{spec.name}", CloudFunctionTriggerArgs(
                spec=spec, function_name=function_name(spec.name, args.stack), region=args.region,
                project=args.project, source_bucket=self.sources, source_root=args.source_root,
                build_account=self.build_account, build_grants=self.build_grants, network_id=args.network_id,
                subnetwork_id=args.subnetwork_id, buckets=args.buckets,
                topic=self.topics.get(spec.on.pubsub.topic) if spec.on.pubsub else None,
                egress=args.egress, storage_agent_grant=self.storage_agent_grant), opts=self.child())
            for spec in functions
        }
        self.urls = {n: f.url for n, f in self.functions.items()}
        self.register_outputs({"urls": self.urls})
