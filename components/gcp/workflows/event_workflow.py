"""An event wired to work: a trigger with `run:` becomes a Workflow that starts a job or a
pipeline (or dispatches the repository's CI) and waits for it, and the event source that calls
it. Each link runs as its own account with only the roles it needs:

- storage events: the bucket's notification (filtered by prefix) publishes to a topic of this
  chain; only the Cloud Storage service agent of the bucket's project may publish to it (the
  bucket may be one the stack does not own, in another project: what runs gets read access on
  it, a binding on that bucket alone). An Eventarc trigger delivers
  each message to the workflow; the workflow starts work only for the completion marker. With
  `delivery: eventarc`, an Eventarc trigger on Cloud Storage's finalized event for the bucket
  (in the bucket's location) delivers the CloudEvent itself: the trigger account also gets
  `roles/eventarc.eventReceiver`, the storage agent publishes on the project (the TriggerSet's
  one grant), and the workflow checks the prefix, which Eventarc cannot filter by;
- Pub/Sub events: an Eventarc trigger on the stack's topic;
- schedules: a Cloud Scheduler job creates an execution with an OAuth token;
- the trigger account may create executions (`roles/workflows.invoker`: Workflows has no
  per-workflow IAM policy, so this is the project's role; it grants nothing but running
  workflows);
- the workflow account may run that one Cloud Run job (a binding on the job), create and watch
  Jobs in the jobs namespace (a Kubernetes Role; it may only look the cluster up in IAM),
  launch Dataflow jobs acting as that pipeline's worker account, or read the one token secret.

The workflow's name is fixed, so a replacement deletes it first. Its execution history is
kept basic and calls are logged only on errors: a dispatch holds a token in a variable.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.core.issues import Issue, raise_if_any
from components.gcp.functions.cloud_function_spec import PUBSUB_EVENT, STORAGE_FINALIZED, CloudFunctionSpec
from components.gcp.iam.service_account import ServiceAccount, ServiceAccountArgs
from components.gcp.storage.bucket import Bucket
from components.gcp.storage.existing_bucket import ExistingBucket
from components.gcp.storage.notifications import notification_topic
from components.gcp.workflows import definitions
from components.gcp.workflows.run_spec import DEFAULT_MARKER

TYPE = "mlinfra:gcp:EventWorkflow"
EXECUTIONS_API = "https://workflowexecutions.googleapis.com/v1/"
ALERT_ALIGNER = "ALIGN_SUM"
"""Failed executions in each 5-minute window (a delta count)."""
RUN_JOB_ROLE = "roles/run.jobsExecutorWithOverrides"
"""Run the job with the event as environment overrides; granted on the job only."""


@dataclass(frozen=True, kw_only=True)
class CloudRunJobTarget:
    job_id: pulumi.Input[str]
    """projects/<p>/locations/<r>/jobs/<name>."""
    job_name: pulumi.Input[str]
    location: str
    timeout_seconds: int


@dataclass(frozen=True, kw_only=True)
class GkeJobTarget:
    cluster: pulumi.Input[str]
    location: pulumi.Input[str]
    namespace: str
    manifest: dict
    """The batch/v1 Job each run is created from (named per execution by the workflow)."""
    provider: pulumi.ProviderResource
    timeout_seconds: int
    namespace_resource: Optional[pulumi.Resource] = None
    """The namespace object, which the Role waits for. Defaults to none."""


@dataclass(frozen=True, kw_only=True)
class PipelineTarget:
    launch: pulumi.Input[dict]
    """The flexTemplates:launch body."""
    worker: ServiceAccount
    template_bucket: Bucket
    timeout_seconds: int


@dataclass(frozen=True, kw_only=True)
class DispatchTarget:
    secret: str
    repository: str
    workflow: str
    ref: str
    stack: str
    service: str
    models_prefix: str
    """The object prefix of the service's versions (models/<name>/): the version is the next directory."""


Target = Union[CloudRunJobTarget, GkeJobTarget, PipelineTarget, DispatchTarget]


