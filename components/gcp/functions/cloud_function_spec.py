"""An event-driven trigger as the stack file says it: a Cloud Function (gen2), the one event
that starts it, and the rules Cloud Functions would otherwise enforce at deploy time."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Literal, Mapping, Optional

from pydantic import Field

from components.core.issues import Issue, one_of
from components.core.naming import DNS_LABEL, dns_name
from components.core.schedules import cron_issues, time_zone_issues
from components.core.spec import Context, Spec
from components.core.units import memory_mib
from components.gcp.iam.principals import iam_member_issues
from components.gcp.pubsub.names import topic_name_issues
from components.gcp.storage.locations import location_issues
from components.gcp.storage.names import bucket_name_issues
from components.gcp.storage.storage_spec import BUCKET_ROLES
from components.serving.env_rules import FUNCTION_RESERVED, FUNCTION_RESERVED_PREFIX, env_issues
from components.gcp.workflows.run_spec import RunSpec
from components.serving.model_serving_spec import SecretRef

FUNCTION_RUNTIMES = ("python311", "python312", "python313", "nodejs20", "nodejs22", "go122", "go123", "java21")
# What a source directory must contain for each runtime family to build.
ENTRY_FILES = {"python": ("main.py",), "nodejs": ("package.json", "index.js"), "go": ("go.mod",),
               "java": ("pom.xml", "build.gradle")}
PUBSUB_EVENT = "google.cloud.pubsub.topic.v1.messagePublished"
STORAGE_FINALIZED = "google.cloud.storage.object.v1.finalized"
"""Cloud Storage's direct event through Eventarc (a CloudEvent whose data is the object's metadata)."""
EXTERNAL_BUCKET = "gs://"


def function_name(name: str, stack: str) -> str:
    """The Cloud Function (and so the Cloud Run service) a stack's `triggers[].name` becomes."""
    return dns_name(name, stack, max_len=63)
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
    """Which bucket: one of the stack's (dataLake or artifacts), or gs://<name>, a bucket the stack
    does not own, named in full (what the event starts reads it: the function's account, or with
    `run` the job's or the pipeline workers' account, gets read access, a binding on that bucket;
    the notification is created on it: your deploy identity needs storage.buckets.get,
    storage.buckets.update and storage.buckets.setIamPolicy there, e.g. roles/storage.admin on that
    bucket, and resourcemanager.projects.get on its project to look its storage agent up)."""
    prefix: str = ""
    """Only objects whose name starts with this. Defaults to every object."""
    marker: Optional[str] = Field(None, pattern=r"^[^/\x00]{1,255}$")
    """Start work only when an object with this file name lands (the producer writes it last).
    Defaults to `_READY` for a trigger with `run`; none for a function (every object)."""
    delivery: Literal["notification", "eventarc"] = "notification"
    """How the event arrives: notification (a bucket notification filtered by prefix publishes to a
    topic of the trigger, delivered as a Pub/Sub message) or eventarc (Cloud Storage's
    google.cloud.storage.object.v1.finalized event, a CloudEvent whose data is the object; it
    filters by bucket only, and the bucket must be in the stack's project). Defaults to notification."""
    project: Optional[str] = Field(None, pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
    """For a gs:// bucket in another project, with notification delivery: that project (its Cloud
    Storage service agent publishes the events). Defaults to the stack's project."""
    location: Optional[str] = None
    """For a gs:// bucket with eventarc delivery: the bucket's location, where the Eventarc trigger
    must be (e.g. us-central1, or us for the US multi-region). Defaults to the stack's region."""

    @property
    def external(self) -> bool:
        return self.bucket.startswith(EXTERNAL_BUCKET)

    @property
    def bucket_name(self) -> Optional[str]:
        """The full name of a gs:// bucket, else None (a stack bucket, named by role)."""
        return self.bucket[len(EXTERNAL_BUCKET):] if self.external else None

    def issues(self, ctx: Context) -> list[Issue]:
        issues: list[Issue] = []
        if self.external:
            name = self.bucket_name or ""
            if "/" in name:
                bare, path = name.split("/", 1)
                issues.append(Issue(("bucket",), "names a bucket; the path inside it is the prefix", self.bucket,
                                    fix=f"write bucket: gs://{bare} and prefix: {path.rstrip('/') + '/' if path else ''}"))
            else:
                issues += bucket_name_issues(name, key=("bucket",))
        if self.project is not None and not (self.external and self.delivery == "notification"):
            issues.append(Issue(("project",), "names the project of a gs:// bucket with notification delivery "
                                + ("(Eventarc's storage events come from buckets of the trigger's own project)"
                                   if self.delivery == "eventarc" else "(the stack's buckets are in its project)"),
                                self.project, fix="remove project" + (", or use delivery notification"
                                                                      if self.delivery == "eventarc" else "")))
        if self.location is not None:
            if not (self.external and self.delivery == "eventarc"):
                issues.append(Issue(("location",), "is where the Eventarc trigger of a gs:// bucket goes (with "
                                    "delivery eventarc); a stack bucket's location is known", self.location,
                                    fix="remove location"))
            else:
                issues += location_issues(self.location, key=("location",))
        return issues


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
    """Each object finalized in a bucket (one of the stack's, or another named in full) under a prefix."""
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
    source: Optional[str] = Field(None, pattern=r"^[^\x00]{1,255}$")
    """Directory of the function's source, relative to the project root (a function), or none
    with `run`."""
    run: Optional[RunSpec] = None
    """Instead of a function: a job or pipeline of the stack to run and wait for, or the
    repository's rollout proposal to dispatch, through a Workflow. Defaults to none."""
    runtime: Literal["python311", "python312", "python313", "nodejs20", "nodejs22", "go122", "go123", "java21"] = "python312"
    """Language runtime. Defaults to python312."""
    entry_point: str = Field("handle", pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    """Function to call in the source. Defaults to handle."""
    on: EventSpec
    """What starts it: http, pubsub, storage or schedule."""
    retry: Optional[bool] = None
    """Retry failed event deliveries and scheduled calls. Defaults to true for a function, false
    with `run` (a training run is not idempotent: an event starts it at most once)."""
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

    @property
    def retries(self) -> bool:
        return self.retry if self.retry is not None else self.run is None

    def issues(self, ctx: Context) -> list[Issue]:
        if self.run is not None or self.source is None:
            return run_issues(self, ctx.extra.get("bucket_roles", BUCKET_ROLES))
        return function_issues(self, ctx.extra.get("bucket_roles", BUCKET_ROLES), ctx.root)


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


# Keys that only a function has: with `run`, they would configure nothing.
_FUNCTION_ONLY = ("runtime", "entry_point", "memory", "timeout_seconds", "min_instances", "max_instances", "env", "secrets")


def run_issues(spec: "CloudFunctionSpec", buckets: Mapping[str, object]) -> list[Issue]:
    """A trigger with `run` (or with neither `source` nor `run`)."""
    if spec.run is None:
        return [Issue(("source",), "is required: a trigger runs a function (source) or a job, pipeline or "
                      "rollout proposal (run)", fix="add source: <directory>, or run: {job: <name>}")]
    if spec.source is not None:
        return [Issue(("run",), "a trigger runs either a function (source) or run, not both", fix="remove source or run")]
    issues = _event_issues(spec, buckets)
    for field in _FUNCTION_ONLY:
        if field in spec.model_fields_set:
            camel = "".join(w.capitalize() if i else w for i, w in enumerate(field.split("_")))
            issues.append(Issue((camel,), "configures a function; a trigger with run has none", getattr(spec, field),
                                fix=f"remove {camel} (the job or pipeline has its own)"))
    if spec.on.http is not None:
        issues.append(Issue(("on", "http"), "a trigger with run starts on storage, pubsub or schedule events",
                            allowed="storage, pubsub, schedule", fix="use a schedule, or a function for HTTP calls"))
    if spec.run.propose_rollout is not None and spec.on.kind not in (None, "storage"):
        issues.append(Issue(("on",), "proposeRollout reads the version from the marker's directory: it needs a "
                            "storage event", allowed="storage", fix="use on.storage on the artifacts bucket"))
    return issues


def _event_issues(spec: "CloudFunctionSpec", buckets: Mapping[str, object]) -> list[Issue]:
    """The event's rules, shared by functions and `run` triggers."""
    issues: list[Issue] = []
    on = spec.on
    given = [k for k in ("http", "pubsub", "storage", "schedule") if getattr(on, k) is not None]
    if len(given) != 1:
        issues.append(Issue(("on",), f"needs exactly one event, got {len(given)}" + (f" ({', '.join(given)})" if given else ""),
                            allowed="http, pubsub, storage, schedule", fix="keep one of them"))
    if on.storage is not None and not on.storage.external and on.storage.bucket not in buckets:
        issues.append(Issue(("on", "storage", "bucket"), "is not one of the stack's buckets", on.storage.bucket,
                            allowed=f"{one_of(buckets)}, or gs://<bucket> for a bucket the stack does not own",
                            fix=f"use one of {one_of(buckets)}, or name another bucket in full as gs://<name>"))
    if on.schedule is not None:
        issues += cron_issues(on.schedule.cron, "scheduler", key=("on", "schedule", "cron"))
        issues += time_zone_issues(on.schedule.time_zone, key=("on", "schedule", "timeZone"))
    if on.pubsub is not None:
        issues += topic_name_issues(on.pubsub.topic, key=("on", "pubsub", "topic"))
    if on.http is not None:
        issues += [i.under("on", "http") for i in iam_member_issues(on.http.invokers)]
    elif spec.timeout_seconds > 540 and given:
        issues.append(Issue(("timeoutSeconds",), "event-driven functions may run at most 540 seconds", spec.timeout_seconds,
                            fix="set timeoutSeconds to 540 or less"))
    if on.storage is not None and on.storage.prefix.startswith("gs://"):
        bare = on.storage.prefix[len("gs://"):].split("/", 1)[-1] if "/" in on.storage.prefix[5:] else ""
        issues.append(Issue(("on", "storage", "prefix"), "is matched against object names, which never start with "
                            "gs://: the trigger would never fire", on.storage.prefix,
                            allowed="an object-name prefix, e.g. uploads/", fix=f"write {bare!r} (the bucket is on.storage.bucket)"))
    return issues


def function_issues(spec: "CloudFunctionSpec", buckets: Mapping[str, object], source_root: Path) -> list[Issue]:
    issues = _event_issues(spec, buckets)
    storage = spec.on.storage
    if storage is not None and storage.delivery == "eventarc" and storage.prefix:
        issues.append(Issue(("on", "storage", "prefix"), "cannot filter Eventarc's storage events: they filter by "
                            "bucket only, so the function would run for every object", storage.prefix,
                            fix="use delivery notification (filtered at the bucket), or remove prefix and check "
                                "the object's name in the function"))
    if spec.on.storage is not None and spec.on.storage.marker is not None:
        issues.append(Issue(("on", "storage", "marker"), "applies to a trigger with run; a function receives every "
                            "object under the prefix and checks the name itself", spec.on.storage.marker,
                            fix="remove marker, or narrow prefix"))
    issues += env_issues(spec.env, [s.env for s in spec.secrets], platform="Cloud Functions", reserved=FUNCTION_RESERVED,
                         reserved_prefix=FUNCTION_RESERVED_PREFIX)
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
    elif family == "python":
        issues += entry_point_issues(source / "main.py", spec.entry_point, spec.source)
    return issues


def entry_point_issues(main: Path, entry_point: str, source: str) -> list[Issue]:
    """A Python function's entry point must be a name main.py defines (parsed, never imported):
    otherwise the build succeeds and every instance fails to start."""
    import ast

    try:
        tree = ast.parse(main.read_bytes(), filename=str(main))
    except SyntaxError as error:
        return [Issue(("source",), f"main.py does not parse (line {error.lineno}: {error.msg}); the function "
                      "could not start", source, fix="fix the syntax error")]
    except (OSError, ValueError):
        return []
    names: set[str] = set()
    for top in tree.body:
        # Conditional definitions (`if`, `try`, `with` at the top) count too.
        for node in (ast.walk(top) if isinstance(top, (ast.If, ast.Try, ast.With)) else (top,)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                if any(a.name == "*" for a in node.names):
                    return []  # a star import may define it
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names |= {t.id for t in targets if isinstance(t, ast.Name)}
    if entry_point.split(".")[0] in names or "__getattr__" in names:
        return []
    functions = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return [Issue(("entryPoint",), f"is not defined in {source}/main.py; the function would fail to start", entry_point,
                  allowed=f"functions main.py defines: {one_of(functions)}" if functions else None,
                  fix=f"set entryPoint to {functions[0]}" if len(functions) == 1 else "name a function main.py defines")]

