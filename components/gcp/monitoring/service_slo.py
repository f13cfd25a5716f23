"""A model server's service-level objectives in Cloud Monitoring, each with two burn-rate alerts.

A custom service holds request-based SLOs (availability: the share of requests without a server
error; latency: the share answered within the threshold), measured from the platform's own
request metrics, which the caller names as series (a metric and the clauses selecting the server;
each metric's kind is checked against components/gcp/monitoring/metrics.py before planning: the
API takes counts of DELTA or CUMULATIVE kind, and a distribution for a latency cut). Availability
is a good/total ratio from two of total, bad and good (the load balancer's or Cloud Run's requests
and server errors, or a runtime's own success and failure counters). Each objective gets the two multi-window
burn-rate alerts of Google's SRE workbook: fast (14.4x the sustainable rate over 1 h, confirmed
over 5 min: 2 % of a 30-day budget gone in an hour) and slow (6x over 6 h, confirmed over 30 min).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, NamedTuple, Optional, Sequence

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.core.issues import Issue, raise_if_any
from components.core.naming import dns_name
from components.gcp.monitoring.metrics import sli_issues
from components.serving.slo_spec import SloSpec

TYPE = "mlinfra:gcp:ServiceSlo"
# (name, burn rate, long window, short window, severity)
BURN_RATES = (("fast", 14.4, "3600s", "300s", "CRITICAL"), ("slow", 6.0, "21600s", "1800s", "WARNING"))


class Series(NamedTuple):
    """The time series of one metric that an SLI counts: `metric.type="<metric>" <where>`."""

    metric: str
    where: pulumi.Input[str]
    """The clauses selecting the server's series (its resource, labels)."""

    def filter(self) -> pulumi.Output[str]:
        return pulumi.Output.concat('metric.type="', self.metric, '" ', self.where)


@dataclass(frozen=True, kw_only=True)
class ServiceSloArgs:
    service: str
    """The model server's name, for the custom service and the alerts' text."""
    slo: SloSpec
    """Its objectives."""
    project: str
    """The project whose Cloud Monitoring holds them."""
    requests: Optional[Series] = None
    """Every request to the server (a request count). Defaults to none: then `errors` and `good`."""
    errors: Optional[Series] = None
    """The requests that failed with a server error. Defaults to none: then `requests` and `good`."""
    good: Optional[Series] = None
    """The requests served without one. Defaults to none: availability takes exactly two of the three."""
    latency: Optional[Series] = None
    """The server's request latencies, a distribution in milliseconds. Defaults to none; required
    for a latency objective."""
    channels: Sequence[pulumi.Input[str]] = ()
    """Notification channels the alerts notify. Defaults to none."""
    runbook: str = ""
    """What to check first, for the alerts' documentation. Defaults to a generic text."""
    fast_burn_channels: Sequence[pulumi.Input[str]] = ()
    """More channels only the fast-burn alerts notify (the stack's rollback channel while an
    auto-rolled-back canary runs). Defaults to none."""
    fast_burn_labels: Mapping[str, str] = field(default_factory=dict)
    """User labels of the fast-burn alerts, which their notifications carry (`policy_user_labels`).
    Defaults to none."""


def burn_rate_filter(slo_name: pulumi.Input[str], window: str) -> pulumi.Output[str]:
    return pulumi.Output.format('select_slo_burn_rate("{0}", "{1}")', slo_name, window)


