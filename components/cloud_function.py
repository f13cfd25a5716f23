"""An event-driven trigger: a Cloud Function (gen2) with its source packaged from the repo.

One of four events starts it: an HTTP call (IAM-checked), a message on a Pub/Sub topic, an
object landing in a bucket under a prefix, or a schedule. Object events go through a bucket
notification filtered by prefix, so the function only runs for the objects it cares about.
Each function runs as its own service account; events and schedules call it as a second,
trigger service account that may do nothing but invoke it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Literal, Mapping, Optional

import pulumi
import pulumi_gcp as gcp
from pydantic import Field

from components.base import Component
from components.bucket import Bucket
from components.cloud_run_service import SecretRef
from components.naming import DNS_LABEL
from components.service_account import Member, ServiceAccount, ServiceAccountArgs, iam_member_issues
from components.units import memory_mib
from components.validation import Issue, Spec, one_of, raise_if_any

RUNTIMES = ("python311", "python312", "python313", "nodejs20", "nodejs22", "go122", "go123", "java21")
# What a source directory must contain for each runtime family to build.
ENTRY_FILES = {"python": ("main.py",), "nodejs": ("package.json", "index.js"), "go": ("go.mod",),
               "java": ("pom.xml", "build.gradle")}
_CRON_FIELD = re.compile(r"^(\*|\d+|[A-Za-z]{3})([-/,](\d+|[A-Za-z]{3}|\*))*(/\d+)?$")
PUBSUB_EVENT = "google.cloud.pubsub.topic.v1.messagePublished"
_IGNORED = {"__pycache__", ".pytest_cache", "node_modules", ".venv"}


class HttpEventSpec(Spec):
    public: bool = False
    """Allow unauthenticated calls (allUsers). Defaults to false: only `invokers` may call."""
    invokers: list[str] = []
    """IAM members allowed to call the function."""


class PubsubEventSpec(Spec):
    topic: str = Field(pattern=r"^[a-zA-Z][-a-zA-Z0-9_.~+%]{2,254}$")
    """Topic name; the stack creates it."""


class StorageEventSpec(Spec):
    bucket: str
    """Which of the stack's buckets: dataLake or artifacts."""
    prefix: str = ""
    """Only objects whose name starts with this. Defaults to every object."""


class ScheduleEventSpec(Spec):
    cron: str
    """unix-cron schedule, e.g. `0 3 * * *`."""
    time_zone: str = "Etc/UTC"
    """IANA time zone of the schedule. Defaults to Etc/UTC."""


class EventSpec(Spec):
    """Exactly one of the four."""

    http: Optional[HttpEventSpec] = None
    """Called over HTTPS by the IAM members in `invokers` (or anyone, with `public: true`)."""
    pubsub: Optional[PubsubEventSpec] = None
    """Each message published to the topic."""
    storage: Optional[StorageEventSpec] = None
    """Each object finalized in one of the stack's buckets under a prefix."""
    schedule: Optional[ScheduleEventSpec] = None
    """A Cloud Scheduler job calling the function with an OIDC token."""

    @property
    def kind(self) -> Optional[str]:
        kinds = [k for k in ("http", "pubsub", "storage", "schedule") if getattr(self, k) is not None]
        return kinds[0] if len(kinds) == 1 else None


