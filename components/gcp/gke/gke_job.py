"""A batch job on GKE (training, batch scoring): a Job, or a CronJob with `schedule`.

The pod spec comes from components/kubernetes/batch.py; this component adds the Google side.

Each job has its own Google service account (reading and writing only the buckets it is
given) bound to its Kubernetes service account by Workload Identity, and runs with the same
restricted security and spot placement as the model servers. The namespace is created by the
caller and shared by all jobs.

Spot: a preempted pod is not counted against `backoffLimit` (the pod failure policy ignores
disruptions), so a training job on spot retries until it finishes; it should checkpoint.

A one-off Job runs when it is created, and `pulumi up` does not wait for it to finish. After
`ttlSecondsAfterFinished` Kubernetes deletes it; a `pulumi refresh` then drops it from the
state and the next `pulumi up` runs it again. Remove a finished one-off job from the stack,
or give it a `schedule`.

Queued (`queued: {pool}`): the Job's pods wait for a ProvisioningRequest for all of them, on
the queued pool (components/gcp/gke/queued.py); the request and its PodTemplate are created
with the Job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.core.component import Component
from components.core.issues import Issue, raise_if_any
from components.core.spec import Context, ensure_valid
from components.gcp.gke.gke_job_spec import GkeJobSpec
from components.gcp.gke import queued
from components.gcp.gke.node_labels import GKE_NODES
from components.gcp.gke.secret_manager import secret_access
from components.gcp.iam.service_account import ServiceAccount, ServiceAccountArgs
from components.gcp.storage.bucket import Bucket
from components.serving import cache_wiring
from components.serving.cache_wiring import CacheConnection
from components.kubernetes.batch import batch_object, job_labels, job_spec

TYPE = "mlinfra:gcp:GkeJob"
FORMER_TYPES = ("mlinfra:k8s:Job",)


@dataclass(frozen=True, kw_only=True)
class GkeJobArgs:
    spec: GkeJobSpec
    """The job as the stack file says it."""
    project: str
    """The project of its Google service account."""
    namespace: str
    """The namespace it runs in; it must exist (the caller creates it and passes it in `depends_on`)."""
    provider: pulumi.ProviderResource
    """The cluster's Kubernetes provider."""
    workload_pool: pulumi.Input[str]
    """The cluster's Workload Identity pool."""
    read_buckets: Sequence[Bucket] = ()
    """Buckets the job may read. Defaults to none."""
    write_buckets: Sequence[Bucket] = ()
    """Buckets the job may read, write and delete in. Defaults to none."""
    on_events: bool = False
    """A trigger starts its runs (`run: {job}`): a job without a schedule then creates no Job at
    `pulumi up`, only what a run needs (accounts, grants). Defaults to false."""
    cache: Optional[CacheConnection] = None
    """The stack's cache, for a job with `cache: true` (a Secret in its namespace). Defaults to none."""
    queued_pool: Optional[pulumi.Input[str]] = None
    """For a job with `queued`: the GKE name of its queued pool (its nodes' gke-nodepool label). Required then."""


