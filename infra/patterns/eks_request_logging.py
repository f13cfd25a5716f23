"""An EKS server's request log (`services[].logging` on AWS) and its drift job, as children of the
pattern: the Firehose stream before the server (its role puts records there, its pods get the
stream's name), the data lake's lifecycle rule for the log's prefix (the storage's), and after the
servers' alarms the drift CronJob in the jobs namespace with, in prod or with `drift.alert: true`,
its alarm notifying the stack's alert topic."""

from __future__ import annotations

from typing import Any, Sequence

from components.aws.monitoring.eks_request_logging_spec import log_prefix, stream_name


def logged(services: Sequence[Any]) -> list[Any]:
    """The services with `logging`."""
    return [s for s in services if getattr(s, "logging", None) is not None]


def lake_expirations(services: Sequence[Any]) -> list[tuple[str, int]]:
    """Each log's prefix of the data lake and its retention (the lake's lifecycle rules)."""
    return [(log_prefix(s.name), s.logging.retention_days) for s in logged(services)]


def drift_alerted(services: Sequence[Any], prod: bool) -> bool:
    """Whether any drift job gets an alarm (the stack then needs its alert topic)."""
    return any(s.logging.drift is not None and s.logging.drift.alerts(prod) for s in logged(services))


def build_request_log(pattern, spec):
    """The service's Firehose stream (`pattern.request_logs[spec.name]`), before its server."""
    from components.aws.monitoring.request_log_stream import RequestLogStream, RequestLogStreamArgs

    args = pattern.args
    stream = RequestLogStream(f"{pattern.name}-log-{spec.name}", RequestLogStreamArgs(
        service=spec.name, stream_name=stream_name(args.stack, spec.name), bucket=pattern.storage.data_lake,
        kms_key_arn=pattern.storage.kms_key_arn, region=args.region, account=pattern.account),
        opts=pattern.child())
    pattern.request_logs[spec.name] = stream
    return stream


def build_drift_watches(pattern, namespace: str, depends_on: list) -> dict:
    """Each logging service's drift job and alarm, by service."""
    from components.aws.eks.eks_drift_watch import EksDriftWatch, EksDriftWatchArgs

    args = pattern.args
    watches = {}
    for spec in logged(args.services):
        drift = spec.logging.drift
        if drift is None:
            continue
        alert = drift.alerts(args.prod)
        watches[spec.name] = EksDriftWatch(f"{pattern.name}-drift-{spec.name}", EksDriftWatchArgs(
            spec=drift, service=spec.name, bucket=pattern.storage.data_lake,
            bucket_name=pattern.bucket_names["dataLake"], kms_key_arn=pattern.storage.kms_key_arn,
            namespace=namespace, provider=pattern.cluster.provider, cluster_name=pattern.cluster.cluster_name,
            region=args.region, nodes=pattern.cluster.nodes, alarm_name=f"{pattern.alarm_prefix}-{spec.name}-drift",
            alert=alert, topics=pattern.alert_topic.arns if alert else ()),
            opts=pattern.child(provider=pattern.cluster.provider, depends_on=depends_on))
    return watches


def outputs(pattern) -> dict:
    """`request_logs`: per logging service its stream, where its records land, and its drift job."""
    lake = pattern.bucket_names["dataLake"]
    return {name: {"stream": stream.stream_name, "records": f"s3://{lake}/{stream.prefix}",
                   **({"drift_job": pattern.drift_watches[name].job_name} if name in pattern.drift_watches else {})}
            for name, stream in pattern.request_logs.items()}
