"""A stack's CloudWatch dashboard on AWS: per model server its target groups' requests, 5xx,
response-time percentiles and hosts by track, its pods' GPUs (with Container Insights), and its alarms
(components/aws/monitoring/dashboard_widgets.py lays them out)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components.aws.monitoring.dashboard_widgets import ServerPanel, console_url, dashboard_body
from components.core.component import Component

TYPE = "mlinfra:aws:StackDashboard"


@dataclass(frozen=True, kw_only=True)
class DashboardServer:
    service: str
    """The model server's name."""
    target_groups: Mapping[str, pulumi.Input[str]]
    """Its target groups' ARN suffixes, by track."""
    alarms: Sequence[pulumi.Input[str]] = ()
    """Its objectives' composite alarms' and its GPU alarms' ARNs. Defaults to none."""
    gpu_namespace: Optional[str] = None
    """A GPU server's namespace, whose pods' GPUs it charts (with Container Insights). Defaults to none."""


@dataclass(frozen=True, kw_only=True)
class StackDashboardArgs:
    stack: str
    """The stack, for the header."""
    dashboard_name: str
    """The dashboard's name (at most 255 of A-Z, a-z, 0-9, - and _; dashboards are global in an account)."""
    region: str
    """The stack's region: its metric widgets read there."""
    load_balancer: pulumi.Input[str]
    """The stack's ALB's ARN suffix (`app/<name>/<id>`)."""
    servers: Sequence[DashboardServer]
    """The model servers on it."""
    gpu_pools: Sequence[str] = ()
    """The cluster's GPU pools, which the header says are not charted (no Container Insights). Defaults to none."""
    cluster_name: pulumi.Input[str] = ""
    """The EKS cluster the GPU charts read (ClusterName). Defaults to none (no GPU charts)."""


class StackDashboard(Component):
    """Outputs: dashboard_name, url (the dashboard in the CloudWatch console)."""

    def __init__(self, name: str, args: StackDashboardArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        servers = list(args.servers)
        resolved = pulumi.Output.all(
            args.load_balancer, args.cluster_name,
            *[pulumi.Output.all(*s.target_groups.values()) for s in servers],
            *[pulumi.Output.all(*s.alarms) for s in servers])

        def render(values: list) -> str:
            groups, alarms = values[2:2 + len(servers)], values[2 + len(servers):]
            panels = [ServerPanel(service=s.service, target_groups=dict(zip(s.target_groups, tgs)), alarms=arns,
                                  gpu_namespace=s.gpu_namespace) for s, tgs, arns in zip(servers, groups, alarms)]
            return json.dumps(dashboard_body(args.stack, args.region, values[0], panels, args.gpu_pools, values[1]),
                              sort_keys=True)

        self.dashboard = aws.cloudwatch.Dashboard(name, dashboard_name=args.dashboard_name,
                                                  dashboard_body=resolved.apply(render), opts=self.child())
        self.dashboard_name = args.dashboard_name
        self.url = console_url(args.region, args.dashboard_name)
        self.register_outputs({"dashboard_name": self.dashboard_name, "url": self.url})
