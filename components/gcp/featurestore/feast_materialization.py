"""Feast's scheduled materialization: a Cloud Run job that runs featurestore/materialize/main.py
(`materialize_incremental` up to now) as the materializer account, and a Cloud Scheduler job
that starts an execution through the Cloud Run Admin API's `jobs.run` as an account that may run
this job and nothing else.

The job is a `gcp.cloudrunv2.Job` built here, not through the shared Cloud Run Jobs component
(components/gcp/cloudrun/cloud_run_job.py, branch hybrid-jobs), which did not exist when this
was written: `_job` below is the one place to switch. The job's name is fixed, so a replacement
deletes the old one first. Scheduler retries only the `run` call, never a finished execution;
the job's own `maxRetries` retries a failed run (materialization is idempotent: the same
interval writes the same rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.core.units import cpu_string
from components.gcp.featurestore.feature_store_spec import MaterializeSpec
from components.gcp.iam.service_account import ServiceAccount, ServiceAccountArgs

TYPE = "mlinfra:gcp:FeastMaterialization"
RUN_API = "https://run.googleapis.com/v2/projects/{project}/locations/{region}/jobs/{job}:run"
RUNNER_ROLE = "roles/run.invoker"
"""Holds run.jobs.run (start an execution without overrides); granted on this job only."""
ENTRY_POINT = ["python", "-m", "materialize.main"]


@dataclass(frozen=True, kw_only=True)
class FeastMaterializationArgs:
    job_name: str
    """The Cloud Run job's name (fixed: unique in the region)."""
    project: str
    region: str
    spec: MaterializeSpec
    """Image, schedule, time zone, timeout, retries, resources, feature views."""
    account: ServiceAccount
    """The account the job runs as (the materializer)."""
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Environment of the job's container (the feature_store.yaml, the CA). Defaults to none."""
    network_id: Optional[pulumi.Input[str]] = None
    """The VPC the job reaches a private online store through (direct VPC egress). Defaults to none."""
    subnetwork_id: Optional[pulumi.Input[str]] = None
    """The subnet of that egress. Defaults to none."""
    protect: bool = False
    """Prod: the API's deletion protection on the job. Defaults to false."""


class FeastMaterialization(Component):
    """Outputs: job (its name), scheduler_job, runner_email."""

    def __init__(self, name: str, args: FeastMaterializationArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        self.job = self._job(name, args)
        self.runner = ServiceAccount(f"{name}-runner", ServiceAccountArgs(
            display_name=f"mlinfra scheduler of {args.job_name}", project=args.project), opts=self.child())
        self.grant = gcp.cloudrunv2.JobIamMember(
            f"{name}-runner-runs", name=self.job.name, location=args.region, project=args.project,
            role=RUNNER_ROLE, member=self.runner.member, opts=self.child())
        spec = args.spec
        self.schedule = gcp.cloudscheduler.Job(
            name,
            project=args.project,
            region=args.region,
            description=f"Runs the Feast materialization job {args.job_name}",
            schedule=spec.schedule,
            time_zone=spec.time_zone,
            attempt_deadline="180s",
            retry_config=gcp.cloudscheduler.JobRetryConfigArgs(retry_count=3, min_backoff_duration="60s"),
            http_target=gcp.cloudscheduler.JobHttpTargetArgs(
                uri=RUN_API.format(project=args.project, region=args.region, job=args.job_name),
                http_method="POST",
                oauth_token=gcp.cloudscheduler.JobHttpTargetOauthTokenArgs(
                    service_account_email=self.runner.email,
                    scope="https://www.googleapis.com/auth/cloud-platform"),
            ),
            opts=self.child(depends_on=[self.grant]),
        )
        self.register_outputs({"job": self.job.name, "scheduler_job": self.schedule.name,
                               "runner_email": self.runner.email})

    def _job(self, name: str, args: FeastMaterializationArgs) -> gcp.cloudrunv2.Job:
        """The Cloud Run job (the place to switch to the shared Cloud Run Jobs component)."""
        spec = args.spec
        command_args = [a for view in spec.feature_views for a in ("--feature-view", view)]
        vpc = None
        if args.network_id is not None:
            vpc = gcp.cloudrunv2.JobTemplateTemplateVpcAccessArgs(
                egress="PRIVATE_RANGES_ONLY",
                network_interfaces=[gcp.cloudrunv2.JobTemplateTemplateVpcAccessNetworkInterfaceArgs(
                    network=args.network_id, subnetwork=args.subnetwork_id)])
        return gcp.cloudrunv2.Job(
            name,
            name=args.job_name,
            location=args.region,
            project=args.project,
            deletion_protection=args.protect,
            template=gcp.cloudrunv2.JobTemplateArgs(
                task_count=1,
                parallelism=1,
                template=gcp.cloudrunv2.JobTemplateTemplateArgs(
                    service_account=args.account.email,
                    timeout=f"{spec.timeout_seconds}s",
                    max_retries=spec.max_retries,
                    containers=[gcp.cloudrunv2.JobTemplateTemplateContainerArgs(
                        image=spec.image,
                        commands=ENTRY_POINT,
                        args=command_args or None,
                        envs=[gcp.cloudrunv2.JobTemplateTemplateContainerEnvArgs(name=k, value=v)
                              for k, v in sorted(args.env.items())],
                        resources=gcp.cloudrunv2.JobTemplateTemplateContainerResourcesArgs(
                            limits={"cpu": cpu_string(spec.resources.cpu), "memory": spec.resources.memory}),
                    )],
                    vpc_access=vpc,
                ),
            ),
            opts=self.child(delete_before_replace=True),
        )
