"""The drift job's AWS side (DRIFT_SOURCE=s3, a CronJob on EKS): the records from S3, the metrics
to CloudWatch. main.py runs the job; psi.py does the arithmetic.

Records: Amazon Data Firehose writes what a server puts to its stream into objects under
`<prefix><yyyy>/<MM>/<dd>/` (the day, UTC, it received the batch), GZIP'd. Each object holds the
records as the server put them: JSON objects, one per line (or simply one after another). A
record counts in a window when its `service` is the job's and its `timestamp` (RFC 3339, or
seconds since the epoch) falls in it; lines that are not JSON objects, or have no readable
timestamp, are skipped and counted. The day partitions listed run from the day before the window
to the day after it: a batch is filed under its oldest record's arrival, and a record's own
timestamp is the server's.

Metrics (namespace DRIFT_NAMESPACE): `PSI` per feature with a PSI (dimensions Service, Feature)
and `MaxPSI`, the largest of them (dimension Service), which the alarm watches; nothing when no
feature had enough values in both windows.

boto3 is imported only when the job runs (main); the tests run these functions against moto.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

try:  # the job's directory as a package (tests) or as the working directory (the container)
    from . import psi as drift
except ImportError:  # pragma: no cover
    import psi as drift  # type: ignore[no-redef]

PSI_METRIC = "PSI"
MAX_PSI_METRIC = "MaxPSI"
PUT_LIMIT = 1000
"""Metric data per PutMetricData call (CloudWatch's limit)."""
_DECODER = json.JSONDecoder()


def day_prefixes(prefix: str, window: drift.Window) -> list[str]:
    """The day partitions that can hold the window's records: a day's margin on either side."""
    day = (window.start - timedelta(days=1)).date()
    last = (window.end + timedelta(days=1)).date()
    found = []
    while day <= last:
        found.append(f"{prefix}{day:%Y/%m/%d}/")
        day += timedelta(days=1)
    return found


def object_keys(s3: Any, bucket: str, prefix: str, window: drift.Window) -> Iterator[str]:
    """The keys of every object in the window's day partitions."""
    pages = s3.get_paginator("list_objects_v2")
    for day in day_prefixes(prefix, window):
        for page in pages.paginate(Bucket=bucket, Prefix=day):
            for item in page.get("Contents", ()):
                yield item["Key"]


def records(body: bytes) -> Iterator[Optional[Mapping[str, Any]]]:
    """The JSON objects of one delivered object (GZIP'd or not), None for each unreadable one."""
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    text, i = body.decode("utf-8", errors="replace"), 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return
        try:
            value, i = _DECODER.raw_decode(text, i)
        except json.JSONDecodeError:  # skip to the next line
            end = text.find("\n", i)
            i = len(text) if end < 0 else end + 1
            yield None
            continue
        yield value if isinstance(value, Mapping) else None


def timestamp(value: Any) -> Optional[datetime]:
    """A record's time, in UTC: RFC 3339 text (no zone: UTC) or seconds since the epoch."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def read_features(s3: Any, bucket: str, prefix: str, service: str, window: drift.Window,
                  skipped: Optional[dict] = None) -> list[Any]:
    """The `features` of the service's records in the window; `skipped` gets the count of
    unreadable records per object (an object both windows list is counted once)."""
    found = []
    for key in object_keys(s3, bucket, prefix, window):
        unreadable = 0
        for record in records(s3.get_object(Bucket=bucket, Key=key)["Body"].read()):
            when = timestamp(record.get("timestamp")) if record is not None else None
            if when is None:
                unreadable += 1
            elif record.get("service") == service and window.start <= when < window.end \
                    and record.get("features") is not None:
                found.append(record["features"])
        if unreadable and skipped is not None:
            skipped[key] = unreadable
    return found


def metric_data(service: str, results: Sequence[drift.Drift], now: datetime) -> list[dict]:
    """CloudWatch metric data of one run: PSI per feature with an index, and their maximum."""
    scored = [r for r in results if r.psi is not None]
    data = [{"MetricName": PSI_METRIC, "Dimensions": [{"Name": "Service", "Value": service},
                                                      {"Name": "Feature", "Value": r.feature}],
             "Timestamp": now, "Value": r.psi, "Unit": "None"} for r in scored]
    if scored:
        data.append({"MetricName": MAX_PSI_METRIC, "Dimensions": [{"Name": "Service", "Value": service}],
                     "Timestamp": now, "Value": max(r.psi for r in scored), "Unit": "None"})
    return data


def write_metrics(cloudwatch: Any, namespace: str, data: list[dict]) -> None:
    """PutMetricData, at most PUT_LIMIT metric data per call."""
    for i in range(0, len(data), PUT_LIMIT):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[i:i + PUT_LIMIT])


def main(config: Mapping[str, Any], run: Callable, log: Callable[[dict], None],
         now: Optional[datetime] = None, session: Any = None) -> int:
    """Run the job on S3 and CloudWatch (`run`: main.run), as the pod's Pod Identity role."""
    if session is None:  # pragma: no cover - the container's path
        import boto3

        session = boto3.session.Session(region_name=config["region"])
    s3, cloudwatch = session.client("s3"), session.client("cloudwatch")
    skipped: dict = {}
    run(config, lambda w: read_features(s3, config["bucket"], config["prefix"], config["service"], w, skipped),
        lambda data: write_metrics(cloudwatch, config["namespace"], data), now or datetime.now(timezone.utc), log)
    if skipped:
        count = sum(skipped.values())
        log({"severity": "WARNING", "message": f"skipped {count} records that are not JSON objects with a readable "
             "timestamp", "service": config["service"], "skipped": count, "objects": len(skipped)})
    return 0
