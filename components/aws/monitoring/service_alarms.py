"""A model server's objectives on AWS as CloudWatch alarms, each with a fast and a slow burn.

The server's requests are those of its target groups (one per track) on the stack's
Application Load Balancer, in the AWS/ApplicationELB namespace, whose target-group metrics
carry the dimensions LoadBalancer and TargetGroup (both ARN suffixes, `app/<name>/<id>` and
`targetgroup/<name>/<id>`). Availability: the share of RequestCount that is not
HTTPCode_Target_5XX_Count (Sum). Latency: the share of requests answered within the
threshold, TargetResponseTime's percentile rank `PR(:<seconds>)`, weighted by each track's
RequestCount.

Each objective gets the two multi-window burn-rate alerts of Google's SRE workbook, as on
Google Cloud: fast (14.4x the sustainable error rate over 1 h, confirmed over 5 min) and slow
(6x over 6 h, confirmed over 30 min). A window is one metric-math alarm whose metrics have the
window as their period (an alarm's metrics may have any period that is a multiple of 60 s, up
to 7 days of evaluation in all); a composite alarm is in ALARM only while both windows are,
and only it notifies the topics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components.core.component import Component
from components.serving.slo_spec import SloSpec

TYPE = "mlinfra:aws:ServiceAlarms"
NAMESPACE = "AWS/ApplicationELB"
# (name, burn rate, long window s, short window s)
BURN_RATES = (("fast", 14.4, 3600, 300), ("slow", 6.0, 21600, 1800))


@dataclass(frozen=True, kw_only=True)
class ServiceAlarmsArgs:
    service: str
    """The model server's name, for the alarms' names and text."""
    slo: SloSpec
    """Its objectives."""
    alarm_prefix: str
    """Every alarm's name starts with it (the alert topic lets `<prefix>-*` publish)."""
    load_balancer: pulumi.Input[str]
    """The load balancer's ARN suffix (`app/<name>/<id>`)."""
    target_groups: Mapping[str, pulumi.Input[str]]
    """The server's target groups' ARN suffixes, by track."""
    topics: Sequence[pulumi.Input[str]] = ()
    """SNS topics the composite alarms notify. Defaults to none."""
    runbook: str = ""
    """What to check first, for the alarms' descriptions. Defaults to a generic text."""


def _metric(qid: str, metric: str, stat: str, period: int, load_balancer, target_group) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(id=qid, return_data=False, metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
        namespace=NAMESPACE, metric_name=metric, stat=stat, period=period,
        dimensions={"LoadBalancer": load_balancer, "TargetGroup": target_group}))


def burn_queries(objective: str, slo: SloSpec, period: int, load_balancer,
                 target_groups: Mapping[str, pulumi.Input[str]]) -> list[aws.cloudwatch.MetricAlarmMetricQueryArgs]:
    """The metrics of every track over one window and the expression the alarm watches: the
    error rate over the window divided by the rate the objective allows (the burn rate)."""
    queries, requests, bad = [], [], []
    for i, tg in enumerate(target_groups.values()):
        queries.append(_metric(f"r{i}", "RequestCount", "Sum", period, load_balancer, tg))
        requests.append(f"FILL(r{i}, 0)")
        if objective == "availability":
            queries.append(_metric(f"e{i}", "HTTPCode_Target_5XX_Count", "Sum", period, load_balancer, tg))
            bad.append(f"FILL(e{i}, 0)")
        else:  # the percent of requests within the threshold; the rest are bad
            seconds = f"{slo.latency.threshold_ms / 1000:.3f}".rstrip("0").rstrip(".")
            queries.append(_metric(f"g{i}", "TargetResponseTime", f"PR(:{seconds})", period, load_balancer, tg))
            bad.append(f"FILL(r{i}, 0) * (100 - FILL(g{i}, 100)) / 100")
    goal = slo.availability if objective == "availability" else slo.latency.percent
    budget = round(1 - goal / 100, 6)
    queries += [
        aws.cloudwatch.MetricAlarmMetricQueryArgs(id="requests", expression=" + ".join(requests), return_data=False),
        aws.cloudwatch.MetricAlarmMetricQueryArgs(id="bad", expression=" + ".join(bad), return_data=False),
        aws.cloudwatch.MetricAlarmMetricQueryArgs(
            id="burn", expression=f"IF(requests > 0, bad / requests / {budget:g}, 0)",
            label=f"{objective} burn rate (1 = the budget lasts exactly the window)", return_data=True),
    ]
    return queries


def _window(seconds: int) -> str:
    return f"{seconds // 3600} h" if seconds >= 3600 else f"{seconds // 60} min"


class ServiceAlarms(Component):
    """Outputs: alarms (composite alarm names: `<prefix>-<service>-<objective>-<speed>`); alarm_arns (theirs)."""

    def __init__(self, name: str, args: ServiceAlarmsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        slo = args.slo
        objectives = {}
        if slo.availability is not None:
            objectives["availability"] = f"{slo.availability:g} % of requests without a server error (target 5xx)"
        if slo.latency is not None:
            objectives["latency"] = f"{slo.latency.percent:g} % of requests within {slo.latency.threshold_ms} ms"
        runbook = args.runbook or "Check the server's recent rollout, its logs and its upstreams."
        self.alarms: list[str] = []
        self.alarm_arns: list[pulumi.Output[str]] = []
        for objective, promise in objectives.items():
            for speed, rate, long_window, short_window in BURN_RATES:
                alarm = f"{args.alarm_prefix}-{args.service}-{objective}-{speed}"
                windows = []
                for which, period in (("long", long_window), ("short", short_window)):
                    windows.append(aws.cloudwatch.MetricAlarm(
                        f"{name}-{objective}-{speed}-{which}", name=f"{alarm}-{which}",
                        alarm_description=(f"{args.service}: {objective} error budget burning above {rate:g}x over "
                                           f"{_window(period)} (one window of {alarm}, which notifies)."),
                        comparison_operator="GreaterThanThreshold", threshold=rate, evaluation_periods=1,
                        datapoints_to_alarm=1, treat_missing_data="notBreaching", actions_enabled=False,
                        metric_queries=burn_queries(objective, slo, period, args.load_balancer, args.target_groups),
                        opts=self.child()))
                rule = pulumi.Output.all(*[w.name for w in windows]).apply(
                    lambda names: " AND ".join(f'ALARM("{n}")' for n in names))
                composite = aws.cloudwatch.CompositeAlarm(
                    f"{name}-{objective}-{speed}", alarm_name=alarm, alarm_rule=rule, actions_enabled=True,
                    alarm_actions=list(args.topics), ok_actions=list(args.topics),
                    alarm_description=(
                        f"{args.service} promises {promise} over {slo.window_days} days; it is spending that error "
                        f"budget {rate:g} times faster than it can sustain, over {_window(long_window)} and still over the "
                        f"last {_window(short_window)} ({speed} burn). {runbook} To roll a canary back, set its "
                        "`percent: 0` in the stack file and deploy.")[:1024],
                    opts=self.child())
                self.alarms.append(alarm)
                self.alarm_arns.append(composite.arn)
        self.register_outputs({"alarms": self.alarms})
