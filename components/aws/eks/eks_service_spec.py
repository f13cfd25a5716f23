"""A model server on EKS as the stack file says it (`platform: eks`): the Kubernetes serving
spec, placed on the stack's EKS cluster, with its model in the stack's S3 artifact bucket."""

from __future__ import annotations

import hashlib
from typing import Literal, Optional

from pydantic import Field

from components.aws.monitoring.eks_request_logging_spec import ENV_NAMES as LOG_ENV_NAMES
from components.aws.monitoring.eks_request_logging_spec import STREAM_ENV, EksRequestLoggingSpec
from components.core.issues import Issue
from components.core.spec import Context
from components.kubernetes.serving import KubernetesServingSpec
from components.serving.gpu_alerts_spec import GpuAlertsSpec
from components.serving.model_serving_spec import ModelSpec
from components.serving.request_logging_spec import publisher_issues, variable_issues


CERTIFICATE_ARN = r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}$"


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
    certificate_arn: Optional[str] = Field(None, pattern=CERTIFICATE_ARN)
    """For `protocol: grpc`: the ACM certificate (by ARN, issued outside the stack) of the HTTPS
    listener on 443 the stack's internal ALB gets for this server: the ALB terminates TLS with it
    and speaks gRPC (HTTP/2) to the pods. Point the certificate's name at the ALB's DNS name;
    clients dial that name. Required with protocol grpc. Defaults to none."""
    gpu_alerts: Optional[GpuAlertsSpec] = None
    """Alarms on its GPUs (idle, memory near full), from Container Insights' GPU metrics (the
    CloudWatch Observability add-on, `mlinfra:alerts.gpuMetrics`). Needs `resources.gpu`.
    Defaults to none; in prod, a server with a GPU gets them at their defaults."""
    logging: Optional[EksRequestLoggingSpec] = None
    """Log requests and predictions to the stack's data lake, as on Google Cloud but through AWS:
    an Amazon Data Firehose stream the server puts each record to (named in REQUEST_LOG_STREAM;
    its Pod Identity role may put to that stream only), which writes GZIP'd JSON lines under
    `request-logs/<service>/` of the data lake, kept `retentionDays`; and optionally the scheduled
    drift job (a CronJob on the cluster) and its CloudWatch alarm. The server publishes each
    record itself, which the stock vllm and tfserving images cannot. Defaults to none."""

    def issues(self, ctx: Context) -> list[Issue]:
        issues = (variable_issues(self.logging, list(self.env), [], LOG_ENV_NAMES)
                  + publisher_issues(self.logging, self.runtime, self.image, destination=STREAM_ENV,
                                     store="the log's S3 prefix") + super().issues(ctx))
        if self.gpu_alerts is not None and self.resources.gpu is None:
            issues.append(Issue(("gpuAlerts",), "watches the server's GPUs, but it has none",
                                fix="add `resources.gpu`, or remove gpuAlerts"))
        if self.protocol == "grpc" and self.certificate_arn is None:
            # An ALB serves gRPC on HTTPS listeners only (AWS, "ALB supports gRPC", 2020-10-29).
            issues.append(Issue(("certificateArn",), "gRPC through the ALB needs an HTTPS listener (the ALB serves gRPC "
                                "on HTTPS only), and its certificate", fix="add `certificateArn: arn:aws:acm:<region>:"
                                "<account>:certificate/<id>` (an ACM certificate for the name clients dial), or set "
                                "protocol: http"))
        if self.protocol != "grpc" and self.certificate_arn is not None:
            issues.append(Issue(("certificateArn",), "is the HTTPS listener of a gRPC server; an http server is reached "
                                "on the ALB's HTTP listener", self.certificate_arn,
                                fix="remove certificateArn, or set protocol: grpc"))
        if self.protocol == "grpc" and self.slo is not None:
            # The alarms count the target groups' HTTP codes (HTTPCode_Target_5XX_Count); a failed
            # gRPC call is an HTTP 200 whose grpc-status trailer says why, which the ALB's metrics
            # do not count (as on GKE, components/gcp/gke/gke_service_spec.py).
            issues.append(Issue(("slo",), "objectives of a gRPC server on EKS are not built yet: its alarms would count "
                                "the ALB target groups' HTTP response codes, while gRPC errors travel in grpc-status "
                                "trailers on HTTP 200", fix="remove slo (in prod a gRPC server gets no default "
                                "objectives either)"))
        return issues


def rule_priority(name: str) -> int:
    """A server's listener-rule priority on the stack's ALB (unique per listener, 1 to 50000),
    from its name, so adding, removing or reordering servers never moves another's rule."""
    return 1 + int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 50000