@dataclass(frozen=True, kw_only=True)
class EventWorkflowArgs:
    spec: CloudFunctionSpec
    """The trigger as the stack file says it (with `run`)."""
    workflow_name: str
    """The workflow's name (unique in the project and region)."""
    project: str
    region: str
    target: Target
    """What it runs."""
    bucket: Optional[Union[Bucket, ExistingBucket]] = None
    """The bucket of a storage event: the stack's, or one it does not own. Defaults to none."""
    bucket_project: Optional[str] = None
    """The project of a bucket the stack does not own, when it is not `project`: its Cloud Storage
    service agent publishes the notifications. Defaults to `project`."""
    bucket_location: Optional[str] = None
    """Where the bucket is, for an Eventarc storage event (its trigger must be there). Defaults to
    the bucket's own location (a stack bucket's)."""
    read_grants: Sequence[pulumi.Resource] = ()
    """The bindings that let what runs read a bucket the stack does not own; the workflow waits
    for them. Defaults to none."""
    topic: Optional[gcp.pubsub.Topic] = None
    """The topic of a Pub/Sub event. Defaults to none."""
    prod: bool = False
    """Deletion protection on the workflow. Defaults to false."""
    alert_channels: Optional[Sequence[pulumi.Input[str]]] = None
    """Alert on every failed execution, to these channels. Defaults to none: no alert."""
    storage_agent_grant: Optional[pulumi.Resource] = None
    """The Cloud Storage service agent's Pub/Sub publisher role on the project, which an eventarc
    storage event needs (the TriggerSet's). Defaults to none."""


