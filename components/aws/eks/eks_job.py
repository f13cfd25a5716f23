"""A batch job on EKS (training, batch scoring): a Job, or a CronJob with `schedule`.

The pod spec comes from components/kubernetes/batch.py (spot placement by the EKS capacity
label; a reclaim is not counted against backoffLimit); this component adds the AWS side: an
IAM role through EKS Pod Identity that reads the buckets it is given and writes the others,
and the Kubernetes service account it is bound to. The namespace is created by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.aws.eks.eks_job_spec import EksJobSpec
from components.aws.eks.node_labels import EKS_NODES
from components.aws.eks.pod_identity_role import PodIdentityRole, PodIdentityRoleArgs, kms_statements
from components.aws.storage.s3_bucket import S3Bucket
from components.core.component import Component
from components.core.spec import Context, ensure_valid
from components.kubernetes.batch import batch_object, job_labels, job_spec
from components.kubernetes.pods import NodeScheme

TYPE = "mlinfra:aws:EksJob"


@dataclass(frozen=True, kw_only=True)
class EksJobArgs:
    spec: EksJobSpec
    """The job as the stack file says it."""
    namespace: str
    """The namespace it runs in; it must exist (the caller passes it in `depends_on`)."""
    provider: pulumi.ProviderResource
    """The cluster's Kubernetes provider."""
    cluster_name: pulumi.Input[str]
    """The cluster (its Pod Identity association names it)."""
    region: str
    """The stack's region."""
    kms_key_arn: pulumi.Input[str]
    """The buckets' KMS key."""
    read_buckets: Sequence[S3Bucket] = ()
    """Buckets the job may read. Defaults to none."""
    write_buckets: Sequence[S3Bucket] = ()
    """Buckets the job may read, write and delete in. Defaults to none."""
    nodes: NodeScheme = EKS_NODES
    """How the cluster labels its spot and GPU nodes (Karpenter's differ). Defaults to the managed node groups'."""
    read_prefix: str = ""
    """Limits the reads of `read_buckets` to keys under it. Defaults to the whole bucket."""
    statements: Sequence[pulumi.Input[list]] = ()
    """More IAM statements of the job's role (lists of them). Defaults to none."""


class EksJob(Component):
    """Outputs: job_name, kind (Job or CronJob), role_arn."""

    def __init__(self, name: str, args: EksJobArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        spec = args.spec
        ensure_valid(f"EksJob {name}", spec, Context(region=args.region))
        parts = [b.read_statements(args.read_prefix) for b in args.read_buckets] + [b.write_statements() for b in args.write_buckets]
        parts.append(kms_statements(args.kms_key_arn, args.region, write=bool(args.write_buckets)))
        parts += list(args.statements)
        statements = pulumi.Output.all(*parts).apply(lambda lists: [s for group in lists for s in group])
        self.identity = PodIdentityRole(f"{name}-role", PodIdentityRoleArgs(
            cluster_name=args.cluster_name, namespace=args.namespace, service_account=spec.name, statements=statements),
            opts=self.child())

        metadata = {"name": spec.name, "namespace": args.namespace, "labels": job_labels(spec)}
        self.ksa = k8s.core.v1.ServiceAccount(f"{name}-ksa", metadata=metadata, automount_service_account_token=False,
                                              opts=self.child(provider=args.provider))
        body = job_spec(spec, spec.name, args.nodes)
        job_opts = self.child(provider=args.provider, depends_on=[self.identity, self.ksa])
        self.kind, job_metadata, job_body = batch_object(spec, metadata, body)
        kind = k8s.batch.v1.CronJob if self.kind == "CronJob" else k8s.batch.v1.Job
        self.job = kind(name, metadata=job_metadata, spec=job_body, opts=job_opts)
        self.job_name = spec.name
        self.role_arn = self.identity.role_arn
        self.register_outputs({"job_name": self.job_name, "kind": self.kind, "role_arn": self.role_arn})
