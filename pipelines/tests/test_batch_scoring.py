"""batch_scoring end to end on the bundle-based DirectRunner, with a model the test trains."""
from __future__ import annotations

import datetime as dt
import json
import os

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.util import BeamAssertException, equal_to

from batch_scoring.model import ModelVersionNotFound
from batch_scoring.pipeline import ScoringOptions, build, run
from beamkit.sinks import FailOnDeadLetter
from helpers import Expect, runner_options

SCORED_AT = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.timezone.utc)


def records(n: int, seed: int = 11) -> tuple[list[str], np.ndarray]:
    x = np.random.default_rng(seed).normal(size=(n, 3))
    lines = [json.dumps({"id": f"user-{i}", "features": row.tolist(), "extra": "ignored"})
             for i, row in enumerate(x)]
    return lines, x


def predictions_close_to(expected: list[dict]):
    """Rows equal to `expected` in every field, the score within 1e-12: a batch of 1 and a
    batch of 50 may round the last bit of a dot product differently."""
    def check(actual):
        by_id = {r["id"]: r for r in actual}
        if len(actual) != len(expected) or set(by_id) != {r["id"] for r in expected}:
            raise BeamAssertException(f"ids differ: {sorted(by_id)}")
        for want in expected:
            got = by_id[want["id"]]
            if {k: v for k, v in got.items() if k != "score"} != \
                    {k: v for k, v in want.items() if k != "score"} \
                    or abs(got["score"] - want["score"]) > 1e-12:
                raise BeamAssertException(f"{got} != {want}")
    return check


def expected_rows(model, x, version):
    scores = model.predict_proba(x)[:, 1]
    return [{"id": f"user-{i}", "score": float(s), "model_version": version,
             "scored_at": "2026-12-01T03:00:00+00:00"} for i, s in enumerate(scores)]


def test_every_record_is_scored_by_the_requested_version_and_written_with_its_metadata(
        registry):
    uri, models = registry
    lines, x = records(40)
    options = ScoringOptions(model_uri=uri, model_version="3", scored_at=SCORED_AT,
                             max_batch_size=16)
    with beam.Pipeline(options=runner_options()) as p:
        build(p, beam.Create(lines),
              Expect(predictions_close_to(expected_rows(models["3"], x, "3")), "rows"),
              options, Expect(equal_to([]), "no dead letters"))


def test_the_other_version_gives_the_other_models_scores(registry):
    uri, models = registry
    lines, x = records(10)
    options = ScoringOptions(model_uri=uri, model_version="2", scored_at=SCORED_AT)
    with beam.Pipeline(options=runner_options()) as p:
        build(p, beam.Create(lines),
              Expect(predictions_close_to(expected_rows(models["2"], x, "2")), "rows"),
              options, Expect(equal_to([]), "no dead letters"))


def test_bigquery_rows_with_custom_field_names_are_scored_like_json_lines(registry):
    uri, models = registry
    x = np.random.default_rng(3).normal(size=(5, 3))
    rows = [{"customer": i, "vec": r.tolist()} for i, r in enumerate(x)]
    expected = [dict(r, id=r["id"].removeprefix("user-"))
                for r in expected_rows(models["3"], x, "3")]
    options = ScoringOptions(model_uri=uri, model_version="3", scored_at=SCORED_AT,
                             id_field="customer", features_field="vec")
    with beam.Pipeline(options=runner_options()) as p:
        build(p, beam.Create(rows), Expect(predictions_close_to(expected), "rows"),
              options, Expect(equal_to([]), "no dead letters"))


BAD = [
    (b"{not json", "not JSON"),
    (b'["a", "list"]', "not a JSON object"),
    (b'{"features": [1, 2, 3]}', "missing field 'id'"),
    (b'{"id": "u", "features": "1,2,3"}', "not a non-empty list of numbers"),
    (b'{"id": "u", "features": [1, true, 3]}', "not a number"),
    (b'{"id": "u", "features": [1, NaN, 3]}', "not finite"),
]


def test_unparseable_records_go_to_the_dead_letter_output_and_the_rest_are_scored(registry):
    uri, models = registry
    lines, x = records(3)
    expected_dead = [{"payload": raw, "error": "", "pipeline": "batch_scoring"}
                     for raw, _ in BAD]

    def dead_letters_match(actual):
        got = sorted(actual, key=lambda d: d["payload"])
        want = sorted(zip(expected_dead, BAD), key=lambda p: p[0]["payload"])
        if len(got) != len(want):
            raise BeamAssertException(f"{len(got)} dead letters, want {len(want)}")
        for g, (w, (_, reason)) in zip(got, want):
            if g["payload"] != w["payload"] or reason not in g["error"] \
                    or g["pipeline"] != "batch_scoring":
                raise BeamAssertException(f"{g} is not {w['payload']!r} for {reason!r}")

    options = ScoringOptions(model_uri=uri, model_version="3", scored_at=SCORED_AT)
    with beam.Pipeline(options=runner_options()) as p:
        build(p, beam.Create([line.encode() for line in lines] + [raw for raw, _ in BAD]),
              Expect(predictions_close_to(expected_rows(models["3"], x, "3")), "rows"),
              options, Expect(dead_letters_match, "dead letters"))