class CloudFunctionSpec(Spec):
    """One trigger."""

    name: str = Field(pattern=DNS_LABEL, max_length=40)
    """Function name: lowercase letters, digits and hyphens, at most 40."""
    source: str = Field(pattern=r"^[^\x00]{1,255}$")
    """Directory of the function's source, relative to the project root."""
    runtime: Literal["python311", "python312", "python313", "nodejs20", "nodejs22", "go122", "go123", "java21"] = "python312"
    """Language runtime. Defaults to python312."""
    entry_point: str = Field("handle", pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    """Function to call in the source. Defaults to handle."""
    on: EventSpec
    """What starts it: http, pubsub, storage or schedule."""
    retry: bool = True
    """Retry failed event deliveries and scheduled calls. Defaults to true."""
    memory: str = "256Mi"
    """Memory per instance. Defaults to 256Mi."""
    timeout_seconds: int = Field(60, ge=1, le=3600)
    """Time limit per call (at most 540 for events). Defaults to 60."""
    min_instances: int = Field(0, ge=0, le=1000)
    """Instances kept warm. Defaults to 0."""
    max_instances: int = Field(10, ge=1, le=1000)
    """Upper bound on instances (a cost control). Defaults to 10."""
    env: dict[str, str] = {}
    """Plain environment variables."""
    secrets: list[SecretRef] = []
    """Environment variables from Secret Manager, by reference; only these are readable."""


def source_digest(directory: Path) -> str:
    """A hash of every file under `directory` (names and contents), so the object name changes
    exactly when the source does and the function is rebuilt only then."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory)
        if _IGNORED.intersection(rel.parts) or path.suffix == ".pyc":
            continue
        digest.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def function_issues(spec: CloudFunctionSpec, buckets: Mapping[str, object], source_root: Path) -> list[Issue]:
    issues: list[Issue] = []
    on = spec.on
    given = [k for k in ("http", "pubsub", "storage", "schedule") if getattr(on, k) is not None]
    if len(given) != 1:
        issues.append(Issue(("on",), f"needs exactly one event, got {len(given)}" + (f" ({', '.join(given)})" if given else ""),
                            allowed="http, pubsub, storage, schedule", fix="keep one of them"))
    if on.storage is not None and on.storage.bucket not in buckets:
        issues.append(Issue(("on", "storage", "bucket"), "is not one of the stack's buckets", on.storage.bucket,
                            allowed=one_of(buckets), fix=f"use one of {one_of(buckets)}"))
    if on.schedule is not None:
        fields = on.schedule.cron.split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
            issues.append(Issue(("on", "schedule", "cron"), "is not a unix-cron schedule of 5 fields", on.schedule.cron,
                                allowed="minute hour day-of-month month day-of-week", fix='e.g. "0 3 * * *" for 03:00 daily'))
    if on.http is not None:
        issues += [i.under("on", "http") for i in iam_member_issues(on.http.invokers)]
    elif spec.timeout_seconds > 540 and given:
        issues.append(Issue(("timeoutSeconds",), "event-driven functions may run at most 540 seconds", spec.timeout_seconds,
                            fix="set timeoutSeconds to 540 or less"))
    if spec.min_instances > spec.max_instances:
        issues.append(Issue(("maxInstances",), f"is below minInstances ({spec.min_instances})", spec.max_instances,
                            fix=f"set maxInstances to at least {spec.min_instances}"))
    try:
        mem = memory_mib(spec.memory)
        if not 128 <= mem <= 32 * 1024:
            issues.append(Issue(("memory",), "is outside what Cloud Functions offers", spec.memory,
                                allowed="128Mi to 32Gi", fix="pick a size in range"))
    except ValueError:
        issues.append(Issue(("memory",), "is not a memory quantity", spec.memory, allowed="e.g. 256Mi, 1Gi",
                            fix="write a number with Mi or Gi"))

    family = re.match(r"[a-z]+", spec.runtime).group(0)
    try:
        source = (source_root / spec.source).resolve()
        is_dir = source.is_dir()
    except (OSError, ValueError):
        is_dir = False
    if not is_dir:
        issues.append(Issue(("source",), "is not a directory of the project", spec.source,
                            fix=f"create it, or point to the directory holding the function (relative to {source_root})"))
    elif not any((source / f).is_file() for f in ENTRY_FILES[family]):
        issues.append(Issue(("source",), f"has none of the files a {spec.runtime} function needs", spec.source,
                            allowed=one_of(ENTRY_FILES[family]), fix=f"add {ENTRY_FILES[family][0]}"))
    return issues


class CloudFunctionTriggerArgs:
    def __init__(self, spec: CloudFunctionSpec, *, function_name: str, region: str, project: str,
                 source_bucket: Bucket, source_root: Path, build_account: ServiceAccount,
                 network_id: pulumi.Input[str], subnetwork_id: pulumi.Input[str],
                 buckets: Optional[Mapping[str, Bucket]] = None, topic: Optional[gcp.pubsub.Topic] = None,
                 egress: str = "privateRangesOnly"):
        """`buckets`: the stack's buckets by role, for storage events; `topic`: for pubsub events."""
        self.spec = spec
        self.function_name = function_name
        self.region = region
        self.project = project
        self.source_bucket = source_bucket
        self.source_root = Path(source_root)
        self.build_account = build_account
        self.network_id = network_id
        self.subnetwork_id = subnetwork_id
        self.buckets = dict(buckets or {})
        self.topic = topic
        self.egress = egress


class CloudFunctionTrigger(Component):
    """Outputs: url, function_name."""

    def __init__(self, name: str, args: CloudFunctionTriggerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("mlinfra:gcp:CloudFunctionTrigger", name, opts)
        spec, on = args.spec, args.spec.on
        issues = function_issues(spec, args.buckets, args.source_root)
        if on.pubsub is not None and args.topic is None:
            issues.append(Issue(("on", "pubsub", "topic"), "needs the topic", fix="pass topic"))
        raise_if_any(f"CloudFunctionTrigger {name}", issues)

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

        grants: list[pulumi.Resource] = [
            gcp.secretmanager.SecretIamMember(
                f"{name}-secret-{secret}", project=args.project, secret_id=secret,
                role="roles/secretmanager.secretAccessor", member=self.account.member, opts=self.child())
            for secret in sorted({s.secret for s in spec.secrets})
        ]
        event_trigger = None
        retry = "RETRY_POLICY_RETRY" if spec.retry else "RETRY_POLICY_DO_NOT_RETRY"
        if on.pubsub is not None:
            event_trigger = gcp.cloudfunctionsv2.FunctionEventTriggerArgs(
                trigger_region=args.region, event_type=PUBSUB_EVENT, pubsub_topic=args.topic.id,
                retry_policy=retry, service_account_email=self.trigger_account.email)
        elif on.storage is not None:
            bucket = args.buckets[on.storage.bucket]
            grants.append(bucket.grant_read(self.account))
            self.topic = gcp.pubsub.Topic(f"{name}-events", project=args.project,
                                          message_retention_duration="86400s", opts=self.child())
            agent = gcp.storage.get_project_service_account_output(project=args.project)
            publisher = gcp.pubsub.TopicIAMMember(
                f"{name}-events-publisher", project=args.project, topic=self.topic.name, role="roles/pubsub.publisher",
                member=agent.email_address.apply(lambda email: f"serviceAccount:{email}"), opts=self.child())
            self.notification = gcp.storage.Notification(
                f"{name}-notification", bucket=bucket.bucket_name, topic=self.topic.id, payload_format="JSON_API_V1",
                event_types=["OBJECT_FINALIZE"], object_name_prefix=on.storage.prefix or None,
                opts=self.child(depends_on=[publisher]))
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
                service_account=args.build_account.account.name,
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
                direct_vpc_egress=egress[args.egress],
                direct_vpc_network_interfaces=[gcp.cloudfunctionsv2.FunctionServiceConfigDirectVpcNetworkInterfaceArgs(
                    network=args.network_id, subnetwork=args.subnetwork_id)],
            ),
            event_trigger=event_trigger,
            opts=self.child(depends_on=grants),
        )

        # Gen2 functions run as a Cloud Run service of the same name: invoking is run.invoker on it.
        callers: list[tuple[str, pulumi.Input[str]]] = []
        if on.http is not None:
            callers = ([("public", "allUsers")] if on.http.public else []) + \
                      [(str(i), m) for i, m in enumerate(on.http.invokers)]
        else:
            callers = [("trigger", self.trigger_account.member)]
        self.invoker_grants = [
            gcp.cloudrunv2.ServiceIamMember(
                f"{name}-invoker-{label}", project=args.project, location=args.region, name=self.function.name,
                role="roles/run.invoker", member=member, opts=self.child())
            for label, member in callers
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
                retry_config=gcp.cloudscheduler.JobRetryConfigArgs(retry_count=3 if spec.retry else 0),
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