class GkeJob(Component):
    """Outputs: job_name, kind (Job, CronJob, or none for a job only events start), account_email, ksa_name."""

    def __init__(self, name: str, args: GkeJobArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts, former_types=FORMER_TYPES)
        spec = args.spec
        ensure_valid(f"GkeJob {name}", spec, Context(project=args.project))
        if spec.queued is not None and args.on_events:
            raise_if_any(f"GkeJob {name}", [Issue(("queued",), "a trigger's runs cannot create the ProvisioningRequest "
                                                  "each run needs", fix="remove queued, or the trigger's run")])
        ksa_name = spec.name

        self.account = ServiceAccount(f"{name}-sa", ServiceAccountArgs(
            display_name=f"mlinfra job {spec.name}", project=args.project), opts=self.child())
        grants: list[pulumi.Resource] = [bucket.grant_read(self.account) for bucket in args.read_buckets]
        grants += [bucket.grant_read_write(self.account) for bucket in args.write_buckets]
        grants.append(gcp.serviceaccount.IAMMember(
            f"{name}-wi", service_account_id=self.account.resource_name, role="roles/iam.workloadIdentityUser",
            member=pulumi.Output.concat("serviceAccount:", args.workload_pool, f"[{args.namespace}/{ksa_name}]"),
            opts=self.child()))

        k8s_opts = self.child(provider=args.provider)
        metadata = {"name": spec.name, "namespace": args.namespace, "labels": job_labels(spec)}
        self.ksa = k8s.core.v1.ServiceAccount(f"{name}-ksa", metadata={
            **metadata, "annotations": {"iam.gke.io/gcp-service-account": self.account.email}},
            automount_service_account_token=False, opts=k8s_opts)

        self.cache_secret = None
        cache_secret = None
        if spec.cache:
            if args.cache is None:
                raise_if_any(f"GkeJob {name}", [Issue(("cache",), "needs the stack's cache",
                                                      fix="pass cache (the MemorystoreInstance's outputs)")])
            # One ConfigMap per job (jobs share a namespace; each job's objects are its own).
            secret = f"{spec.name}-cache"
            self.cache_secret = k8s.core.v1.ConfigMap(f"{name}-cache", metadata={**metadata, "name": secret},
                                                      data=cache_wiring.config_data(args.cache), opts=k8s_opts)
            cache_secret = (secret, args.cache.tls)
            grants.append(self.cache_secret)
        # Secrets as in-memory files from Secret Manager (GKE's add-on), read as the job's account.
        secrets_volume, secret_grants = secret_access(
            self, name, project=args.project, namespace=args.namespace, class_name=f"{spec.name}-secrets",
            secrets=spec.secrets, member=self.account.member, provider=args.provider, labels=job_labels(spec))
        grants += secret_grants
        # What a triggered run is created from (by the trigger's workflow, named per run).
        self.run_manifest = {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata,
                             "spec": job_spec(spec, ksa_name, GKE_NODES, cache_secret=cache_secret,
                                              secrets_volume=secrets_volume)}
        self.grants = grants
        self.job = None
        self.pod_template = self.provisioning_request = None
        self.kind = "CronJob" if spec.schedule is not None else ("none" if args.on_events else "Job")
        if self.kind != "none":
            body = job_spec(spec, self.ksa.metadata.name, GKE_NODES, cache_secret=cache_secret,
                            secrets_volume=secrets_volume)
            if spec.queued is not None:
                body["template"] = self._queued(name, args, metadata, body["template"], grants)
                body["podFailurePolicy"] = queued.POD_FAILURE_POLICY
            job_opts = self.child(provider=args.provider, depends_on=grants)
            self.kind, job_metadata, job_body = batch_object(spec, metadata, body)
            kind = k8s.batch.v1.CronJob if self.kind == "CronJob" else k8s.batch.v1.Job
            self.job = kind(name, metadata=job_metadata, spec=job_body, opts=job_opts)

        self.job_name = spec.name
        self.ksa_name = ksa_name
        self.account_email = self.account.email
        self.register_outputs({"job_name": self.job_name, "kind": self.kind, "account_email": self.account_email})

    def _queued(self, name: str, args: GkeJobArgs, metadata: dict, template: dict, grants: list) -> dict:
        """Create the PodTemplate and the ProvisioningRequest of a queued job (appended to `grants`,
        which the Job waits for) and return the Job's pod template, tied to the request."""
        spec, q = args.spec, args.spec.queued
        if args.queued_pool is None:
            raise_if_any(f"GkeJob {name}", [Issue(("queued", "pool"), "needs the GKE name of the queued pool",
                                                  fix="pass queued_pool (the pool's pool_name)")])
        count = spec.parallelism or 1
        base = self.run_manifest["spec"]["template"]  # plain values: the fingerprint is known at preview
        pool = pulumi.Output.from_input(args.queued_pool)
        request = pool.apply(lambda p: queued.request_name(spec.name, base, p, count, q.max_run_hours))
        pod = queued.queued_pod_template(template, pool, request)
        opts = self.child(provider=args.provider, depends_on=list(grants))
        self.pod_template = k8s.core.v1.PodTemplate(f"{name}-pods", **queued.pod_template_object(
            request, metadata["namespace"], metadata["labels"], pod), opts=opts)
        self.provisioning_request = k8s.apiextensions.CustomResource(
            f"{name}-request", api_version=queued.API_VERSION, kind="ProvisioningRequest",
            metadata={"name": request, "namespace": metadata["namespace"], "labels": metadata["labels"]},
            spec=queued.provisioning_request_spec(self.pod_template.metadata.name, count, q.max_run_hours),
            opts=self.child(provider=args.provider, depends_on=[self.pod_template]))
        grants.append(self.provisioning_request)
        return pod
