"""jobs/drift on generated data: the PSI of a shifted distribution is above 0.2, of the same
distribution below 0.1; the windows, the feature extraction, and the job end to end with fake
BigQuery and Monitoring clients (the real clients are only in the job's image)."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta, timezone

import pytest

from jobs.drift import main as job
from jobs.drift import psi as drift

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=timezone.utc)


def normal(n: int, mean: float = 0.0, sd: float = 1.0, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(mean, sd) for _ in range(n)]


def test_the_same_distribution_is_stable_and_a_shifted_one_drifts():
    baseline = normal(5000, seed=1)
    assert drift.psi(baseline, normal(5000, seed=2)) < 0.1
    assert drift.psi(baseline, normal(5000, mean=0.5, seed=3)) > 0.2
    assert drift.psi(baseline, normal(5000, sd=2.0, seed=4)) > 0.2


def test_psi_matches_the_formula_on_hand_made_bins():
    # Baseline 0..99: deciles cut at 9.9, 19.8, ...; the current window puts half its values in the first bin.
    baseline = [float(v) for v in range(100)]
    current = [0.0] * 50 + [float(v) for v in range(50, 100)]
    b = [0.1] * 10
    c = [0.5 + 0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.1, 0.1, 0.1, 0.1]
    c = [max(x, drift.FLOOR) for x in c]
    assert drift.fractions(current, drift.quantile_edges(baseline, 10)) == pytest.approx(c)
    assert drift.psi(baseline, current) == pytest.approx(sum((ci - bi) * math.log(ci / bi) for bi, ci in zip(b, c)))


def test_edges_are_the_baseline_quantiles_and_collapse_on_repeated_values():
    assert drift.quantile_edges([0.0, 1.0, 2.0, 3.0, 4.0], 4) == [1.0, 2.0, 3.0]
    assert drift.quantile_edges([1.0] * 50 + [2.0] * 50, 10) == [1.0, 1.5, 2.0]
    assert drift.quantile_edges([1.0] * 10, 10) == [1.0]  # a constant: itself, and above it


def test_an_empty_bin_is_floored_so_the_index_stays_finite():
    baseline = [float(v) for v in range(100)]
    value = drift.psi(baseline, [200.0] * 100)
    assert math.isfinite(value) and value > 5
    assert drift.fractions([200.0] * 10, [1.0, 2.0], floor=0.01) == [0.01, 0.01, 1.0]


@pytest.mark.parametrize("call, message", [
    (lambda: drift.psi([], [1.0]), "baseline window has no values"),
    (lambda: drift.psi([1.0], []), "window has no values"),
    (lambda: drift.quantile_edges([1.0], 1), "bins must be at least 2"),
    (lambda: drift.windows(NOW, 0, 7), "at least one day"),
])
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_the_baseline_window_ends_where_the_current_one_starts():
    baseline, current = drift.windows(NOW, 1, 7)
    assert current == drift.Window(NOW - timedelta(days=1), NOW)
    assert baseline == drift.Window(NOW - timedelta(days=8), NOW - timedelta(days=1))


def test_numeric_features_are_taken_from_the_logged_json():
    rows = [json.dumps({"age": 31, "income": 5.5, "country": "de", "vip": True, "score": None}),
            json.dumps({"age": 40.0}), "[1, 2]", {"income": float("nan")}]
    assert drift.feature_values(rows) == {"age": [31.0, 40.0], "income": [5.5]}
    assert drift.feature_values(rows, ["income", "tenure"]) == {"income": [5.5], "tenure": []}


def test_a_feature_with_too_few_values_gets_no_index():
    results = drift.evaluate({"a": normal(200), "b": normal(50)}, {"a": normal(200, seed=9), "b": normal(50)},
                             threshold=0.2, min_count=100)
    assert [(r.feature, r.psi is None, r.baseline_count, r.current_count, r.drifted) for r in results] == [
        ("a", False, 200, 200, False), ("b", True, 50, 50, False)]


class FakeQuery:
    def __init__(self, rows):
        self.rows = rows

    def result(self):
        return [{"features": r} for r in self.rows]


class FakeBigQuery:
    """Answers the job's query with the generated records whose publish time is in the window."""

    def __init__(self, records):
        self.records, self.calls = records, []

    def query(self, sql, job_config):
        params = dict((name, value) for name, _, value in job_config)
        self.calls.append((sql, job_config))
        return FakeQuery([json.dumps(f) for t, s, f in self.records
                          if s == params["service"] and params["start"] <= t < params["end"]])


