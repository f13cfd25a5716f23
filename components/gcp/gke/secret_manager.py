"""Secrets on GKE workloads, from Secret Manager, without their values passing through Pulumi:
GKE's Secret Manager add-on (its Secrets Store CSI driver, `secrets-store-gke.csi.k8s.io`)
mounts each secret the workload names as an in-memory file, read with the pod's own Workload
Identity; the workload's Google account may read exactly those secrets. The container starts
through a shell that exports each file as the variable it is named after
(`components/kubernetes/pods.with_secret_files`), so a `secrets: [{env, secret}]` entry means
on GKE what it means on Cloud Run.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.gcp.iam.secret_grants import read_secrets
from components.kubernetes.pods import SECRETS_VOLUME
from components.serving.model_serving_spec import SecretRef

DRIVER = "secrets-store-gke.csi.k8s.io"
API_VERSION = "secrets-store.csi.x-k8s.io/v1"


def provider_class_spec(project: str, secrets: Sequence[SecretRef]) -> dict[str, Any]:
    """The SecretProviderClass spec: one file per secret, named after its variable."""
    listed = "".join(f'- resourceName: "projects/{project}/secrets/{s.secret}/versions/{s.version}"\n'
                     f'  path: "{s.env}"\n' for s in secrets)
    return {"provider": "gke", "parameters": {"secrets": listed}}


def volume(class_name: str) -> dict[str, Any]:
    return {"name": SECRETS_VOLUME, "csi": {"driver": DRIVER, "readOnly": True,
                                            "volumeAttributes": {"secretProviderClass": class_name}}}


def secret_access(parent: Any, name: str, *, project: str, namespace: pulumi.Input[str], class_name: str,
                  secrets: Sequence[SecretRef], member: pulumi.Input[str], provider: pulumi.ProviderResource,
                  labels: dict[str, str]) -> tuple[Optional[dict[str, Any]], list[pulumi.Resource]]:
    """(the pod volume, the resources the workload waits for): a read grant on each secret for the
    workload's account and the SecretProviderClass; (None, []) without secrets."""
    if not secrets:
        return None, []
    grants: list[pulumi.Resource] = list(read_secrets(parent, name, project=project,
                                                      secret_ids=[s.secret for s in secrets], member=member))
    grants.append(k8s.apiextensions.CustomResource(
        f"{name}-secrets", api_version=API_VERSION, kind="SecretProviderClass",
        metadata={"name": class_name, "namespace": namespace, "labels": labels},
        spec=provider_class_spec(project, secrets), opts=parent.child(provider=provider)))
    return volume(class_name), grants
