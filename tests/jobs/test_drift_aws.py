"""jobs/drift with DRIFT_SOURCE=s3 (the CronJob of an EKS server's log), end to end against moto's
S3 and CloudWatch: generated records in Firehose's day partitions (GZIP'd JSON lines), a shifted
feature alerts and an unshifted one does not, an empty window writes nothing, records of another
service, outside the windows or unreadable are left out, and a wrong configuration is named."""

from __future__ import annotations

import gzip
import json
import random
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from components.aws.monitoring import eks_request_logging_spec as spec
from jobs.drift import aws as job_aws
from jobs.drift import main as job
from jobs.drift import psi as drift

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=timezone.utc)
BUCKET = "mlinfra-eks-prod-us-east-1-data-lake"
REGION = "us-east-1"
ENV = spec.job_env(spec.EksDriftSpec(image="123456789012.dkr.ecr.us-east-1.amazonaws.com/drift:1"),
                   BUCKET, "scorer", REGION)


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def generated_records(shift: float) -> list[tuple[datetime, dict]]:
    """A week of baseline traffic and a day of current traffic for service `scorer` (income
    shifted by `shift` standard deviations in the current day), another service's records, and
    records before the baseline window (which must not count)."""
    rng = random.Random(7)
    out = []
    for i in range(3000):
        t = NOW - timedelta(days=8) + timedelta(days=7) * i / 3000
        out.append((t, {"service": "scorer", "features": json.dumps(
            {"age": rng.gauss(40, 10), "income": rng.gauss(50, 5), "country": "de"})}))
    for i in range(1000):
        t = NOW - timedelta(days=1) + timedelta(days=1) * i / 1000
        out.append((t, {"service": "scorer", "features": json.dumps(
            {"age": rng.gauss(40, 10), "income": rng.gauss(50 + 5 * shift, 5)})}))
        out.append((t, {"service": "other", "features": json.dumps({"age": 1000.0})}))
    for i in range(500):  # nine days ago: outside both windows, in a partition the job lists
        out.append((NOW - timedelta(days=8, minutes=1 + i), {"service": "scorer", "features": json.dumps({"age": 1e6})}))
    return out


def deliver(s3, records: list[tuple[datetime, dict]], per_object: int = 400) -> list[str]:
    """Write records as Firehose does: GZIP'd JSON lines, filed under the day each batch arrived."""
    by_day: dict = {}
    for t, record in sorted(records, key=lambda r: r[0]):
        by_day.setdefault(t.date(), []).append({**record, "timestamp": stamp(t), "request_id": "r",
                                                "revision": "scorer-stable-v1", "prediction": "0.5"})
    keys = []
    for day, rows in by_day.items():
        for n, i in enumerate(range(0, len(rows), per_object)):
            key = f"{spec.log_prefix('scorer')}{day:%Y/%m/%d}/mlinfra-eks-prod-scorer-requests-1-{day}-{n:04}.gz"
            body = "".join(json.dumps(r) + "\n" for r in rows[i:i + per_object]).encode()
            s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(body))
            keys.append(key)
    return keys


