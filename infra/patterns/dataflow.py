"""The dataflow pattern: batch and streaming Dataflow pipelines (Flex Templates) with their
Pub/Sub topics and subscriptions, BigQuery datasets and tables, a temp and staging bucket and a
worker account per pipeline, on the stack's private network beside the data lake and the
model-artifact bucket. Streaming pipelines are jobs Pulumi keeps running; batch pipelines are
launched on their schedule by Cloud Scheduler. For large or streaming data processing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi

from components.gcp.dataflow.pipeline_spec import PipelineSpec
from infra.patterns import dataflow_workloads
from infra.patterns.pattern_component import PatternArgs, PatternComponent

TYPE = "mlinfra:pattern:Dataflow"
APIS = dataflow_workloads.APIS


@dataclass(frozen=True, kw_only=True)
class DataflowArgs(PatternArgs):
    pipelines: Sequence[PipelineSpec] = ()
    """The pipelines as the stack file says them. Defaults to none."""


class Dataflow(PatternComponent):
    """Outputs: pipelines (by name: template_path, worker_email, and job_id or scheduler_job;
    alert_policies when watched),
    topics, datasets, trigger_urls, buckets, image_repository, network."""

    Args = DataflowArgs

    def __init__(self, name: str, args: DataflowArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, args, APIS, opts)
        dataflow_workloads.build_pipelines(self, args.pipelines)
        self.build_triggers()
        self.build_dashboard()

        self.outputs = {**dataflow_workloads.pipeline_outputs(self), **self.common_outputs()}
        self.register_outputs(self.outputs)
