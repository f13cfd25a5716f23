"""Every trigger of a stack: the functions, the bucket their sources are uploaded to, the
account their builds run as, and the Pub/Sub topics they listen on. Shared by the patterns."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_gcp as gcp

from components.base import Component
from components.bucket import Bucket, BucketArgs, LifecycleRule
from components.cloud_function import CloudFunctionSpec, CloudFunctionTrigger, CloudFunctionTriggerArgs
from components.naming import dns_name
from components.service_account import ServiceAccount, ServiceAccountArgs

APIS = ("cloudfunctions.googleapis.com", "cloudbuild.googleapis.com", "eventarc.googleapis.com",
        "pubsub.googleapis.com", "cloudscheduler.googleapis.com", "run.googleapis.com")


class TriggerSetArgs:
    def __init__(self, triggers: Sequence[CloudFunctionSpec], *, project: str, region: str, stack: str,
                 source_root: Path, network_id: pulumi.Input[str], subnetwork_id: pulumi.Input[str],
                 buckets: Mapping[str, Bucket], egress: str = "privateRangesOnly"):
        """`buckets`: the stack's buckets by role, which storage triggers may name."""
        self.triggers = list(triggers)
        self.project = project
        self.region = region
        self.stack = stack
        self.source_root = Path(source_root)
        self.network_id = network_id
        self.subnetwork_id = subnetwork_id
        self.buckets = dict(buckets)
        self.egress = egress


class TriggerSet(Component):
    """Outputs: urls (by trigger name)."""

    def __init__(self, name: str, args: TriggerSetArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("mlinfra:gcp:TriggerSet", name, opts)
        self.sources = Bucket(f"{name}-sources", BucketArgs(
            name=dns_name(args.project, args.stack, "function-sources"), location=args.region,
            lifecycle=[LifecycleRule(age_days=1, abort_incomplete_uploads=True)], purpose="function-sources"),
            opts=self.child())
        self.build_account = ServiceAccount(f"{name}-build", ServiceAccountArgs(
            display_name="mlinfra function builds", project=args.project), opts=self.child())
        for role in ("roles/logging.logWriter", "roles/artifactregistry.writer"):
            self.build_account.grant_project_role(role)
        # Builds read the source from Google's gcf-v2-sources-* copy, not from our bucket.
        self.build_account.grant_project_role(
            "roles/storage.objectViewer",
            condition=("function sources", 'resource.name.startsWith("projects/_/buckets/gcf-v2-sources-")'))

        topics = sorted({t.on.pubsub.topic for t in args.triggers if t.on.pubsub is not None})
        self.topics = {
            topic: gcp.pubsub.Topic(f"{name}-topic-{topic}", name=topic, project=args.project,
                                    message_retention_duration="604800s", opts=self.child())
            for topic in topics
        }
        self.functions = {
            spec.name: CloudFunctionTrigger(f"{name}-{spec.name}", CloudFunctionTriggerArgs(
                spec, function_name=dns_name(spec.name, args.stack, max_len=63), region=args.region,
                project=args.project, source_bucket=self.sources, source_root=args.source_root,
                build_account=self.build_account, network_id=args.network_id,
                subnetwork_id=args.subnetwork_id, buckets=args.buckets,
                topic=self.topics.get(spec.on.pubsub.topic) if spec.on.pubsub else None,
                egress=args.egress), opts=self.child())
            for spec in args.triggers
        }
        self.urls = {n: f.url for n, f in self.functions.items()}
        self.register_outputs({"urls": self.urls})