class FakeMonitoring:
    def __init__(self):
        self.requests = []

    def create_time_series(self, request):
        self.requests.append(request)


def generated_records(shift: float) -> list:
    """A week of baseline traffic and a day of current traffic for service `scorer` (income
    shifted by `shift` standard deviations in the current day), plus another service's records."""
    rng = random.Random(7)
    records = []
    for i in range(3000):
        t = NOW - timedelta(days=8) + timedelta(days=7) * i / 3000
        records.append((t, "scorer", {"age": rng.gauss(40, 10), "income": rng.gauss(50, 5), "country": "de"}))
    for i in range(1000):
        t = NOW - timedelta(days=1) + timedelta(days=1) * i / 1000
        records.append((t, "scorer", {"age": rng.gauss(40, 10), "income": rng.gauss(50 + 5 * shift, 5)}))
        records.append((t, "other", {"age": 1000.0}))
    return records


ENV = {"DRIFT_PROJECT": "acme-ml", "DRIFT_TABLE": "acme-ml.requests_scorer.records", "DRIFT_SERVICE": "scorer",
       "DRIFT_THRESHOLD": "0.2", "DRIFT_BINS": "10", "DRIFT_BASELINE_DAYS": "7", "DRIFT_CURRENT_DAYS": "1",
       "DRIFT_MIN_COUNT": "100", "DRIFT_FEATURES": ""}


def run_job(shift: float):
    bq, monitoring, logged = FakeBigQuery(generated_records(shift)), FakeMonitoring(), []
    config = job.Config.from_env(ENV)
    results = job.run(config, lambda w: job.read_features(bq, config["table"], "scorer", w, job_config=lambda p: p),
                      lambda s: job.write_metrics(monitoring, "acme-ml", s), NOW, logged.append)
    return results, bq, monitoring, logged


def test_the_job_writes_one_point_per_feature_and_warns_on_the_shifted_one():
    results, bq, monitoring, logged = run_job(shift=1.0)
    assert [(r.feature, r.drifted) for r in results] == [("age", False), ("income", True)]
    assert [sql for sql, _ in bq.calls] == [
        "SELECT features FROM `acme-ml.requests_scorer.records` WHERE service = @service "
        "AND publish_time >= @start AND publish_time < @end"] * 2
    assert [p for _, p in bq.calls] == [
        [("service", "STRING", "scorer"), ("start", "TIMESTAMP", NOW - timedelta(days=8)),
         ("end", "TIMESTAMP", NOW - timedelta(days=1))],
        [("service", "STRING", "scorer"), ("start", "TIMESTAMP", NOW - timedelta(days=1)), ("end", "TIMESTAMP", NOW)]]
    (request,) = monitoring.requests
    assert request["name"] == "projects/acme-ml"
    assert [(s["metric"], s["resource"], s["points"][0]["interval"]) for s in request["time_series"]] == [
        ({"type": "custom.googleapis.com/mlinfra/drift/psi", "labels": {"feature": f, "service": "scorer"}},
         {"type": "global", "labels": {"project_id": "acme-ml"}}, {"end_time": {"seconds": int(NOW.timestamp())}})
        for f in ("age", "income")]
    age, income = (s["points"][0]["value"]["double_value"] for s in request["time_series"])
    assert age < 0.1 < 0.2 < income
    assert [(r["severity"], r["message"], r["feature"]) for r in logged] == [
        ("INFO", "feature age is stable", "age"), ("WARNING", "feature income drifted", "income")]
    assert logged[1]["psi"] == income and logged[1]["baselineCount"] == 3000 and logged[1]["currentCount"] == 1000


def test_the_same_traffic_writes_low_indices_and_no_warning():
    results, _, monitoring, logged = run_job(shift=0.0)
    assert all(r.psi < 0.1 for r in results)
    assert {r["severity"] for r in logged} == {"INFO"}
    assert len(monitoring.requests[0]["time_series"]) == 2


def test_the_named_features_only_and_monitorings_200_series_per_call():
    config = job.Config.from_env({**ENV, "DRIFT_FEATURES": "income, tenure"})
    assert config["features"] == ["income", "tenure"]
    monitoring = FakeMonitoring()
    job.write_metrics(monitoring, "p", [{"n": i} for i in range(450)])
    assert [len(r["time_series"]) for r in monitoring.requests] == [200, 200, 50]


def test_a_missing_setting_is_named():
    with pytest.raises(ValueError, match="DRIFT_TABLE, DRIFT_SERVICE"):
        job.Config.from_env({"DRIFT_PROJECT": "p"})
