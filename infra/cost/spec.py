"""`mlinfra:cost`: the usage the plan's monthly estimate assumes. Nothing here changes what is
deployed; every key has a default, so a stack without the section still gets an estimate."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from components.core.spec import Spec


class CostSpec(Spec):
    """Usage assumptions of the plan's monthly cost estimate (list prices, USD)."""

    hours_per_month: float = Field(730, gt=0, le=744)
    """Hours in a billing month. Defaults to 730, the month of Google's price tables."""
    busy_hours_per_month: float = Field(240, ge=0, le=744)
    """Hours a month the services and node pools run above their minimums (traffic, jobs).
    Defaults to 240 (8 hours a day for 30 days)."""
    average_scale: float = Field(0.5, ge=0, le=1)
    """Where the autoscaled count sits during busy hours, from 0 (the minimum) to 1 (the
    maximum). Defaults to 0.5."""
    requests_per_month: float = Field(1_000_000, ge=0)
    """Requests a month to each Cloud Run service. Defaults to 1000000."""
    invocations_per_month: float = Field(100_000, ge=0)
    """Invocations a month of each Cloud Run function (trigger). Defaults to 100000."""
    seconds_per_invocation: float = Field(1.0, ge=0)
    """Billed seconds of one function invocation. Defaults to 1."""
    job_runs_per_month: float = Field(30, ge=0)
    """Executions a month of each Cloud Run job. Defaults to 30 (one a night)."""
    seconds_per_job_task: float = Field(600, ge=0)
    """Billed seconds of one task of a Cloud Run job execution (capped at the job's timeout).
    Defaults to 600."""
    data_lake_gb: float = Field(500, ge=0)
    """GB stored in the data-lake bucket, priced as Standard storage. Defaults to 500."""
    artifacts_gb: float = Field(50, ge=0)
    """GB stored in the model-artifact bucket. Defaults to 50."""
    other_bucket_gb: float = Field(1, ge=0)
    """GB stored in every other bucket (function sources). Defaults to 1."""
    image_gb: float = Field(20, ge=0)
    """GB of images in the Artifact Registry repository. Defaults to 20."""
    pubsub_gib_per_month: float = Field(1, ge=0)
    """GiB a month published to and delivered from each Pub/Sub topic. Defaults to 1."""
    nat_gib_per_month: float = Field(50, ge=0)
    """GiB a month through each NAT gateway (Cloud NAT when any VM uses it; each AWS NAT gateway).
    Defaults to 50."""
    load_balancer_gib_per_month: float = Field(10, ge=0)
    """GiB a month each external load balancer processes in each direction (requests in,
    responses out). Defaults to 10."""
    bigquery_gb_per_dataset: float = Field(50, ge=0)
    """GiB of active logical storage in each BigQuery dataset (its tables together). Defaults to 50."""
    security_policy_requests_per_month: float = Field(1_000_000, ge=0)
    """Requests a month each Cloud Armor security policy evaluates. Defaults to 1000000."""
    workflow_executions_per_month: Optional[float] = Field(None, ge=0)
    """Executions a month of each workflow (a trigger with `run`). Defaults to the runs a month its
    Cloud Scheduler schedule gives (in a month of hoursPerMonth hours) for a schedule trigger,
    and to 30 for an event trigger."""
    workflow_steps_per_execution: Optional[float] = Field(None, ge=0)
    """Billable steps one workflow execution takes. Defaults to the steps of its definition, each
    run once (each variable of an assign counts; error branches and a polling loop's repeats are
    not counted)."""
