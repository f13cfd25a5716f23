"""The guardrails: rules over the resources a program registers, each with an ID and the
reference it enforces. Plain Python over plain data, so the same rules judge the offline plan
(`mlinfra plan`) and run in the cloud as a Pulumi policy pack (`policy/__main__.py`).

References: CIS Google Kubernetes Engine (GKE) Benchmark v1.4.0 item numbers ("CIS GKE 5.6.5"),
CIS Google Cloud Platform Foundation Benchmark ("CIS GCP 5.2"), the Kubernetes Pod Security
Standards "restricted" profile ("PSS restricted: <control>"), or mlinfra's own ("mlinfra").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence

from policy import dataflow, gateway
from policy.aws_rules import AWS_RULES

PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
BASIC_ROLES = ("roles/owner", "roles/editor", "roles/viewer")
DEFAULT_LABELS = ("environment", "stack", "pattern", "managed-by")
STATEFUL_PURPOSES = ("data-lake", "model-artifacts")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
BUCKET = "gcp:storage/bucket:Bucket"
RUN_SERVICE = "gcp:cloudrunv2/service:Service"
FUNCTION = "gcp:cloudfunctionsv2/function:Function"
REPOSITORY = "gcp:artifactregistry/repository:Repository"


@dataclass(frozen=True)
class Resource:
    """One registered resource, as both the offline plan and a policy pack see it."""

    urn: str
    type: str
    name: str
    inputs: Mapping[str, Any]
    parent: Optional[str] = None
    protect: bool = False
    retain_on_delete: Optional[bool] = None
    """None where the engine does not say (policy packs are not shown retainOnDelete)."""

    def get(self, *path: str, default: Any = None) -> Any:
        value: Any = self.inputs
        for key in path:
            if not isinstance(value, Mapping) or key not in value:
                return default
            value = value[key]
        return value

    @property
    def labels(self) -> Mapping[str, str]:
        # AWS tags (EKS node groups' `labels` are Kubernetes'); userLabels; never a metric descriptor's key list.
        keys = ("tags",) if self.type.startswith("aws:") else ("userLabels", "labels", "resourceLabels")
        return next((v for v in (self.get(k, default=None) for k in keys) if v and isinstance(v, Mapping)), {})

    @property
    def k8s_kind(self) -> Optional[str]:
        return self.type.rsplit(":", 1)[-1] if self.type.startswith("kubernetes:") else None


@dataclass(frozen=True)
class Finding:
    rule: str
    urn: str
    name: str
    message: str


@dataclass(frozen=True)
class Context:
    """What a rule needs to know about the stack beyond single resources."""

    environment: str
    labelled_types: frozenset[str]
    """Resource types that take labels (the plan knows them from the provider classes)."""

    @property
    def prod(self) -> bool:
        return self.environment == "prod"


Check = Callable[[Sequence[Resource], Context], Iterator[tuple[Resource, str]]]


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    reference: str
    check: Check
    applies_to: tuple[str, ...] = ()
    """Resource types (or Kubernetes kinds) the rule judges; empty: every stack."""
    judges: Optional[Callable[[Resource], bool]] = None
    """Of the resources of those types, the ones it judges (a scheduler job only when it launches
    Dataflow); None: all of them. A stack with none of them: the rule does not apply."""

    def applies(self, resources: Sequence[Resource]) -> bool:
        return not self.applies_to or any((r.type in self.applies_to or r.k8s_kind in self.applies_to)
                                          and (self.judges is None or self.judges(r)) for r in resources)

    def run(self, resources: Sequence[Resource], context: Context) -> list[Finding]:
        return [Finding(self.id, r.urn, r.name, message) for r, message in self.check(resources, context)]


def environment_of(resources: Iterable[Resource]) -> str:
    """The stack's environment, from the `environment` label every labelled resource carries."""
    seen = Counter(r.labels.get("environment") for r in resources if r.labels.get("environment"))
    return "prod" if "prod" in seen else (seen.most_common(1)[0][0] if seen else "dev")


def _of(resources: Sequence[Resource], *types: str) -> Iterator[Resource]:
    return (r for r in resources if r.type in types)


# GKE -------------------------------------------------------------------------------------------

def _private_nodes(resources, ctx):
    for c in _of(resources, CLUSTER):
        if c.get("privateClusterConfig", "enablePrivateNodes") is not True:
            yield c, "nodes have public IP addresses: set privateClusterConfig.enablePrivateNodes"


def _workload_identity(resources, ctx):
    for c in _of(resources, CLUSTER):
        if not c.get("workloadIdentityConfig", "workloadPool"):
            yield c, "Workload Identity is off: pods would use the node's service account"


