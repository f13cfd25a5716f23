"""Mounting a bucket path into a pod on GKE: the Cloud Storage FUSE CSI driver (plain data)."""

from __future__ import annotations

from typing import Any

GCSFUSE_DRIVER = "gcsfuse.csi.storage.gke.io"
GCSFUSE_ANNOTATION = "gke-gcsfuse/volumes"


def gcs_fuse_volume(bucket_name: Any, only_dir: str, read_only: bool = True,
                    name: str = "model") -> tuple[dict[str, Any], dict[str, str]]:
    """(volume, pod annotations) mounting `gs://<bucket>/<only_dir>` with the Cloud Storage FUSE
    CSI driver as an ephemeral inline volume. The annotation makes GKE inject the gcsfuse
    sidecar; the pod's Kubernetes service account must be able to read the bucket (Workload
    Identity). `bucket_name` may be a Pulumi Output."""
    volume = {
        "name": name,
        "csi": {
            "driver": GCSFUSE_DRIVER,
            "readOnly": read_only,
            "volumeAttributes": {"bucketName": bucket_name, "mountOptions": f"only-dir={only_dir},implicit-dirs"},
        },
    }
    # "0" lifts the sidecar's default CPU, memory and scratch limits, which throttle loading
    # multi-gigabyte model weights.
    return volume, {GCSFUSE_ANNOTATION: "true", "gke-gcsfuse/cpu-limit": "0", "gke-gcsfuse/memory-limit": "0",
                    "gke-gcsfuse/ephemeral-storage-limit": "0"}