class ServiceSlo(Component):
    """Outputs: objectives (name -> SLO resource name), alert_policies (names)."""

    def __init__(self, name: str, args: ServiceSloArgs, opts: Optional[pulumi.ResourceOptions] = None):
        slo = args.slo
        ratio = {"total_service_filter": args.requests, "bad_service_filter": args.errors,
                 "good_service_filter": args.good}
        ratio = {k: v for k, v in ratio.items() if v is not None}
        issues = [i for series in ratio.values() for i in sli_issues(series.metric, key=("availability",))]
        if slo.availability is not None and len(ratio) != 2:
            issues.append(Issue(("availability",), "a good/total ratio takes exactly two of requests, errors and "
                                f"good, and {len(ratio)} are given", fix="pass two of them"))
        if slo.latency is not None:
            issues += (sli_issues(args.latency.metric, distribution=True, key=("latency",)) if args.latency is not None
                       else [Issue(("latency",), "a latency objective needs the server's latency distribution",
                                   fix="pass latency, or drop the latency objective")])
        raise_if_any(f"ServiceSlo {name}", issues)
        super().__init__(TYPE, name, opts)
        self.service = gcp.monitoring.CustomService(
            name, service_id=dns_name("mlinfra", args.service, max_len=63), project=args.project,
            display_name=f"mlinfra model server {args.service}", opts=self.child())
        objectives: dict[str, gcp.monitoring.Slo] = {}
        if slo.availability is not None:
            objectives["availability"] = gcp.monitoring.Slo(
                f"{name}-availability", service=self.service.service_id, slo_id="availability", project=args.project,
                display_name=f"{args.service}: {slo.availability:g} % of requests without a server error",
                goal=slo.availability / 100, rolling_period_days=slo.window_days,
                request_based_sli=gcp.monitoring.SloRequestBasedSliArgs(
                    good_total_ratio=gcp.monitoring.SloRequestBasedSliGoodTotalRatioArgs(
                        **{k: v.filter() for k, v in ratio.items()})),
                opts=self.child())
        if slo.latency is not None:
            objectives["latency"] = gcp.monitoring.Slo(
                f"{name}-latency", service=self.service.service_id, slo_id="latency", project=args.project,
                display_name=f"{args.service}: {slo.latency.percent:g} % of requests within {slo.latency.threshold_ms} ms",
                goal=slo.latency.percent / 100, rolling_period_days=slo.window_days,
                request_based_sli=gcp.monitoring.SloRequestBasedSliArgs(
                    distribution_cut=gcp.monitoring.SloRequestBasedSliDistributionCutArgs(
                        distribution_filter=args.latency.filter(),
                        range=gcp.monitoring.SloRequestBasedSliDistributionCutRangeArgs(max=slo.latency.threshold_ms))),
                opts=self.child())

        runbook = args.runbook or "Check the server's recent revisions or rollout, its logs and its upstreams."
        self.alert_policies = []
        for objective, resource in objectives.items():
            for speed, rate, long_window, short_window, severity in BURN_RATES:
                fast = speed == "fast"
                channels = list(args.channels) + (list(args.fast_burn_channels) if fast else [])
                rollback = (" While a canary runs, this alert also rolls it back: the stack's rollback function "
                            "dispatches the rollout workflow with action abort, which opens the pull request."
                            if fast and args.fast_burn_channels else "")
                self.alert_policies.append(gcp.monitoring.AlertPolicy(
                    f"{name}-{objective}-{speed}-burn", project=args.project, combiner="AND", severity=severity,
                    display_name=f"{args.service}: {objective} error budget burning {speed} ({rate:g}x)",
                    notification_channels=channels or None,
                    user_labels=dict(args.fast_burn_labels) or None if fast else None,
                    conditions=[gcp.monitoring.AlertPolicyConditionArgs(
                        display_name=f"burn rate above {rate:g}x over {window}",
                        condition_threshold=gcp.monitoring.AlertPolicyConditionConditionThresholdArgs(
                            filter=burn_rate_filter(resource.name, window), comparison="COMPARISON_GT",
                            threshold_value=rate, duration="0s"))
                        for window in (long_window, short_window)],
                    documentation=gcp.monitoring.AlertPolicyDocumentationArgs(mime_type="text/markdown", content=(
                        f"The {objective} objective of **{args.service}** is spending its error budget {rate:g} times "
                        f"faster than it can sustain over {slo.window_days} days ({speed} burn). {runbook} "
                        "To roll a canary back, set its `percent: 0` in the stack file and deploy." + rollback)),
                    opts=self.child()))

        self.objectives = {k: v.name for k, v in objectives.items()}
        self.register_outputs({"objectives": self.objectives})