def _metadata_server(resources, ctx):
    for c in _of(resources, CLUSTER):
        mode = c.get("nodeConfig", "workloadMetadataConfig", "mode")
        if c.get("nodeConfig") is not None and mode != "GKE_METADATA":
            yield c, f"the default node pool exposes the Compute metadata server (mode {mode})"
    for p in _of(resources, NODE_POOL):
        mode = p.get("nodeConfig", "workloadMetadataConfig", "mode")
        if mode != "GKE_METADATA":
            yield p, f"the pool exposes the Compute metadata server to pods (mode {mode})"


def _shielded_nodes(resources, ctx):
    for c in _of(resources, CLUSTER):
        if c.get("enableShieldedNodes") is False:
            yield c, "shielded GKE nodes are off"
    for p in _of(resources, NODE_POOL):
        shielded = p.get("nodeConfig", "shieldedInstanceConfig") or {}
        if shielded.get("enableSecureBoot") is not True:
            yield p, "secure boot is off"
        if shielded.get("enableIntegrityMonitoring") is False:
            yield p, "integrity monitoring is off"


def _release_channel(resources, ctx):
    for c in _of(resources, CLUSTER):
        if c.get("releaseChannel", "channel") not in ("RAPID", "REGULAR", "STABLE", "EXTENDED"):
            yield c, "no release channel: versions are not managed by GKE"


def _legacy_abac(resources, ctx):
    for c in _of(resources, CLUSTER):
        if c.get("enableLegacyAbac") is True:
            yield c, "legacy ABAC authorization is on"


def _client_certificates(resources, ctx):
    for c in _of(resources, CLUSTER):
        if c.get("masterAuth", "clientCertificateConfig", "issueClientCertificate") is True:
            yield c, "the cluster issues client certificates"


def _auto_repair_upgrade(resources, ctx):
    for p in _of(resources, NODE_POOL):
        management = p.get("management") or {}
        for key in ("autoUpgrade",) if p.get("nodeConfig", "flexStart") is True else ("autoRepair", "autoUpgrade"):
            if management.get(key) is not True:
                yield p, f"{key} is off"


def _node_service_account(resources, ctx):
    for p in _of(resources, NODE_POOL):
        account = p.get("nodeConfig", "serviceAccount")
        if not account or account == "default" or str(account).endswith("-compute@developer.gserviceaccount.com"):
            yield p, "nodes run as the Compute Engine default service account"


# Storage, IAM, endpoints -------------------------------------------------------------------------

def _uniform_access(resources, ctx):
    for b in _of(resources, BUCKET):
        if b.get("uniformBucketLevelAccess") is not True:
            yield b, "object ACLs are allowed: turn on uniform bucket-level access"


def _public_access_prevention(resources, ctx):
    for b in _of(resources, BUCKET):
        if b.get("publicAccessPrevention") != "enforced":
            yield b, "public access prevention is not enforced"
    for m in resources:
        if m.type.startswith("gcp:storage/bucketIAM") and m.get("member") in PUBLIC_MEMBERS:
            yield m, f"the bucket is granted to {m.get('member')}"


def _versioned_artifacts(resources, ctx):
    for b in _of(resources, BUCKET):
        if b.labels.get("purpose") == "model-artifacts" and b.get("versioning", "enabled") is not True:
            yield b, "the model-artifact bucket keeps no versions: an overwritten model is lost"


def _public_endpoints(resources, ctx):  # a job never says public: anyone who may run it is a finding
    public = {(r.get("name"), r.type) for r in _of(resources, RUN_SERVICE, FUNCTION) if r.labels.get("public") == "true"}
    public_names = {name for name, _ in public}
    for m in resources:
        if m.type in ("gcp:cloudrunv2/serviceIamMember:ServiceIamMember", "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding",
                      "gcp:cloudfunctionsv2/functionIamMember:FunctionIamMember", "gcp:cloudrunv2/jobIamMember:JobIamMember"):
            members = [m.get("member")] + list(m.get("members") or [])
            exposed = [x for x in members if x in PUBLIC_MEMBERS]
            if exposed and m.get("name") not in public_names and m.get("cloudFunction") not in public_names:
                yield m, f"{exposed[0]} may invoke {m.get('name') or m.get('cloudFunction')}, which does not say public: true"
    for s in _of(resources, RUN_SERVICE):
        if s.get("invokerIamDisabled") is True and s.labels.get("public") != "true":
            yield s, "the invoker IAM check is disabled on a service that does not say public: true"


def _basic_roles(resources, ctx):
    for r in resources:
        role = r.get("role")
        if r.type.startswith("gcp:") and role in BASIC_ROLES:
            yield r, f"grants the basic role {role}"


# Workloads -------------------------------------------------------------------------------------