class EventWorkflow(Component):
    """Outputs: workflow (its ID), account_email, trigger_email."""

    def __init__(self, name: str, args: EventWorkflowArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        spec, on, target = args.spec, args.spec.on, args.target
        self.account = ServiceAccount(f"{name}-sa", ServiceAccountArgs(
            display_name=f"mlinfra workflow {spec.name}", project=args.project), opts=self.child())
        self.trigger_account = ServiceAccount(f"{name}-trigger", ServiceAccountArgs(
            display_name=f"mlinfra trigger of workflow {spec.name}", project=args.project), opts=self.child())
        grants: list[pulumi.Resource] = [self.account.grant_project_role("roles/logging.logWriter")]
        grants += self._grants(name, args) + list(args.read_grants)

        kind = on.kind
        marker = (on.storage.marker or DEFAULT_MARKER) if on.storage is not None else None
        delivery = on.storage.delivery if on.storage is not None else "notification"
        read = definitions.read_event(kind, marker=marker, prefix=on.storage.prefix if on.storage else "",
                                      delivery=delivery)
        self.source = self._work(target, args).apply(lambda work: definitions.source(definitions.definition(read, work)))
        self.workflow_name = args.workflow_name
        self.workflow = gcp.workflows.Workflow(
            name,
            name=args.workflow_name,
            project=args.project,
            region=args.region,
            description=f"mlinfra trigger {spec.name}: runs {spec.run.kind.replace('_', ' ')} on {kind} events",
            service_account=self.account.email,
            source_contents=self.source,
            call_log_level="LOG_ERRORS_ONLY",
            execution_history_level="EXECUTION_HISTORY_BASIC",
            deletion_protection=args.prod,
            opts=self.child(depends_on=grants, delete_before_replace=True),
        )
        invoker = self.trigger_account.grant_project_role("roles/workflows.invoker")
        self._event_source(name, args, invoker)
        self.alert = None if args.alert_channels is None else self._failure_alert(name, args)
        self.register_outputs({"workflow": self.workflow.id, "account_email": self.account.email,
                               "trigger_email": self.trigger_account.email,
                               **({"alert_policy": self.alert.name} if self.alert else {})})

    def _failure_alert(self, name: str, args: EventWorkflowArgs) -> gcp.monitoring.AlertPolicy:
        """One alert per failed execution: the job, pipeline or dispatch failed, or timed out."""
        metric = "workflows.googleapis.com/finished_execution_count"
        spec = args.spec
        return gcp.monitoring.AlertPolicy(
            f"{name}-failed", project=args.project, combiner="OR", severity="ERROR",
            display_name=f"{spec.name}: a run failed",
            notification_channels=list(args.alert_channels) or None,
            conditions=[gcp.monitoring.AlertPolicyConditionArgs(
                display_name="failed executions",
                condition_threshold=gcp.monitoring.AlertPolicyConditionConditionThresholdArgs(
                    filter=(f'metric.type="{metric}" metric.label."status"="FAILED" '
                            f'resource.type="workflows.googleapis.com/Workflow" '
                            f'resource.label."workflow_id"="{args.workflow_name}"'),
                    comparison="COMPARISON_GT", threshold_value=0, duration="0s",
                    aggregations=[gcp.monitoring.AlertPolicyConditionConditionThresholdAggregationArgs(
                        alignment_period="300s", per_series_aligner=ALERT_ALIGNER)]))],
            documentation=gcp.monitoring.AlertPolicyDocumentationArgs(mime_type="text/markdown", content=(
                f"The workflow **{args.workflow_name}** of trigger **{spec.name}** failed: what it runs "
                f"({spec.run.kind.replace('_', ' ')}) failed, ended otherwise than done, or outlived its wait. Open "
                "the failed execution in the Workflows console: its error names the step and the job, run or "
                "HTTP status; the job's own logs say why.")),
            opts=self.child())

    def _grants(self, name: str, args: EventWorkflowArgs) -> list[pulumi.Resource]:
        target, member = args.target, self.account.member
        if isinstance(target, CloudRunJobTarget):
            return [gcp.cloudrunv2.JobIamMember(
                f"{name}-runs-job", project=args.project, location=target.location, name=target.job_name,
                role=RUN_JOB_ROLE, member=member, opts=self.child())]
        if isinstance(target, GkeJobTarget):
            import pulumi_kubernetes as k8s

            # IAM lets the account find the cluster and nothing in it; the Role lets it run Jobs
            # in the jobs namespace only (GKE authorizes a Google account by its email).
            role_name = f"mlinfra-workflow-{args.spec.name}"
            k8s_opts = self.child(provider=target.provider,
                                  depends_on=[target.namespace_resource] if target.namespace_resource else None)
            role = k8s.rbac.v1.Role(f"{name}-role", metadata={"name": role_name, "namespace": target.namespace},
                                    rules=[{"apiGroups": ["batch"], "resources": ["jobs"],
                                            "verbs": ["create", "get"]}], opts=k8s_opts)
            binding = k8s.rbac.v1.RoleBinding(
                f"{name}-role-binding", metadata={"name": role_name, "namespace": target.namespace},
                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
                subjects=[{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": self.account.email}],
                opts=self.child(provider=target.provider, depends_on=[role]))
            return [self.account.grant_project_role("roles/container.clusterViewer"), role, binding]
        if isinstance(target, PipelineTarget):
            return [
                self.account.grant_project_role("roles/dataflow.developer"),
                gcp.serviceaccount.IAMMember(
                    f"{name}-acts-as-worker", service_account_id=target.worker.resource_name,
                    role="roles/iam.serviceAccountUser", member=member, opts=self.child()),
                target.template_bucket.grant_read(self.account),
            ]
        return [gcp.secretmanager.SecretIamMember(
            f"{name}-reads-token", project=args.project, secret_id=target.secret,
            role="roles/secretmanager.secretAccessor", member=member, opts=self.child())]

    @staticmethod
    def _work(target: Target, args: EventWorkflowArgs) -> pulumi.Output:
        if isinstance(target, CloudRunJobTarget):
            return pulumi.Output.from_input(target.job_id).apply(
                lambda job_id: definitions.cloud_run_job_steps(job_id, target.timeout_seconds))
        if isinstance(target, GkeJobTarget):
            return pulumi.Output.all(target.cluster, target.location).apply(
                lambda v: definitions.gke_job_steps(v[0], v[1], args.project, target.namespace, target.manifest,
                                                    target.timeout_seconds))
        if isinstance(target, PipelineTarget):
            return pulumi.Output.from_input(target.launch).apply(
                lambda launch: definitions.pipeline_steps(args.project, args.region, launch, target.timeout_seconds))
        return pulumi.Output.from_input(definitions.dispatch_steps(
            project=args.project, secret=target.secret, repository=target.repository, workflow=target.workflow,
            ref=target.ref, stack=target.stack, service=target.service, models_prefix=target.models_prefix))

    def _event_source(self, name: str, args: EventWorkflowArgs, invoker: pulumi.Resource) -> None:
        on = args.spec.on
        self.topic = args.topic
        self.notification = None
        self.eventarc = None
        self.schedule = None
        direct = on.storage is not None and on.storage.delivery == "eventarc"
        if on.storage is not None and not direct:
            self.topic, self.notification = notification_topic(
                self, name, project=args.project, bucket_name=args.bucket.bucket_name, prefix=on.storage.prefix,
                agent_project=args.bucket_project)
        if direct:
            if args.storage_agent_grant is None:
                raise_if_any(f"EventWorkflow {name}", [Issue(
                    ("on", "storage", "delivery"), "needs the Cloud Storage service agent's publisher role",
                    fix="pass storage_agent_grant")])
            receiver = self.trigger_account.grant_project_role("roles/eventarc.eventReceiver")
            self.eventarc = gcp.eventarc.Trigger(
                f"{name}-eventarc",
                name=args.workflow_name,
                project=args.project,
                # Where the bucket is: a region, or a multi- or dual-region's lowercase name.
                location=(args.bucket_location or args.bucket.location).lower(),
                matching_criterias=[gcp.eventarc.TriggerMatchingCriteriaArgs(attribute="type", value=STORAGE_FINALIZED),
                                    gcp.eventarc.TriggerMatchingCriteriaArgs(attribute="bucket", value=args.bucket.bucket_name)],
                event_data_content_type="application/json",
                destination=gcp.eventarc.TriggerDestinationArgs(workflow=self.workflow.id),
                service_account=self.trigger_account.email,
                retry_policy=None if args.spec.retries else gcp.eventarc.TriggerRetryPolicyArgs(max_attempts=1),
                opts=self.child(depends_on=[invoker, receiver, args.storage_agent_grant], delete_before_replace=True),
            )
        elif on.storage is not None or on.pubsub is not None:
            self.eventarc = gcp.eventarc.Trigger(
                f"{name}-eventarc",
                name=args.workflow_name,
                project=args.project,
                location=args.region,
                matching_criterias=[gcp.eventarc.TriggerMatchingCriteriaArgs(attribute="type", value=PUBSUB_EVENT)],
                transport=gcp.eventarc.TriggerTransportArgs(
                    pubsub=gcp.eventarc.TriggerTransportPubsubArgs(topic=self.topic.id)),
                destination=gcp.eventarc.TriggerDestinationArgs(workflow=self.workflow.id),
                service_account=self.trigger_account.email,
                # Delivered once: the run is not idempotent unless the trigger says so.
                retry_policy=None if args.spec.retries else gcp.eventarc.TriggerRetryPolicyArgs(max_attempts=1),
                opts=self.child(depends_on=[invoker], delete_before_replace=True),
            )
        elif on.schedule is not None:
            body = base64.b64encode(json.dumps({"argument": json.dumps({"schedule": on.schedule.cron})}).encode()).decode()
            self.schedule = gcp.cloudscheduler.Job(
                f"{name}-schedule",
                project=args.project,
                region=args.region,
                description=f"Starts the workflow of trigger {args.spec.name}",
                schedule=on.schedule.cron,
                time_zone=on.schedule.time_zone,
                attempt_deadline="180s",
                retry_config=gcp.cloudscheduler.JobRetryConfigArgs(retry_count=3 if args.spec.retries else 0),
                http_target=gcp.cloudscheduler.JobHttpTargetArgs(
                    uri=pulumi.Output.concat(EXECUTIONS_API, self.workflow.id, "/executions"),
                    http_method="POST",
                    headers={"Content-Type": "application/json"},
                    body=body,
                    oauth_token=gcp.cloudscheduler.JobHttpTargetOauthTokenArgs(
                        service_account_email=self.trigger_account.email,
                        scope="https://www.googleapis.com/auth/cloud-platform"),
                ),
                opts=self.child(depends_on=[invoker]),
            )
