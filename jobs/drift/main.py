"""The scheduled drift job (`services[].logging.drift`): reads a baseline and a current window of
one service's logged request features, computes the population stability index per feature
(psi.py), writes one metric point per feature, and logs a WARNING record per feature above the
threshold (the alert on the metric is what notifies). It exits non-zero only when it cannot do
its work, so the scheduler retries a failed read, never a drift.

Where it reads and writes, DRIFT_SOURCE says:
  bigquery (the default; a Cloud Run job): the records' BigQuery table; the metric
            `custom.googleapis.com/mlinfra/drift/psi` in Cloud Monitoring
  s3       (a CronJob on EKS, aws.py): the records' day partitions in S3, written by Amazon Data
            Firehose; the CloudWatch metrics PSI (per feature) and MaxPSI (per run)

Configuration, from the environment the stack sets:
  DRIFT_SOURCE          bigquery or s3
  DRIFT_PROJECT         (bigquery) the project whose Monitoring receives the metric
  DRIFT_TABLE           (bigquery) `project.dataset.table` of the logged records
  DRIFT_BUCKET          (s3) the bucket holding the records
  DRIFT_PREFIX          (s3) the log's prefix in it (`request-logs/<service>/`)
  DRIFT_NAMESPACE       (s3) the CloudWatch namespace of the metrics
  AWS_REGION            (s3) the region of the bucket and of CloudWatch
  DRIFT_SERVICE         the service's name (the metric's `service` label or Service dimension)
  DRIFT_THRESHOLD       PSI above which a feature has drifted (e.g. 0.2)
  DRIFT_BINS            quantile bins of the baseline (e.g. 10)
  DRIFT_BASELINE_DAYS   days of the baseline window, just before the current one
  DRIFT_CURRENT_DAYS    days of the current window, up to now
  DRIFT_MIN_COUNT       values a window needs before a feature gets a PSI
  DRIFT_FEATURES        comma-separated feature names; empty: every numeric feature logged

The cloud clients are imported only when the job runs (requirements.txt); the tests pass fakes
(BigQuery, Monitoring) or run against moto (S3, CloudWatch).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

try:  # the job's directory as a package (tests) or as the working directory (the container)
    from . import aws
    from . import psi as drift
except ImportError:  # pragma: no cover
    import aws  # type: ignore[no-redef]
    import psi as drift  # type: ignore[no-redef]

METRIC = "custom.googleapis.com/mlinfra/drift/psi"
QUERY = ("SELECT features FROM `{table}` WHERE service = @service "
         "AND publish_time >= @start AND publish_time < @end")


SOURCES = {"bigquery": ("DRIFT_PROJECT", "DRIFT_TABLE", "DRIFT_SERVICE"),
           "s3": ("DRIFT_BUCKET", "DRIFT_PREFIX", "DRIFT_NAMESPACE", "DRIFT_SERVICE", "AWS_REGION")}
"""Each source's required settings."""


def _number(env: Mapping[str, str], name: str, default: str, kind: type) -> Any:
    text = env.get(name) or default
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{name} is {text!r}, not {'an integer' if kind is int else 'a number'}") from None


class Config(dict):
    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Config":
        source = env.get("DRIFT_SOURCE") or "bigquery"
        if source not in SOURCES:
            raise ValueError(f"DRIFT_SOURCE is {source!r}; allowed: {', '.join(SOURCES)}")
        missing = [k for k in SOURCES[source] if not env.get(k)]
        if missing:
            raise ValueError(f"missing environment variables: {', '.join(missing)}")
        features = [f.strip() for f in env.get("DRIFT_FEATURES", "").split(",") if f.strip()]
        where = ({"project": env["DRIFT_PROJECT"], "table": env["DRIFT_TABLE"]} if source == "bigquery" else
                 {"bucket": env["DRIFT_BUCKET"], "prefix": env["DRIFT_PREFIX"].rstrip("/") + "/",
                  "namespace": env["DRIFT_NAMESPACE"], "region": env["AWS_REGION"]})
        config = cls(source=source, **where, service=env["DRIFT_SERVICE"],
                     threshold=_number(env, "DRIFT_THRESHOLD", "0.2", float), bins=_number(env, "DRIFT_BINS", "10", int),
                     baseline_days=_number(env, "DRIFT_BASELINE_DAYS", "7", int),
                     current_days=_number(env, "DRIFT_CURRENT_DAYS", "1", int),
                     min_count=_number(env, "DRIFT_MIN_COUNT", "100", int), features=features or None)
        if config["threshold"] <= 0 or config["bins"] < 2 or config["min_count"] < 1:
            raise ValueError("DRIFT_THRESHOLD must be above 0, DRIFT_BINS at least 2, DRIFT_MIN_COUNT at least 1")
        if config["baseline_days"] < 1 or config["current_days"] < 1:
            raise ValueError("DRIFT_BASELINE_DAYS and DRIFT_CURRENT_DAYS are at least 1")
        return config

    def series(self, results: Sequence[drift.Drift], now: datetime) -> list[dict]:
        """What `run` writes: Cloud Monitoring time series, or CloudWatch metric data."""
        if self["source"] == "s3":
            return aws.metric_data(self["service"], results, now)
        return time_series(self["project"], self["service"], results, now)