def test_without_a_dead_letter_path_an_unparseable_record_fails_the_job(registry):
    uri, _ = registry
    options = ScoringOptions(model_uri=uri, model_version="3", scored_at=SCORED_AT)
    with pytest.raises(Exception, match="unparseable record"):
        with beam.Pipeline(options=runner_options()) as p:
            build(p, beam.Create(records(2)[0] + ["{oops"]), beam.Map(lambda r: r), options,
                  FailOnDeadLetter())


def test_main_reads_json_lines_files_and_scores_them_with_the_real_text_source(
        registry, tmp_path):
    uri, models = registry
    lines, x = records(12)
    os.makedirs(tmp_path / "lake")
    for part in (0, 1):
        (tmp_path / "lake" / f"part-{part}.jsonl").write_text(
            "\n".join(lines[part * 6:(part + 1) * 6]) + "\n")
    seen = {}

    def make_io(args):
        from batch_scoring.pipeline import default_io
        source, _, dead = default_io(args)
        seen["dead"] = type(dead).__name__
        return source, Expect(predictions_close_to(expected_rows(models["3"], x, "3")),
                              "rows"), dead

    result = run(["--inputPattern", str(tmp_path / "lake" / "*.jsonl"), "--modelUri", uri,
                  "--modelVersion", "3", "--outputTable", "acme-ml-dev:scores.churn",
                  "--runner=BundleBasedDirectRunner"],
                 make_io=make_io, now=lambda: SCORED_AT)
    result.wait_until_finish()
    assert seen["dead"] == "FailOnDeadLetter"


def test_main_refuses_to_launch_with_a_model_version_that_does_not_exist(registry):
    uri, _ = registry
    with pytest.raises(ModelVersionNotFound, match="'4' not found"):
        run(["--inputPattern", "x.jsonl", "--modelUri", uri, "--modelVersion", "4",
             "--outputTable", "acme-ml-dev:scores.churn"],
            make_io=lambda args: pytest.fail("no IO at all"))


def test_main_wants_exactly_one_input(registry, capsys):
    uri, _ = registry
    common = ["--modelUri", uri, "--modelVersion", "3", "--outputTable", "acme-ml-dev:scores.churn"]
    for extra in ([], ["--inputPattern", "a", "--inputTable", "acme-ml-dev:scores.churn"]):
        with pytest.raises(SystemExit):
            run(common + extra)
        assert "exactly one of --inputPattern and --inputTable" in capsys.readouterr().err


def test_a_record_the_model_cannot_take_is_dead_lettered_and_its_batch_still_scored(registry):
    uri, models = registry
    lines, x = records(4)
    short = json.dumps({"id": "short", "features": [1.0, 2.0]})

    def the_short_record(actual):
        if len(actual) != 1:
            raise BeamAssertException(f"want one dead letter, got {actual}")
        (letter,) = actual
        if json.loads(letter["payload"]) != {"id": "short", "features": [1.0, 2.0]} \
                or "expects 3 features per record, got 2" not in letter["error"]:
            raise BeamAssertException(str(letter))

    # One batch holds all five records, so the short one shares a model call with the rest.
    options = ScoringOptions(model_uri=uri, model_version="3", scored_at=SCORED_AT,
                             min_batch_size=5, max_batch_size=5)
    with beam.Pipeline(options=runner_options()) as p:
        build(p, beam.Create(lines + [short]),
              Expect(predictions_close_to(expected_rows(models["3"], x, "3")), "rows"),
              options, Expect(the_short_record, "dead letters"))


def test_main_writes_dead_letters_as_json_lines_under_the_dead_letter_path(registry, tmp_path):
    uri, models = registry
    lines, x = records(3)
    # A blank line is no record: skipped, not dead-lettered.
    (tmp_path / "in.jsonl").write_text("\n".join(lines + ["{oops", "", "  ", '{"id": 5}']) + "\n")

    def make_io(args):
        from batch_scoring.pipeline import default_io
        source, _, dead = default_io(args)
        return source, Expect(predictions_close_to(expected_rows(models["3"], x, "3")),
                              "rows"), dead

    run(["--inputPattern", str(tmp_path / "in.jsonl"), "--modelUri", uri,
         "--modelVersion", "3", "--outputTable", "acme-ml-dev:scores.churn",
         "--deadLetterPath", str(tmp_path / "dead" / "run"),
         "--runner=BundleBasedDirectRunner"], make_io=make_io,
        now=lambda: SCORED_AT).wait_until_finish()
    written = [json.loads(line) for f in sorted((tmp_path / "dead").glob("run*.jsonl"))
               for line in f.read_text().splitlines()]
    assert sorted((d["payload"], d["pipeline"]) for d in written) == [
        ('{"id": 5}', "batch_scoring"), ("{oops", "batch_scoring")]
    assert {d["payload"]: d["error"] for d in written}['{"id": 5}'] == \
        "missing field 'features'"
