"""A job on a queued-provisioning pool (Dynamic Workload Scheduler), as plain Kubernetes API dicts:
the PodTemplate and the ProvisioningRequest that ask GKE for all of the job's nodes at once, and
the Job's pod template that consumes them. No Pulumi.

How it runs (cloud.google.com/kubernetes-engine/docs/how-to/provisioningrequest, "without
Kueue"): the ProvisioningRequest (`autoscaling.x-k8s.io/v1`, class `queued-provisioning.gke.io`)
names a PodTemplate and a pod count; GKE queues it and, when capacity for every pod is free,
creates the nodes in the pool the template selects (`cloud.google.com/gke-nodepool`). The Job
is created at once, not suspended: its pods carry the two annotations that tie them to the
request, so the cluster autoscaler does not scale up for them (they stay Pending while the
request waits) and they bind to its nodes when it is provisioned (GKE books them for about ten
minutes). The nodes live at most `maxRunDurationSeconds`. A request's spec is immutable and it
is used once: its name is a fingerprint of the job's pods and the pool, so any change to the job
makes a new request (and a new Job) and a finished job is not run again by a new Job alone.

Kueue (which creates the requests itself, per Job, and unsuspends the Job when they are
provisioned) is not used: it is a controller to install and operate on the cluster.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from pydantic import Field

from components.core.naming import DNS_LABEL
from components.core.spec import Spec
from components.gcp.gke.node_labels import NODE_POOL_LABEL, QUEUED_TAINT
from components.kubernetes.pods import GPU_RESOURCE

API_VERSION = "autoscaling.x-k8s.io/v1"
CLASS = "queued-provisioning.gke.io"
# The pod annotations of the v1 API (autoscaler's ProvisioningRequestPodAnnotationKey and
# ProvisioningClassPodAnnotationKey); the cluster-autoscaler.kubernetes.io/ pair is deprecated.
CONSUME_ANNOTATION = "autoscaling.x-k8s.io/consume-provisioning-request"
CLASS_ANNOTATION = "autoscaling.x-k8s.io/provisioning-class-name"
MAX_RUN_HOURS = 168  # GKE's default and ceiling for maxRunDurationSeconds: 7 days


class QueuedSpec(Spec):
    """Run the job on a queued-provisioning pool: all of its pods' nodes at once, when free."""

    pool: str = Field(pattern=DNS_LABEL, max_length=30)
    """The node pool (with `queuedProvisioning: true`) whose nodes the job waits for. Required."""
    max_run_hours: int = Field(MAX_RUN_HOURS, ge=1, le=MAX_RUN_HOURS)
    """Hours the nodes may run once provisioned; GKE removes them after that, finished or not
    (checkpoint). Defaults to 168 (7 days, the most)."""


def request_name(job: str, pod_template: dict[str, Any], pool: str, count: int, max_run_hours: int) -> str:
    """`<job>-<fingerprint>`: one request per version of the job's pods, pool, count and duration."""
    payload = json.dumps([pod_template, pool, count, max_run_hours], sort_keys=True, default=str)
    return f"{job}-{hashlib.sha256(payload.encode()).hexdigest()[:8]}"


def queued_pod_template(template: dict[str, Any], pool: Any, request: Any) -> dict[str, Any]:
    """The Job's pod template placed on the queued pool: its nodes only (by the GKE pool's name),
    tolerating the GPU and queued taints, and tied to the request by its annotations. `pool` and
    `request` may be Pulumi outputs."""
    out = copy.deepcopy({k: v for k, v in template.items() if k != "spec"})
    spec = {k: v for k, v in template["spec"].items() if k not in ("nodeSelector", "tolerations", "affinity")}
    out["metadata"] = {**out.get("metadata", {}), "annotations": {CONSUME_ANNOTATION: request, CLASS_ANNOTATION: CLASS}}
    key, value, effect = QUEUED_TAINT
    out["spec"] = {**spec, "nodeSelector": {NODE_POOL_LABEL: pool}, "tolerations": [
        {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"},
        {"key": key, "operator": "Equal", "value": value, "effect": effect}]}
    return out


# A queued job's nodes are its request's: a pod that loses its node (the hours ran out, or a
# flex-start node failed: they are not repaired) would be replaced by one that waits for nodes
# no request will bring. The Job fails at once instead; change the job to run it again.
POD_FAILURE_POLICY = {"rules": [{"action": "FailJob",
                                 "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]}


def pod_template_object(name: Any, namespace: str, labels: dict[str, str], template: dict[str, Any]) -> dict[str, Any]:
    """The v1 PodTemplate the request names: the Job's pods as the autoscaler should fit them
    (without the request's own annotations)."""
    metadata = {k: v for k, v in template.get("metadata", {}).items() if k != "annotations"}
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels},
            "template": {**template, "metadata": metadata}}


def provisioning_request_spec(template_name: Any, count: int, max_run_hours: int) -> dict[str, Any]:
    """The ProvisioningRequest's spec: `count` pods of the template, for at most `max_run_hours`."""
    return {"provisioningClassName": CLASS,
            "parameters": {"maxRunDurationSeconds": str(max_run_hours * 3600)},
            "podSets": [{"count": count, "podTemplateRef": {"name": template_name}}]}
