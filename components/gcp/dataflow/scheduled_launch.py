"""A batch Flex Template launched on a schedule: a Cloud Scheduler job POSTing to Dataflow's
`flexTemplates:launch` with an OAuth token of a launcher account that may only launch jobs and
act as the pipeline's worker account.

Why not a `FlexTemplateJob`: that resource is one job kept in state. A batch job ends, and a
nightly pipeline is a new job every night; a resource would describe one past run, and
re-running means replacing it through `pulumi up`. The schedule is the durable thing, so the
schedule is what the stack owns. Each launch is a new job under the same name: Dataflow
takes a name again once the previous run has finished, so a run still going when the next
launch comes is refused (and retried by the scheduler) rather than run twice.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.gcp.iam.service_account import ServiceAccount, ServiceAccountArgs
from components.gcp.storage.bucket import Bucket

TYPE = "mlinfra:gcp:ScheduledLaunch"
LAUNCH_API = "https://dataflow.googleapis.com/v1b3/projects/{project}/locations/{region}/flexTemplates:launch"
LAUNCHER_ROLE = "roles/dataflow.developer"
"""The narrowest predefined role that may create jobs (dataflow.jobs.create); no data access."""


@dataclass(frozen=True, kw_only=True)
class LaunchArgs:
    """One launch of a batch Flex Template, however it is started (a schedule, a workflow)."""

    job_name: str
    """The Dataflow job name of each launch."""
    project: str
    """The project the jobs run in."""
    region: str
    """The region of the jobs and the scheduler job."""
    template_path: pulumi.Input[str]
    """gs:// path of the Flex Template spec file."""
    worker: ServiceAccount
    """The account the job's workers run as; the launcher may act as it, and as nothing else."""
    template_bucket: Bucket
    """The bucket of the spec file: the launcher may read it."""
    subnetwork: pulumi.Input[str]
    """The subnet the workers run in (private IPs only)."""
    temp_location: pulumi.Input[str]
    """gs:// prefix for the job's temporary files."""
    parameters: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Template parameters. Defaults to none."""
    machine_type: Optional[str] = None
    """Worker machine type. Defaults to Dataflow's."""
    num_workers: Optional[int] = None
    """Workers at start. Defaults to Dataflow's."""
    max_workers: Optional[int] = None
    """Upper bound for autoscaling. Defaults to Dataflow's."""
    disk_size_gb: Optional[int] = None
    """Boot disk per worker. Defaults to Dataflow's."""
    flexrs: bool = False
    """Launch with Flexible Resource Scheduling (FLEXRS_COST_OPTIMIZED). Defaults to false."""
    sdk_container_image: Optional[str] = None
    """The workers' SDK container image (the template's own image). Defaults to Dataflow's."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Labels of each launched job (the scheduler job itself takes none). Defaults to none."""


@dataclass(frozen=True, kw_only=True)
class ScheduledLaunchArgs(LaunchArgs):
    schedule: str
    """unix-cron schedule of the launches."""
    time_zone: str = "Etc/UTC"
    """IANA time zone of the schedule. Defaults to Etc/UTC."""


def launch_body(args: LaunchArgs, worker_email: str, subnetwork: str, template_path: str,
                temp_location: str, parameters: Mapping[str, str]) -> dict[str, Any]:
    """The `flexTemplates:launch` request, with every value resolved."""
    environment: dict[str, Any] = {
        "serviceAccountEmail": worker_email, "subnetwork": subnetwork, "ipConfiguration": "WORKER_IP_PRIVATE",
        "tempLocation": temp_location, "additionalUserLabels": dict(args.labels),
    }
    optional = {"machineType": args.machine_type, "numWorkers": args.num_workers, "maxWorkers": args.max_workers,
                "diskSizeGb": args.disk_size_gb, "sdkContainerImage": args.sdk_container_image, "flexrsGoal": "FLEXRS_COST_OPTIMIZED" if args.flexrs else None}
    environment.update({k: v for k, v in optional.items() if v is not None})
    return {"launchParameter": {"jobName": args.job_name, "containerSpecGcsPath": template_path,
                                "parameters": dict(parameters), "environment": environment}}


def launch_request(args: LaunchArgs) -> pulumi.Output:
    """The `flexTemplates:launch` request body, once every input is known."""
    names = sorted(args.parameters)
    return pulumi.Output.all(args.worker.email, args.subnetwork, args.template_path, args.temp_location,
                             *[args.parameters[n] for n in names]).apply(
        lambda v: launch_body(args, v[0], v[1], v[2], v[3], dict(zip(names, v[4:]))))


class ScheduledLaunch(Component):
    """Outputs: scheduler_job (its name), launcher_email."""

    def __init__(self, name: str, args: ScheduledLaunchArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        self.launcher = ServiceAccount(f"{name}-launcher", ServiceAccountArgs(
            display_name=f"mlinfra launcher of {args.job_name}", project=args.project), opts=self.child())
        self.grants: list[pulumi.Resource] = [
            self.launcher.grant_project_role(LAUNCHER_ROLE),
            # Acting as the worker account is what lets a launch name it; granted on that account only.
            gcp.serviceaccount.IAMMember(
                f"{name}-launcher-acts-as-worker", service_account_id=args.worker.resource_name,
                role="roles/iam.serviceAccountUser", member=self.launcher.member, opts=self.child()),
            args.template_bucket.grant_read(self.launcher),
        ]
        body = launch_request(args).apply(
            lambda request: base64.b64encode(json.dumps(request, sort_keys=True).encode()).decode())
        self.job = gcp.cloudscheduler.Job(
            name,
            project=args.project,
            region=args.region,
            description=f"Launches the Dataflow Flex Template job {args.job_name}",
            schedule=args.schedule,
            time_zone=args.time_zone,
            attempt_deadline="180s",
            retry_config=gcp.cloudscheduler.JobRetryConfigArgs(retry_count=3, min_backoff_duration="60s"),
            http_target=gcp.cloudscheduler.JobHttpTargetArgs(
                uri=LAUNCH_API.format(project=args.project, region=args.region),
                http_method="POST",
                headers={"Content-Type": "application/json"},
                body=body,
                oauth_token=gcp.cloudscheduler.JobHttpTargetOauthTokenArgs(
                    service_account_email=self.launcher.email,
                    scope="https://www.googleapis.com/auth/cloud-platform"),
            ),
            opts=self.child(depends_on=self.grants),
        )
        self.register_outputs({"scheduler_job": self.job.name, "launcher_email": self.launcher.email})