def _pod_spec(r: Resource) -> Optional[Mapping[str, Any]]:
    kind = r.k8s_kind
    if kind == "CronJob":
        return r.get("spec", "jobTemplate", "spec", "template", "spec")
    if kind in WORKLOAD_KINDS:
        return r.get("spec", "template", "spec")
    if kind == "Pod":
        return r.get("spec")
    return None


def _containers(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(pod.get("initContainers") or []) + list(pod.get("containers") or [])


def _workloads(resources) -> Iterator[tuple[Resource, Mapping[str, Any]]]:
    for r in resources:
        pod = _pod_spec(r)
        if pod is not None:
            yield r, pod


def _non_root(resources, ctx):
    for r, pod in _workloads(resources):
        pod_says = (pod.get("securityContext") or {}).get("runAsNonRoot")
        for c in _containers(pod):
            says = (c.get("securityContext") or {}).get("runAsNonRoot", pod_says)
            if says is not True:
                yield r, f"container {c.get('name')} may run as root (runAsNonRoot is not true)"
            if (c.get("securityContext") or {}).get("runAsUser") == 0:
                yield r, f"container {c.get('name')} runs as user 0"


def _privilege_escalation(resources, ctx):
    for r, pod in _workloads(resources):
        for c in _containers(pod):
            context = c.get("securityContext") or {}
            if context.get("allowPrivilegeEscalation") is not False:
                yield r, f"container {c.get('name')} may escalate privileges"
            if context.get("privileged") is True:
                yield r, f"container {c.get('name')} is privileged"


def _capabilities(resources, ctx):
    for r, pod in _workloads(resources):
        for c in _containers(pod):
            caps = (c.get("securityContext") or {}).get("capabilities") or {}
            if "ALL" not in (caps.get("drop") or []):
                yield r, f"container {c.get('name')} does not drop ALL capabilities"
            added = [a for a in caps.get("add") or [] if a != "NET_BIND_SERVICE"]
            if added:
                yield r, f"container {c.get('name')} adds capabilities {', '.join(added)}"


def _seccomp(resources, ctx):
    for r, pod in _workloads(resources):
        pod_type = ((pod.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
        for c in _containers(pod):
            kind = ((c.get("securityContext") or {}).get("seccompProfile") or {}).get("type", pod_type)
            if kind not in ("RuntimeDefault", "Localhost"):
                yield r, f"container {c.get('name')} has no RuntimeDefault seccomp profile"


def _requests_limits(resources, ctx):
    for r, pod in _workloads(resources):
        for c in _containers(pod):
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                missing = [k for k in ("cpu", "memory") if k not in (res.get(part) or {})]
                if missing:
                    yield r, f"container {c.get('name')} sets no {part} for {', '.join(missing)}"


def _probes(resources, ctx):
    for r, pod in _workloads(resources):
        if r.k8s_kind not in ("Deployment", "StatefulSet", "DaemonSet"):
            continue  # a Job finishes; probes keep long-running servers honest
        for c in pod.get("containers") or []:
            for probe in ("readinessProbe", "livenessProbe"):
                if not c.get(probe):
                    yield r, f"container {c.get('name')} has no {probe}"


def _prod_availability(resources, ctx):
    if not ctx.prod:
        return
    deployments = [r for r in resources if r.k8s_kind == "Deployment"]
    hpas = {(r.get("metadata", "namespace"), r.get("spec", "scaleTargetRef", "name")): r
            for r in resources if r.k8s_kind == "HorizontalPodAutoscaler"}
    pdbs = [r for r in resources if r.k8s_kind == "PodDisruptionBudget"]
    for d in deployments:
        namespace, name = d.get("metadata", "namespace"), d.get("metadata", "name")
        hpa = hpas.get((namespace, name))
        floor = hpa.get("spec", "minReplicas", default=1) if hpa else d.get("spec", "replicas", default=1)
        labels = d.get("spec", "template", "metadata", "labels") or {}
        covered = any(p.get("metadata", "namespace") == namespace and
                      (p.get("spec", "selector", "matchLabels") or {}).items() <= labels.items() and
                      p.get("spec", "selector", "matchLabels") for p in pdbs)
        is_canary = labels.get("mlinfra.dev/track") == "canary"
        if floor < 2 and not is_canary:
            yield d, f"runs {floor} replica in prod: a node upgrade takes it down"
        if not covered:
            yield d, "no PodDisruptionBudget covers it"


# Prod safety and labels --------------------------------------------------------------------------

def _prod_protection(resources, ctx):
    if not ctx.prod:
        return
    for r in resources:
        stateful = (r.type == BUCKET and r.labels.get("purpose") in STATEFUL_PURPOSES) or \
            r.type in (CLUSTER, REPOSITORY)
        if stateful:
            if not r.protect:
                yield r, "a stateful resource is not protected in prod"
            if r.type == BUCKET and r.retain_on_delete is False:
                yield r, "a prod bucket is not retained when removed from the stack"
        if r.type in (CLUSTER, RUN_SERVICE, "gcp:cloudrunv2/job:Job") and r.get("deletionProtection") is not True:
            yield r, "deletion protection is off in prod"


def _labels(resources, ctx):
    for r in resources:
        if r.type not in ctx.labelled_types:
            continue
        missing = [k for k in DEFAULT_LABELS if k not in r.labels]
        if missing:
            yield r, f"labels missing: {', '.join(missing)}"


RULES: tuple[Rule, ...] = (
    Rule("MLI-GKE-001", "GKE nodes are private", "CIS GKE 5.6.5", _private_nodes, (CLUSTER,)),
    Rule("MLI-GKE-002", "Workload Identity is enabled", "CIS GKE 5.2.2", _workload_identity, (CLUSTER,)),
    Rule("MLI-GKE-003", "Every node pool uses the GKE metadata server", "CIS GKE 5.4.2", _metadata_server, (CLUSTER, NODE_POOL)),
    Rule("MLI-GKE-004", "Shielded nodes with secure boot and integrity monitoring", "CIS GKE 5.5.5, 5.5.6, 5.5.7",
         _shielded_nodes, (CLUSTER, NODE_POOL)),
    Rule("MLI-GKE-005", "The cluster follows a release channel", "CIS GKE 5.5.4", _release_channel, (CLUSTER,)),
    Rule("MLI-GKE-006", "Legacy ABAC is disabled", "CIS GKE 5.8.4", _legacy_abac, (CLUSTER,)),
    Rule("MLI-GKE-007", "Client certificates are disabled", "CIS GKE 5.8.2", _client_certificates, (CLUSTER,)),
    Rule("MLI-GKE-008", "Node auto-repair (GKE requires it off on flex-start pools) and auto-upgrade are on", "CIS GKE 5.5.2, 5.5.3", _auto_repair_upgrade, (NODE_POOL,)),
    Rule("MLI-GKE-009", "Nodes run as a dedicated service account", "CIS GKE 5.2.1", _node_service_account, (NODE_POOL,)),
    Rule("MLI-GCS-001", "Buckets use uniform bucket-level access", "CIS GCP 5.2", _uniform_access, (BUCKET,)),
    Rule("MLI-GCS-002", "Buckets enforce public access prevention and grant nothing public", "CIS GCP 5.1",
         _public_access_prevention, (BUCKET,)),
    Rule("MLI-GCS-003", "The model-artifact bucket is versioned", "mlinfra", _versioned_artifacts, (BUCKET,)),
    Rule("MLI-IAM-001", "No basic roles (owner, editor, viewer) are granted", "mlinfra", _basic_roles),
    Rule("MLI-RUN-001", "No allUsers on Cloud Run or functions unless the stack says public: true", "mlinfra",
         _public_endpoints, (RUN_SERVICE, FUNCTION, "gcp:cloudrunv2/jobIamMember:JobIamMember")),
    Rule("MLI-K8S-001", "Containers run as non-root", "PSS restricted: Running as Non-root", _non_root, WORKLOAD_KINDS),
    Rule("MLI-K8S-002", "No privilege escalation", "PSS restricted: Privilege Escalation", _privilege_escalation, WORKLOAD_KINDS),
    Rule("MLI-K8S-003", "All capabilities dropped", "PSS restricted: Capabilities", _capabilities, WORKLOAD_KINDS),
    Rule("MLI-K8S-004", "Seccomp profile RuntimeDefault", "PSS restricted: Seccomp", _seccomp, WORKLOAD_KINDS),
    Rule("MLI-K8S-005", "CPU and memory requests and limits on every container", "mlinfra", _requests_limits, WORKLOAD_KINDS),
    Rule("MLI-K8S-006", "Readiness and liveness probes on every server", "mlinfra", _probes, ("Deployment", "StatefulSet", "DaemonSet")),
    Rule("MLI-K8S-007", "Prod servers run at least two replicas under a PodDisruptionBudget", "mlinfra",
         _prod_availability, ("Deployment",)),
    Rule("MLI-PRD-001", "Stateful resources are protected and deletion-protected in prod", "mlinfra", _prod_protection),
    Rule("MLI-LBL-001", "Every labelled resource carries the default labels", "mlinfra", _labels),
)
RULES += tuple(Rule(*entry) for entry in (*dataflow.DATAFLOW_RULES, *gateway.GATEWAY_RULES, *AWS_RULES))
RULE_IDS = frozenset(rule.id for rule in RULES)
