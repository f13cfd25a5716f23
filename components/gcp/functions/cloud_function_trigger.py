"""An event-driven trigger: a Cloud Function (gen2) with its source packaged from the repo.

One of four events starts it: an HTTP call (IAM-checked), a message on a Pub/Sub topic, an
object landing in a bucket under a prefix, or a schedule. Object events go through a bucket
notification filtered by prefix, so the function only runs for the objects it cares about, or
(`delivery: eventarc`) come as Cloud Storage's own finalized CloudEvent through Eventarc: the
trigger account then needs `roles/eventarc.eventReceiver`, and the project's Cloud Storage
service agent `roles/pubsub.publisher` on the project (Cloud Functions' storage-trigger
permissions, https://cloud.google.com/functions/docs/calling/storage; granted once per stack
by the TriggerSet). The bucket may be one the stack does not own (`gs://<name>`): the function
reads it through a binding on that bucket alone.
Each function runs as its own service account; events and schedules call it as a second,
trigger service account that may do nothing but invoke it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.core.issues import Issue, raise_if_any
from components.core.spec import Context, ensure_valid
from components.gcp.functions.cloud_function_spec import (PUBSUB_EVENT, STORAGE_FINALIZED, CloudFunctionSpec,
                                                         source_digest)
from components.gcp.iam.principals import member_slug
from components.gcp.iam.secret_grants import read_secrets
from components.gcp.iam.service_account import ServiceAccount, ServiceAccountArgs
from components.gcp.storage.bucket import Bucket
from components.gcp.storage.notifications import notification_topic
from components.gcp.storage.existing_bucket import ExistingBucket

TYPE = "mlinfra:gcp:CloudFunctionTrigger"


@dataclass(frozen=True, kw_only=True)
class CloudFunctionTriggerArgs:
    spec: CloudFunctionSpec
    """The trigger as the stack file says it."""
    function_name: str
    """The function's name (it shares a namespace with Cloud Run services in the region)."""
    region: str
    """Where it runs."""
    project: str
    """The project it runs in."""
    source_bucket: Bucket
    """Where its zipped source is uploaded."""
    source_root: Path
    """The directory `spec.source` is relative to (the project root)."""
    build_account: ServiceAccount
    """The account its build runs as."""
    network_id: Optional[pulumi.Input[str]]
    """The VPC its direct VPC egress uses; None: no VPC egress (only public endpoints)."""
    subnetwork_id: Optional[pulumi.Input[str]]
    """The subnet its direct VPC egress uses; None with network_id."""
    build_grants: Sequence[pulumi.Resource] = ()
    """The build account's project roles: the function waits for them (a first build fails without). Defaults to none."""
    buckets: Mapping[str, Bucket] = field(default_factory=dict)
    """The stack's buckets by role, for storage events. Defaults to none."""
    topic: Optional[gcp.pubsub.Topic] = None
    """The topic of a pubsub event. Defaults to none; required for pubsub events."""
    egress: str = "privateRangesOnly"
    """Which outbound traffic goes through the VPC. Defaults to privateRangesOnly."""
    storage_agent_grant: Optional[pulumi.Resource] = None
    """The Cloud Storage service agent's Pub/Sub publisher role on the project, which Eventarc's
    storage events need (`delivery: eventarc`); the trigger waits for it. Defaults to none."""


def storage_agent_publisher(name: str, project: str, opts: pulumi.ResourceOptions) -> gcp.projects.IAMMember:
    """The project's Cloud Storage service agent may publish to Pub/Sub: Eventarc's direct storage
    events need it. One per stack: a second binding of the same member and role would take it
    away from every trigger when its own trigger is removed."""
    agent = gcp.storage.get_project_service_account_output(project=project)
    return gcp.projects.IAMMember(name, project=project, role="roles/pubsub.publisher",
                                  member=pulumi.Output.concat("serviceAccount:", agent.email_address), opts=opts)


