"""A model server on EKS as the stack file says it (`platform: eks`): the Kubernetes serving
spec, placed on the stack's EKS cluster, with its model in the stack's S3 artifact bucket."""

from __future__ import annotations

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

    def issues(self, ctx: Context) -> list[Issue]:
        issues = super().issues(ctx)
        if self.scaling.metric != "cpu":
            issues.append(Issue(("scaling", "metric"), "EKS servers scale on cpu (the stack installs no custom-metrics "
                                "adapter on EKS yet)", self.scaling.metric, allowed="cpu", fix="set metric: cpu"))
        if self.protocol == "grpc":
            # gRPC through the AWS Load Balancer Controller's ALB needs an HTTPS listener (a
            # certificate), `backend-protocol-version: GRPC` target groups and gRPC health-check
            # codes; none of that is built yet, and an HTTP/1.1 ALB would break every call.
            issues.append(Issue(("protocol",), "gRPC serving is not built on EKS yet (the ALB in front of the server "
                                "has an HTTP/1.1 listener and target group; gRPC needs an HTTPS listener with a "
                                "certificate and a gRPC target group)", self.protocol, allowed="http",
                                fix="set protocol: http, or run the server on platform: gke or cloudrun"))
        if self.slo is not None:
            issues.append(Issue(("slo",), "objectives and burn-rate alerts are built on Google Cloud only so far",
                                fix="remove slo (watch the ALB's CloudWatch metrics meanwhile)"))
        return issues