@pytest.fixture
def session(monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_SESSION_TOKEN", "testing"), ("AWS_DEFAULT_REGION", REGION)):
        monkeypatch.setenv(name, value)
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        session.client("s3").create_bucket(Bucket=BUCKET)
        yield session


def run_job(session, env=ENV):
    logged: list[dict] = []
    config = job.Config.from_env(env)
    job_aws.main(config, job.run, logged.append, now=NOW, session=session)
    return logged


def metrics(session) -> dict:
    """Every datum CloudWatch holds in the drift namespace: {(metric, dimensions): [values]}."""
    cw = session.client("cloudwatch")
    found = {}
    for m in cw.list_metrics(Namespace=spec.DRIFT_NAMESPACE)["Metrics"]:
        stats = cw.get_metric_statistics(Namespace=spec.DRIFT_NAMESPACE, MetricName=m["MetricName"],
                                         Dimensions=m["Dimensions"], StartTime=NOW - timedelta(hours=1),
                                         EndTime=NOW + timedelta(hours=1), Period=3600, Statistics=["Maximum"])
        dims = tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"]))
        found[(m["MetricName"], dims)] = [p["Maximum"] for p in stats["Datapoints"]]
    return found


def test_a_shifted_feature_writes_a_high_psi_and_the_max_the_alarm_watches(session):
    deliver(session.client("s3"), generated_records(shift=1.0))
    logged = run_job(session)
    found = metrics(session)
    assert sorted(found) == [
        ("MaxPSI", (("Service", "scorer"),)),
        ("PSI", (("Feature", "age"), ("Service", "scorer"))),
        ("PSI", (("Feature", "income"), ("Service", "scorer")))]
    [age] = found[("PSI", (("Feature", "age"), ("Service", "scorer")))]
    [income] = found[("PSI", (("Feature", "income"), ("Service", "scorer")))]
    assert age < 0.1 < 0.2 < income
    assert found[("MaxPSI", (("Service", "scorer"),))] == [income]
    assert [(r["severity"], r["message"]) for r in logged] == [
        ("INFO", "feature age is stable"), ("WARNING", "feature income drifted")]
    # The baseline is the week before the current day, the other service's and older records left out.
    assert (logged[1]["baselineCount"], logged[1]["currentCount"]) == (3000, 1000)


def test_the_same_traffic_writes_low_indices_and_no_warning(session):
    deliver(session.client("s3"), generated_records(shift=0.0))
    logged = run_job(session)
    assert {r["severity"] for r in logged} == {"INFO"}
    [peak] = metrics(session)[("MaxPSI", (("Service", "scorer"),))]
    assert peak < 0.1


def test_an_empty_window_writes_no_metric_and_does_not_fail(session):
    baseline_only = [(t, r) for t, r in generated_records(shift=1.0) if t < NOW - timedelta(days=1)]
    deliver(session.client("s3"), baseline_only)
    logged = run_job(session)
    assert metrics(session) == {}
    assert [(r["feature"], r["psi"], r["currentCount"], r["message"]) for r in logged] == [
        ("age", None, 0, "feature age has too few values"), ("income", None, 0, "feature income has too few values")]


def test_an_empty_log_writes_nothing(session):
    assert run_job(session) == [] and metrics(session) == {}


def test_the_named_features_only(session):
    deliver(session.client("s3"), generated_records(shift=1.0))
    run_job(session, {**ENV, "DRIFT_FEATURES": "age"})
    assert sorted(k for k in metrics(session) if k[0] == "PSI") == [("PSI", (("Feature", "age"), ("Service", "scorer")))]


def test_unreadable_records_are_skipped_and_counted(session):
    s3 = session.client("s3")
    deliver(s3, generated_records(shift=0.0))
    day = NOW - timedelta(hours=1)
    lines = [b"not json\n", json.dumps({"service": "scorer", "features": "{}"}).encode() + b"\n",  # no timestamp
             json.dumps([1, 2]).encode() + b"\n",
             # two records put without a newline between them still parse
             (json.dumps({"service": "scorer", "timestamp": stamp(day), "features": {"age": 40.0}}) * 2).encode()]
    s3.put_object(Bucket=BUCKET, Key=f"{spec.log_prefix('scorer')}{day:%Y/%m/%d}/extra", Body=b"".join(lines))
    logged = run_job(session)
    assert logged[-1]["severity"] == "WARNING" and logged[-1]["skipped"] == 3
    assert logged[0]["feature"] == "age" and logged[0]["currentCount"] == 1002


def test_the_windows_day_partitions_have_a_days_margin():
    baseline, current = drift.windows(NOW, 1, 7)
    assert job_aws.day_prefixes("request-logs/scorer/", current) == [
        "request-logs/scorer/2026/11/29/", "request-logs/scorer/2026/11/30/", "request-logs/scorer/2026/12/01/",
        "request-logs/scorer/2026/12/02/"]
    assert job_aws.day_prefixes("p/", baseline)[::9] == ["p/2026/11/22/", "p/2026/12/01/"]  # 10 days


@pytest.mark.parametrize("value, expected", [
    ("2026-12-01T06:00:00Z", NOW), ("2026-12-01T07:00:00+01:00", NOW), ("2026-12-01T06:00:00", NOW),
    (NOW.timestamp(), NOW), ("yesterday", None), (None, None), (True, None)])
def test_timestamps(value, expected):
    assert job_aws.timestamp(value) == expected


def test_cloudwatch_takes_at_most_1000_metric_data_per_call():
    class FakeCloudWatch:
        calls: list = []

        def put_metric_data(self, Namespace, MetricData):
            self.calls.append((Namespace, len(MetricData)))

    cw = FakeCloudWatch()
    job_aws.write_metrics(cw, "mlinfra/drift", [{"n": i} for i in range(2500)])
    assert cw.calls == [("mlinfra/drift", 1000), ("mlinfra/drift", 1000), ("mlinfra/drift", 500)]


def test_the_stack_and_the_job_agree_on_the_metrics():
    assert (job_aws.PSI_METRIC, job_aws.MAX_PSI_METRIC) == (spec.PSI_METRIC, spec.MAX_PSI_METRIC)
    config = job.Config.from_env(ENV)
    assert (config["source"], config["bucket"], config["prefix"], config["namespace"], config["region"]) == (
        "s3", BUCKET, "request-logs/scorer/", "mlinfra/drift", REGION)


@pytest.mark.parametrize("env, message", [
    ({**ENV, "DRIFT_SOURCE": "gcs"}, "DRIFT_SOURCE is 'gcs'; allowed: bigquery, s3"),
    ({k: v for k, v in ENV.items() if k not in ("DRIFT_BUCKET", "AWS_REGION")},
     "missing environment variables: DRIFT_BUCKET, AWS_REGION"),
    ({**ENV, "DRIFT_THRESHOLD": "high"}, "DRIFT_THRESHOLD is 'high', not a number"),
    ({**ENV, "DRIFT_BINS": "1.5"}, "DRIFT_BINS is '1.5', not an integer"),
    ({**ENV, "DRIFT_BINS": "1"}, "DRIFT_BINS at least 2"),
    ({**ENV, "DRIFT_CURRENT_DAYS": "0"}, "at least 1"),
])
def test_a_wrong_configuration_is_named(env, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        job.Config.from_env(env)
