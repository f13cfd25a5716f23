"""A model server on EKS as the stack file says it (`platform: eks`): the Kubernetes serving
spec, placed on the stack's EKS cluster, with its model in the stack's S3 artifact bucket."""

from __future__ import annotations

import hashlib
from typing import Literal, Optional

from pydantic import Field

from components.core.issues import Issue
from components.core.spec import Context
from components.kubernetes.serving import KubernetesServingSpec
from components.serving.model_serving_spec import ModelSpec


class S3ModelSpec(ModelSpec):
    """A model in S3: one subdirectory per version."""

    uri: str = Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$")
    """s3://<artifact bucket>/<path>: the directory holding one subdirectory per version."""

    def issues(self, ctx: Context) -> list[Issue]:
        return []


class EksServiceSpec(KubernetesServingSpec):
    """One model server on EKS."""

    platform: Literal["eks"] = "eks"
    """Where it runs: eks (the kubernetes pattern's default on AWS)."""
    model: Optional[S3ModelSpec] = None
    """The model to load from the artifact bucket (model-loading): synced from S3 into the pod at start."""



def rule_priority(name: str) -> int:
    """A server's listener-rule priority on the stack's ALB (unique per listener, 1 to 50000),
    from its name, so adding, removing or reordering servers never moves another's rule."""
    return 1 + int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 50000