def query_parameters(service: str, window: drift.Window) -> list[tuple[str, str, Any]]:
    """(name, BigQuery type, value) of QUERY's parameters."""
    return [("service", "STRING", service), ("start", "TIMESTAMP", window.start), ("end", "TIMESTAMP", window.end)]


def bigquery_job_config(parameters: list[tuple[str, str, Any]]) -> Any:
    from google.cloud import bigquery

    return bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter(*p) for p in parameters])


def read_features(client: Any, table: str, service: str, window: drift.Window,
                  job_config: Callable[[list], Any] = bigquery_job_config) -> list[str]:
    """The `features` column of the service's records in the window (a BigQuery client's query)."""
    rows = client.query(QUERY.format(table=table), job_config=job_config(query_parameters(service, window))).result()
    return [row["features"] for row in rows]


def time_series(project: str, service: str, results: Sequence[drift.Drift], now: datetime) -> list[dict]:
    """One GAUGE DOUBLE point per feature with a PSI, on the `global` resource."""
    seconds = int(now.timestamp())
    return [{"metric": {"type": METRIC, "labels": {"feature": r.feature, "service": service}},
             "resource": {"type": "global", "labels": {"project_id": project}},
             "points": [{"interval": {"end_time": {"seconds": seconds}}, "value": {"double_value": r.psi}}]}
            for r in results if r.psi is not None]


def write_metrics(client: Any, project: str, series: list[dict]) -> None:
    """Cloud Monitoring takes at most 200 series per call."""
    for i in range(0, len(series), 200):
        client.create_time_series(request={"name": f"projects/{project}", "time_series": series[i:i + 200]})


def run(config: Config, read: Callable[[drift.Window], Iterable[str]], write: Callable[[list[dict]], None],
        now: datetime, log: Callable[[dict], None]) -> list[drift.Drift]:
    """The job, with its reads and writes passed in."""
    baseline_window, current_window = drift.windows(now, config["current_days"], config["baseline_days"])
    baseline = drift.feature_values(read(baseline_window), config["features"])
    current = drift.feature_values(read(current_window), config["features"])
    results = drift.evaluate(baseline, current, config["threshold"], config["bins"], config["min_count"])
    write(config.series(results, now))
    for r in results:
        log({"severity": "WARNING" if r.drifted else "INFO",
             "message": f"feature {r.feature} drifted" if r.drifted else (
                 f"feature {r.feature} has too few values" if r.psi is None else f"feature {r.feature} is stable"),
             "service": config["service"], "feature": r.feature, "psi": r.psi, "threshold": config["threshold"],
             "baselineCount": r.baseline_count, "currentCount": r.current_count})
    return results


def main(env: Optional[Mapping[str, str]] = None) -> int:  # pragma: no cover - needs a cloud
    config = Config.from_env(os.environ if env is None else env)
    log = lambda record: print(json.dumps(record), flush=True)  # noqa: E731
    if config["source"] == "s3":
        return aws.main(config, run, log)
    from google.cloud import bigquery, monitoring_v3

    bq = bigquery.Client(project=config["project"])
    metrics = monitoring_v3.MetricServiceClient()
    run(config, lambda w: read_features(bq, config["table"], config["service"], w),
        lambda s: write_metrics(metrics, config["project"], s), datetime.now(timezone.utc), log)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