class CloudFunctionTrigger(Component):
    """Outputs: url, function_name."""

    def __init__(self, name: str, args: CloudFunctionTriggerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        spec, on = args.spec, args.spec.on
        ensure_valid(f"CloudFunctionTrigger {name}", spec, Context(
            project=args.project, region=args.region, root=Path(args.source_root),
            extra={"bucket_roles": tuple(args.buckets)}))
        if on.pubsub is not None and args.topic is None:
            raise_if_any(f"CloudFunctionTrigger {name}", [Issue(("on", "pubsub", "topic"), "needs the topic",
                                                                fix="pass topic")])

        self.account = ServiceAccount(f"{name}-sa", ServiceAccountArgs(
            display_name=f"mlinfra function {spec.name}", project=args.project), opts=self.child())
        self.trigger_account = None if on.http is not None else ServiceAccount(
            f"{name}-trigger", ServiceAccountArgs(display_name=f"mlinfra trigger of {spec.name}", project=args.project),
            opts=self.child())

        source_dir = (args.source_root / spec.source).resolve()
        self.source = gcp.storage.BucketObject(
            f"{name}-source",
            bucket=args.source_bucket.bucket_name,
            name=f"{spec.name}/{source_digest(source_dir)[:16]}.zip",
            source=pulumi.FileArchive(str(source_dir)),
            opts=self.child(),
        )

        grants: list[pulumi.Resource] = list(args.build_grants) + read_secrets(
            self, name, project=args.project, secret_ids=[s.secret for s in spec.secrets], member=self.account.member)
        event_trigger = None
        retry = "RETRY_POLICY_RETRY" if spec.retries else "RETRY_POLICY_DO_NOT_RETRY"
        if on.pubsub is not None:
            event_trigger = gcp.cloudfunctionsv2.FunctionEventTriggerArgs(
                trigger_region=args.region, event_type=PUBSUB_EVENT, pubsub_topic=args.topic.id,
                retry_policy=retry, service_account_email=self.trigger_account.email)
        elif on.storage is not None:
            storage = on.storage
            bucket = ExistingBucket(f"{name}-bucket", storage.bucket_name, opts=self.child()) \
                if storage.external else args.buckets[storage.bucket]
            grants.append(bucket.grant_read(self.account))
            if storage.delivery == "eventarc":
                if args.storage_agent_grant is None:
                    raise_if_any(f"CloudFunctionTrigger {name}", [Issue(
                        ("on", "storage", "delivery"), "needs the Cloud Storage service agent's publisher role",
                        fix="pass storage_agent_grant (storage_agent_publisher)")])
                grants += [args.storage_agent_grant, self.trigger_account.grant_project_role("roles/eventarc.eventReceiver")]
                location = storage.location or (args.region if storage.external else bucket.location)
                event_trigger = gcp.cloudfunctionsv2.FunctionEventTriggerArgs(
                    # The trigger is where the bucket is (a multi-region's lowercase name, e.g. us).
                    trigger_region=location.lower(), event_type=STORAGE_FINALIZED,
                    event_filters=[gcp.cloudfunctionsv2.FunctionEventTriggerEventFilterArgs(
                        attribute="bucket", value=bucket.bucket_name)],
                    retry_policy=retry, service_account_email=self.trigger_account.email)
            else:
                # The service agent of the bucket's project publishes its notifications.
                self.topic, self.notification = notification_topic(
                    self, name, project=args.project, bucket_name=bucket.bucket_name, prefix=storage.prefix,
                    agent_project=storage.project)
                event_trigger = gcp.cloudfunctionsv2.FunctionEventTriggerArgs(
                    trigger_region=args.region, event_type=PUBSUB_EVENT, pubsub_topic=self.topic.id,
                    retry_policy=retry, service_account_email=self.trigger_account.email)

        egress = {"privateRangesOnly": "VPC_EGRESS_PRIVATE_RANGES_ONLY", "allTraffic": "VPC_EGRESS_ALL_TRAFFIC"}
        self.function = gcp.cloudfunctionsv2.Function(
            name,
            name=args.function_name,
            location=args.region,
            project=args.project,
            description=f"mlinfra trigger {spec.name} ({on.kind})",
            # Read by the guardrails: allUsers may invoke only a function that says it is public.
            labels={"public": "true"} if on.http is not None and on.http.public else None,
            build_config=gcp.cloudfunctionsv2.FunctionBuildConfigArgs(
                runtime=spec.runtime,
                entry_point=spec.entry_point,
                service_account=args.build_account.resource_name,
                source=gcp.cloudfunctionsv2.FunctionBuildConfigSourceArgs(
                    storage_source=gcp.cloudfunctionsv2.FunctionBuildConfigSourceStorageSourceArgs(
                        bucket=args.source_bucket.bucket_name, object=self.source.name)),
            ),
            service_config=gcp.cloudfunctionsv2.FunctionServiceConfigArgs(
                service_account_email=self.account.email,
                available_memory=spec.memory,
                timeout_seconds=spec.timeout_seconds,
                min_instance_count=spec.min_instances,
                max_instance_count=spec.max_instances,
                ingress_settings="ALLOW_ALL" if on.http is not None else "ALLOW_INTERNAL_ONLY",
                all_traffic_on_latest_revision=True,
                environment_variables=dict(spec.env) or None,
                secret_environment_variables=[gcp.cloudfunctionsv2.FunctionServiceConfigSecretEnvironmentVariableArgs(
                    key=s.env, project_id=args.project, secret=s.secret, version=s.version) for s in spec.secrets] or None,
                direct_vpc_egress=egress[args.egress] if args.network_id is not None else None,
                direct_vpc_network_interfaces=[gcp.cloudfunctionsv2.FunctionServiceConfigDirectVpcNetworkInterfaceArgs(
                    network=args.network_id, subnetwork=args.subnetwork_id)] if args.network_id is not None else None,
            ),
            event_trigger=event_trigger,
            opts=self.child(depends_on=grants),
        )

        # Gen2 functions run as a Cloud Run service of the same name: invoking is run.invoker on it.
        # Invokers are named from the member, so removing one leaves the others' bindings alone;
        # the alias adopts a binding 0.1 named by its place in the list.
        callers: list[tuple[str, pulumi.Input[str], list]] = []
        if on.http is not None:
            callers = ([("public", "allUsers", [])] if on.http.public else []) + \
                      [(member_slug(m), m, [pulumi.Alias(name=f"{name}-invoker-{i}")])
                       for i, m in enumerate(on.http.invokers)]
        else:
            callers = [("trigger", self.trigger_account.member, [])]
        self.invoker_grants = [
            gcp.cloudrunv2.ServiceIamMember(
                f"{name}-invoker-{label}", project=args.project, location=args.region, name=self.function.name,
                role="roles/run.invoker", member=member, opts=self.child(aliases=aliases or None))
            for label, member, aliases in callers
        ]

        if on.schedule is not None:
            run_uri = self.function.service_config.apply(lambda c: c.uri if c else None)
            self.job = gcp.cloudscheduler.Job(
                f"{name}-schedule",
                project=args.project,
                region=args.region,
                schedule=on.schedule.cron,
                time_zone=on.schedule.time_zone,
                attempt_deadline=f"{min(spec.timeout_seconds + 20, 1800)}s",
                retry_config=gcp.cloudscheduler.JobRetryConfigArgs(retry_count=3 if spec.retries else 0),
                # The run.app URI: calls to it from Cloud Scheduler in the same project count as
                # internal, which the function's internal-only ingress requires.
                http_target=gcp.cloudscheduler.JobHttpTargetArgs(
                    uri=run_uri, http_method="POST",
                    oidc_token=gcp.cloudscheduler.JobHttpTargetOidcTokenArgs(
                        service_account_email=self.trigger_account.email, audience=run_uri)),
                opts=self.child(depends_on=self.invoker_grants),
            )

        self.url = self.function.url
        self.register_outputs({"url": self.url, "function_name": self.function.name})
