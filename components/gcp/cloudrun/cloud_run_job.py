"""A batch job on Cloud Run Jobs (`gcp.cloudrunv2.Job`): its own identity, optional L4 GPU,
direct VPC egress, and an optional Cloud Scheduler schedule.

The job's account reads the buckets it is given and writes the others (bucket-level grants)
and reads only its own secrets; it holds no project-wide role. A scheduled job gets a second
account for Cloud Scheduler, which may only run this one job (`roles/run.jobsExecutor` on the
job: run.jobs.run and run.executions.cancel, nothing else) and calls the Run Admin API's
`jobs.run` with an OAuth token of it. A job is not run by `pulumi up`: a schedule, a workflow
(which needs `roles/run.jobsExecutorWithOverrides` on `job_name` to pass overrides) or
`gcloud run jobs execute` starts each execution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.core.issues import Issue, raise_if_any
from components.core.spec import Context, ensure_valid
from components.core.units import cpu_string
from components.gcp.cloudrun.cloud_run_job_spec import CloudRunJobSpec
from components.gcp.cloudrun.cloud_run_service_spec import EGRESS
from components.gcp.iam.service_account import ServiceAccount, ServiceAccountArgs
from components.gcp.iam.secret_grants import read_secrets
from components.gcp.storage.bucket import Bucket
from components.serving.cache_wiring import CacheConnection, cache_env

TYPE = "mlinfra:gcp:CloudRunJob"
RUN_API = "https://run.googleapis.com/v2/projects/{project}/locations/{region}/jobs/{job}:run"
SCHEDULER_ROLE = "roles/run.jobsExecutor"
"""The narrowest predefined role with run.jobs.run (it adds only run.executions.cancel)."""


@dataclass(frozen=True, kw_only=True)
class CloudRunJobArgs:
    spec: CloudRunJobSpec
    """The job as the stack file says it (`platform: cloudrun`)."""
    job_name: str
    """The Cloud Run job's name (fixed: the job is replaced delete-first)."""
    region: str
    """Where the job and its schedule run."""
    project: str
    """The project it runs in."""
    network_id: Optional[pulumi.Input[str]] = None
    """The VPC its direct VPC egress uses. Defaults to none (no VPC egress, only public endpoints)."""
    subnetwork_id: Optional[pulumi.Input[str]] = None
    """The subnet its direct VPC egress uses; None with network_id."""
    egress: str = "privateRangesOnly"
    """Which outbound traffic goes through the VPC: privateRangesOnly or allTraffic. Defaults to privateRangesOnly."""
    read_buckets: Sequence[Bucket] = ()
    """Buckets the job may read. Defaults to none."""
    write_buckets: Sequence[Bucket] = ()
    """Buckets the job may read, write and delete in. Defaults to none."""
    deletion_protection: bool = False
    """Cloud Run deletion protection (prod). Defaults to false (the provider's own default is on)."""
    cache: Optional[CacheConnection] = None
    """The stack's cache, for a job with `cache: true` (reached through the VPC egress). Defaults to none."""
    account: Optional[ServiceAccount] = None
    """Run as this account (the caller grants its roles). Defaults to a new account of the job's own."""
    output_env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Environment variables whose values are other resources' outputs, beside the spec's `env`
    (no name in both). Defaults to none."""


class CloudRunJob(Component):
    """Outputs: job_name, job_id, service_account (the job's account email), scheduler_job."""

    def __init__(self, name: str, args: CloudRunJobArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        spec = args.spec
        ensure_valid(f"CloudRunJob {name}", spec, Context(project=args.project, region=args.region))
        if spec.cache and (args.cache is None or args.network_id is None):
            raise_if_any(f"CloudRunJob {name}", [Issue(("cache",), "needs the stack's cache and VPC egress to it",
                                                       fix="pass cache and network_id")])
        raise_if_any(f"CloudRunJob {name}", [Issue(("output_env", k), "is in the spec's env too", fix="set it once")
                                             for k in sorted(set(spec.env) & set(args.output_env))])

        self.account = args.account or ServiceAccount(f"{name}-sa", ServiceAccountArgs(
            display_name=f"mlinfra job {spec.name}", project=args.project), opts=self.child())
        grants: list[pulumi.Resource] = [bucket.grant_read(self.account) for bucket in args.read_buckets]
        grants += [bucket.grant_read_write(self.account) for bucket in args.write_buckets]
        grants += read_secrets(self, name, project=args.project, secret_ids=[s.secret for s in spec.secrets],
                               member=self.account.member)

        self.job = gcp.cloudrunv2.Job(
            name,
            name=args.job_name,
            location=args.region,
            project=args.project,
            deletion_protection=args.deletion_protection,
            labels={"mlinfra-job": spec.name},
            template=gcp.cloudrunv2.JobTemplateArgs(
                labels={"mlinfra-job": spec.name},
                task_count=spec.tasks,
                parallelism=spec.parallelism,
                template=self._task(spec, args)),
            # The name is fixed, so a replacement must delete the old job first.
            opts=self.child(depends_on=grants, delete_before_replace=True),
        )

        self.scheduler_account: Optional[ServiceAccount] = None
        self.scheduler_job: Optional[gcp.cloudscheduler.Job] = None
        if spec.schedule is not None:
            self._schedule(name, spec, args)

        self.job_name = args.job_name
        self.job_id = self.job.id
        self.service_account = self.account.email
        self.register_outputs({"job_name": self.job_name, "job_id": self.job_id, "service_account": self.service_account,
                               "scheduler_job": self.scheduler_job.name if self.scheduler_job else None})

    def _task(self, spec: CloudRunJobSpec, args: CloudRunJobArgs) -> gcp.cloudrunv2.JobTemplateTemplateArgs:
        res, gpu = spec.resources, spec.resources.gpu
        limits = {"cpu": cpu_string(res.cpu), "memory": res.memory}
        if gpu is not None:
            limits["nvidia.com/gpu"] = str(gpu.count)
        env = {**spec.env, **args.output_env}
        envs = [gcp.cloudrunv2.JobTemplateTemplateContainerEnvArgs(name=k, value=v) for k, v in sorted(env.items())]
        envs += [gcp.cloudrunv2.JobTemplateTemplateContainerEnvArgs(
            name=s.env, value_source=gcp.cloudrunv2.JobTemplateTemplateContainerEnvValueSourceArgs(
                secret_key_ref=gcp.cloudrunv2.JobTemplateTemplateContainerEnvValueSourceSecretKeyRefArgs(
                    secret=s.secret, version=s.version))) for s in spec.secrets]
        if spec.cache:
            envs += [gcp.cloudrunv2.JobTemplateTemplateContainerEnvArgs(name=e["name"], value=e["value"])
                     for e in cache_env(args.cache)]
        return gcp.cloudrunv2.JobTemplateTemplateArgs(
            service_account=self.account.email,
            execution_environment="EXECUTION_ENVIRONMENT_GEN2",
            max_retries=spec.max_retries,
            timeout=f"{spec.timeout_seconds}s",
            node_selector=gcp.cloudrunv2.JobTemplateTemplateNodeSelectorArgs(accelerator=gpu.type) if gpu else None,
            gpu_zonal_redundancy_disabled=(not gpu.zonal_redundancy) if gpu else None,
            vpc_access=gcp.cloudrunv2.JobTemplateTemplateVpcAccessArgs(
                egress=EGRESS[args.egress],
                network_interfaces=[gcp.cloudrunv2.JobTemplateTemplateVpcAccessNetworkInterfaceArgs(
                    network=args.network_id, subnetwork=args.subnetwork_id)]) if args.network_id is not None else None,
            containers=[gcp.cloudrunv2.JobTemplateTemplateContainerArgs(
                name="job",
                image=spec.image,
                commands=spec.command or None,
                args=spec.args or None,
                envs=envs or None,
                resources=gcp.cloudrunv2.JobTemplateTemplateContainerResourcesArgs(limits=limits),
            )],
        )

    def _schedule(self, name: str, spec: CloudRunJobSpec, args: CloudRunJobArgs) -> None:
        """Cloud Scheduler POSTs `jobs.run` on the schedule, as an account that may run this job only."""
        self.scheduler_account = ServiceAccount(f"{name}-scheduler", ServiceAccountArgs(
            display_name=f"mlinfra scheduler of job {spec.name}", project=args.project), opts=self.child())
        runs = gcp.cloudrunv2.JobIamMember(
            f"{name}-scheduler-runs", project=args.project, location=args.region, name=self.job.name,
            role=SCHEDULER_ROLE, member=self.scheduler_account.member, opts=self.child())
        self.scheduler_job = gcp.cloudscheduler.Job(
            f"{name}-schedule",
            project=args.project,
            region=args.region,
            description=f"Runs the Cloud Run job {args.job_name}",
            schedule=spec.schedule.strip(),
            time_zone=spec.time_zone,
            attempt_deadline="180s",
            # `jobs.run` answers (an operation) once the execution exists, well inside the deadline;
            # a call answered with an error started nothing, so it is retried.
            retry_config=gcp.cloudscheduler.JobRetryConfigArgs(retry_count=3, min_backoff_duration="60s"),
            http_target=gcp.cloudscheduler.JobHttpTargetArgs(
                uri=RUN_API.format(project=args.project, region=args.region, job=args.job_name),
                http_method="POST",
                oauth_token=gcp.cloudscheduler.JobHttpTargetOauthTokenArgs(
                    service_account_email=self.scheduler_account.email,
                    scope="https://www.googleapis.com/auth/cloud-platform"),
            ),
            opts=self.child(depends_on=[runs]),
        )
