"""A stack's Cloud Monitoring dashboard: one chart per signal of every Cloud Run service, GKE
server, streaming Dataflow pipeline and chain (components/gcp/monitoring/dashboard_layout.py
lays them out and checks their metrics and aligners against metrics.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.gcp.monitoring.dashboard_layout import Chart, chart_issues, dashboard

TYPE = "mlinfra:gcp:StackDashboard"


@dataclass(frozen=True, kw_only=True)
class StackDashboardArgs:
    stack: str
    """The stack, for the dashboard's name."""
    project: str
    """The project whose Cloud Monitoring holds it."""
    charts: Callable[[Optional[str]], Sequence[Chart]]
    """The charts, given the name of the stack's GKE cluster (None without one)."""
    cluster_name: Optional[pulumi.Input[str]] = None
    """The stack's GKE cluster, when it has one. Defaults to none."""


class StackDashboard(Component):
    """Outputs: dashboard (its resource id)."""

    def __init__(self, name: str, args: StackDashboardArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        issues = chart_issues(args.charts("<cluster>"))
        if issues:  # a bug in the chart table, never stack-file input
            raise ValueError("; ".join(f"{'.'.join(map(str, i.path))}: {i.message}" for i in issues))

        def render(cluster: Optional[str]) -> str:
            return json.dumps(dashboard(f"mlinfra {args.stack}", args.charts(cluster)), sort_keys=True)

        body = (pulumi.Output.from_input(args.cluster_name).apply(render) if args.cluster_name is not None
                else render(None))
        self.dashboard = gcp.monitoring.Dashboard(name, project=args.project, dashboard_json=body, opts=self.child())
        self.register_outputs({"dashboard": self.dashboard.id})
