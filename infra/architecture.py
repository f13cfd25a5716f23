"""The architecture of a planned stack as a graph, derived from the recording alone (resource
types and their inputs), and drawn as a Mermaid flowchart.

Nodes: model servers (Cloud Run services, Kubernetes model servers), jobs, trigger functions
and their schedules, buckets, Pub/Sub topics, the GKE cluster and its node pools. Edges: a
trigger listens to its topic, a bucket notifies a topic, a schedule invokes a function, a
workload mounts a bucket or its service account holds a role on one, a Kubernetes workload
runs on the cluster whose provider created it. The same recording always gives the same text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

from infra.engine import Recording, Registration

# Drawing order of node kinds, and each kind's Mermaid shape (open, close).
SHAPES = {
    "service": ('["', '"]'),
    "job": ('[/"', '"/]'),
    "function": ('{{"', '"}}'),
    "schedule": ('(["', '"])'),
    "topic": ('>"', '"]'),
    "bucket": ('[("', '")]'),
    "cluster": ('[["', '"]]'),
    "pool": ('("', '")'),
}
# What a bucket role lets a workload do, in the words of an arrow.
ROLE_VERBS = {"roles/storage.objectViewer": "reads", "roles/storage.objectCreator": "writes",
              "roles/storage.objectUser": "reads, writes", "roles/storage.objectAdmin": "reads, writes"}
K8S_WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:CronJob", "kubernetes:batch/v1:Job")


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    label: str
    group: Optional[str] = None
    """The id of the cluster whose box the node is drawn in."""


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str


@dataclass
class Graph:
    nodes: dict[str, Node]
    edges: set[Edge]

    def add(self, node: Node) -> str:
        self.nodes.setdefault(node.id, node)
        return node.id

    def link(self, source: Optional[str], target: Optional[str], label: str) -> None:
        if source in self.nodes and target in self.nodes and source != target:
            self.edges.add(Edge(source, target, label))


def node_id(kind: str, name: str) -> str:
    # Mermaid ids: letters, digits and underscores; the kind prefix keeps `end` and friends out.
    return f"{kind}_{re.sub(r'[^A-Za-z0-9]+', '_', name).strip('_')}"


def _name(r: Registration) -> str:
    return str(r.inputs.get("name") or r.outputs.get("name") or r.name)


def _last(path: Any) -> str:
    return str(path or "").rsplit("/", 1)[-1]


def _pod_spec(r: Registration) -> dict[str, Any]:
    spec = r.inputs.get("spec") or {}
    if r.type.endswith(":CronJob"):
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("spec")) or {}


def build(recording: Recording) -> Graph:
    graph = Graph({}, set())
    regs = recording.tree_order()
    buckets = {_name(r): graph.add(Node(node_id("bucket", _name(r)), "bucket", f"bucket {_name(r)}"))
               for r in regs if r.type == "gcp:storage/bucket:Bucket"}
    topics = {_name(r): graph.add(Node(node_id("topic", _name(r)), "topic", f"topic {_name(r)}"))
              for r in regs if r.type == "gcp:pubsub/topic:Topic"}
    # service account email -> [(bucket, verb)], from the bucket IAM grants
    grants: dict[str, list[tuple[str, str]]] = {}
    for r in regs:
        if r.type == "gcp:storage/bucketIAMMember:BucketIAMMember":
            member, role = str(r.inputs.get("member", "")), str(r.inputs.get("role", ""))
            if member.startswith("serviceAccount:"):
                verb = ROLE_VERBS.get(role, role.rsplit("/", 1)[-1])
                grants.setdefault(member.split(":", 1)[1], []).append((str(r.inputs.get("bucket")), verb))

    def uses(workload: str, account: Optional[str], mounted: list[str]) -> None:
        for bucket in mounted:
            graph.link(workload, buckets.get(bucket), "mounts")
        for bucket, verb in grants.get(account or "", []):
            if bucket not in mounted:
                graph.link(workload, buckets.get(bucket), verb)

    clusters: dict[str, str] = {}
    for r in regs:
        if r.type == "gcp:container/cluster:Cluster":
            where = r.inputs.get("location") or ""
            clusters[r.parent or ""] = graph.add(Node(node_id("cluster", _name(r)), "cluster",
                                                      f"GKE cluster {_name(r)}" + (f" ({where})" if where else "")))
    cluster_by_name = {_name(r): node_id("cluster", _name(r)) for r in regs if r.type == "gcp:container/cluster:Cluster"}
    for r in regs:
        if r.type == "gcp:container/nodePool:NodePool":
            cluster = cluster_by_name.get(_last(r.inputs.get("cluster")))
            node = r.inputs.get("nodeConfig") or {}
            gpus = ", ".join(f"{g.get('count')}x {g.get('type')}" for g in node.get("guestAccelerators") or [])
            detail = ", ".join(p for p in (node.get("machineType"), gpus, "spot" if node.get("spot") else "") if p)
            graph.add(Node(node_id("pool", r.name), "pool", f"node pool {_name(r) if 'name' in r.inputs else r.name}"
                           + (f": {detail}" if detail else ""), cluster))

    functions: dict[str, str] = {}
    run_jobs: dict[str, str] = {}  # the tail of a Cloud Run job's `jobs.run` URL -> its node
    for r in regs:
        if r.type in ("gcp:cloudrunv2/service:Service", "gcp:cloudrunv2/job:Job"):
            template = r.inputs.get("template") or {}
            template = template.get("template", template) if r.type.endswith(":Job") else template
            kind = "job" if r.type.endswith(":Job") else "service"
            gpu = (template.get("nodeSelector") or {}).get("accelerator")
            label = f"Cloud Run {kind} {_name(r)}" + (f": {gpu}" if gpu else "")
            workload = graph.add(Node(node_id(kind, _name(r)), kind, label))
            if kind == "job":
                run_jobs[f"/jobs/{_name(r)}:run"] = workload
            mounted = [str((v.get("gcs") or {}).get("bucket")) for v in template.get("volumes") or [] if v.get("gcs")]
            uses(workload, template.get("serviceAccount"), mounted)
        elif r.type == "gcp:cloudfunctionsv2/function:Function":
            fn = graph.add(Node(node_id("function", _name(r)), "function", f"function {_name(r)}"))
            functions[str(r.outputs.get("url") or "")] = fn
            graph.link(fn, topics.get(_last((r.inputs.get("eventTrigger") or {}).get("pubsubTopic"))), "listens to")
            uses(fn, (r.inputs.get("serviceConfig") or {}).get("serviceAccountEmail"), [])
            source = ((r.inputs.get("buildConfig") or {}).get("source") or {}).get("storageSource") or {}
            graph.link(fn, buckets.get(str(source.get("bucket"))), "built from")
    for r in regs:
        if r.type == "gcp:storage/notification:Notification":
            graph.link(buckets.get(str(r.inputs.get("bucket"))), topics.get(_last(r.inputs.get("topic"))), "notifies")
        elif r.type == "gcp:cloudscheduler/job:Job":
            target = (r.inputs.get("httpTarget") or {}).get("uri")
            runs = next((node for tail, node in run_jobs.items() if str(target or "").endswith(tail)), None)
            if target in functions or runs:
                cron = r.inputs.get("schedule", "")
                schedule = graph.add(Node(node_id("schedule", f"{r.name}"), "schedule", f"schedule {cron}"))
                graph.link(schedule, functions.get(target) or runs, "runs" if runs else "invokes")

    _kubernetes(regs, graph, clusters, uses)
    return graph


def _kubernetes(regs: list[Registration], graph: Graph, clusters: dict[str, str], uses) -> None:
    """Model servers (their Deployments, one node per server) and jobs on their cluster."""
    providers = {r.urn: r.parent or "" for r in regs if r.type == "pulumi:providers:kubernetes"}
    accounts = {}
    for r in regs:
        if r.type == "kubernetes:core/v1:ServiceAccount":
            meta = r.inputs.get("metadata") or {}
            accounts[(meta.get("namespace"), meta.get("name"))] = (meta.get("annotations") or {}).get(
                "iam.gke.io/gcp-service-account")
    tracks: dict[str, list[str]] = {}
    for r in regs:
        if r.type not in K8S_WORKLOADS:
            continue
        meta = r.inputs.get("metadata") or {}
        labels = meta.get("labels") or {}
        role, app = labels.get("app.kubernetes.io/component"), labels.get("app.kubernetes.io/name")
        if role == "model-server" and r.type.endswith(":Deployment"):
            workload = node_id("server", app)
            tracks.setdefault(workload, []).append(labels.get("mlinfra.dev/track", meta.get("name", "")))
            graph.add(Node(workload, "service", f"model server {app}"))
        elif role == "job" or r.type.startswith("kubernetes:batch/"):
            kind = "cron job" if r.type.endswith(":CronJob") else "job"
            workload = graph.add(Node(node_id("job", meta.get("name") or r.name), "job",
                                      f"{kind} {meta.get('name') or r.name}"))
        else:
            continue  # the platform's own deployments (metrics adapter): not part of the architecture
        pod = _pod_spec(r)
        mounted = [str(((v.get("csi") or {}).get("volumeAttributes") or {}).get("bucketName"))
                   for v in pod.get("volumes") or [] if (v.get("csi") or {}).get("driver") == "gcsfuse.csi.storage.gke.io"]
        uses(workload, accounts.get((meta.get("namespace"), pod.get("serviceAccountName"))), mounted)
        provider = (r.provider or "").rsplit("::", 1)[0]
        cluster = clusters.get(providers.get(provider, "\0")) or (next(iter(clusters.values())) if len(clusters) == 1 else None)
        graph.link(workload, cluster, "runs on")
    for workload, names in tracks.items():
        node = graph.nodes[workload]
        graph.nodes[workload] = Node(node.id, node.kind, f"{node.label} ({', '.join(sorted(names))})", node.group)


def _label(text: str) -> str:
    # Inside a quoted Mermaid label only the quote itself needs an entity.
    return text.replace('"', "#quot;")


def mermaid(graph: Graph) -> str:
    """The graph as a Mermaid flowchart, left to right. A cluster is a box (subgraph) holding its
    node pools; arrows to the cluster end at the box."""
    order = list(SHAPES)
    nodes = sorted(graph.nodes.values(), key=lambda n: (order.index(n.kind), n.id))
    lines = ["flowchart LR"]

    def draw(n: Node, indent: str) -> None:
        open_, close = SHAPES[n.kind]
        lines.append(f"{indent}{n.id}{open_}{_label(n.label)}{close}")

    for n in nodes:
        if n.group is None and n.kind != "cluster":
            draw(n, "  ")
    for cluster in (n for n in nodes if n.kind == "cluster"):
        lines.append(f"  subgraph {cluster.id}[\"{_label(cluster.label)}\"]")
        for n in nodes:
            if n.group == cluster.id:
                draw(n, "    ")
        lines.append("  end")
    for e in sorted(graph.edges, key=lambda e: (order.index(graph.nodes[e.source].kind), e.source, e.target, e.label)):
        lines.append(f"  {e.source} -->|{_label(e.label)}| {e.target}")
    return "\n".join(lines)
