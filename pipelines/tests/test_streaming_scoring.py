"""streaming_scoring end to end: records scored before and after a new `_READY` marker carry
the old and then the new version, a version that cannot be loaded is refused and the job keeps
its model, malformed messages are dead-lettered.

Model updates are a side input, and side-input semantics differ between runners: like Beam's
own test of RunInference's model updates (base_test.test_run_inference_side_input_in_batch),
these run on the FnApiRunner with both inputs in the same fixed windows, where a window's
records see exactly that window's update (or, without one, the version the handler holds).
"""
from __future__ import annotations

import json
import os

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.ml.inference.base import ModelMetadata
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import BeamAssertException, equal_to
from apache_beam.transforms import trigger, window
from apache_beam.transforms.window import TimestampedValue

from batch_scoring.model import MODEL_FILE, ModelVersionNotFound
from helpers import Expect
from streaming_scoring.model import READY_FILE, NoMarker
from streaming_scoring.pipeline import StreamingScoringOptions, build, run

WINDOW = 10
SCORED_AT = "2026-12-02T01:00:00+00:00"
X = np.random.default_rng(5).normal(size=(6, 3))


def fnapi() -> PipelineOptions:
    return PipelineOptions(["--runner=FnApiRunner"])


class _Emit(beam.DoFn):
    def process(self, values):
        yield from values


class Windowed(beam.PTransform):
    """(event time, element) pairs in fixed windows, released per window through a GroupByKey
    as in Beam's own test, so each window's records and model update meet in that window."""

    def __init__(self, timed):
        super().__init__()
        self._timed = timed

    def expand(self, pbegin):
        return (pbegin
                | beam.Create(self._timed)
                | beam.MapTuple(lambda ts, x: TimestampedValue(x, ts))
                | beam.WindowInto(window.FixedWindows(WINDOW),
                                  accumulation_mode=trigger.AccumulationMode.DISCARDING)
                | beam.Map(lambda x: ("all", x))
                | beam.GroupByKey()
                | beam.Map(lambda kv: kv[1])
                | beam.ParDo(_Emit()))


def record(i: int) -> bytes:
    return json.dumps({"id": f"r{i}", "features": X[i].tolist()}).encode()


def marker(uri: str, version: str) -> ModelMetadata:
    """What WatchFilePattern emits for a new `<uri>/<version>/_READY`; for None, what it emits
    for markers older than the job (an empty path: keep the launch version)."""
    if version is None:
        return ModelMetadata(model_id="", model_name="")
    return ModelMetadata(model_id=os.path.join(uri, version, READY_FILE), model_name=READY_FILE)


def updates(uri: str, changes: dict[int, str]) -> list:
    """The model-update side input as each window sees it: WatchFilePattern's side input is a
    global-window singleton that keeps the last marker it delivered, so every window after a
    change holds the latest marker (and each window before the first holds the empty path)."""
    timed, latest = [], None
    for start in range(0, 50, WINDOW):
        latest = changes.get(start, latest)
        timed.append((start + 1, marker(uri, latest)))
    return timed


def add_version(uri: str, version: str, model_bytes: bytes | None = None) -> None:
    folder = os.path.join(uri, version)
    os.makedirs(folder)
    if model_bytes is not None:
        with open(os.path.join(folder, "model.joblib"), "wb") as f:
            f.write(model_bytes)
    open(os.path.join(folder, READY_FILE), "w").close()


# Records at 1 and 5 (window [0, 10)), 12 ([10, 20)), 25 ([20, 30)), 33 and 45.
TIMES = [1, 5, 12, 25, 33, 45]


def rows_scored_by(models, versions: list[str]):
    """Each record i scored by versions[i], its score that model's P(class 1) within 1e-12."""
    def check(actual):
        by_id = {r["id"]: r for r in actual}
        if len(actual) != len(TIMES) or set(by_id) != {f"r{i}" for i in range(len(TIMES))}:
            raise BeamAssertException(f"ids differ: {sorted(by_id)}")
        for i, version in enumerate(versions):
            got = by_id[f"r{i}"]
            want = float(models[version].predict_proba(X[i][None, :])[0, 1])
            if got["model_version"] != version or got["scored_at"] != SCORED_AT \
                    or abs(got["score"] - want) > 1e-12:
                raise BeamAssertException(f"r{i}: {got}, want version {version} score {want}")
    return check


def score(uri, models, updates, start, versions, dead=()):
    options = StreamingScoringOptions(model_uri=uri, model_version=start)
    with beam.Pipeline(options=fnapi()) as p:
        build(p, Windowed([(t, record(i)) for i, t in enumerate(TIMES)]
                          + [(t, raw) for t, raw, _ in dead]),
              p | "Updates" >> Windowed(updates),
              Expect(rows_scored_by(models, versions), "rows"), options,
              Expect(dead_letters([(raw, reason) for _, raw, reason in dead]), "dead letters"),
              clock=lambda: SCORED_AT)


def dead_letters(expected):
    """Exactly these (payload, part of the reason) pairs, each naming this pipeline."""
    def check(actual):
        got = sorted((d["payload"], d["error"], d["pipeline"]) for d in actual)
        want = sorted(expected)
        if len(got) != len(want) or any(
                payload != raw or reason not in error or pipeline != "streaming_scoring"
                for (payload, error, pipeline), (raw, reason) in zip(got, want)):
            raise BeamAssertException(f"dead letters {got}, want {want}")
    return check


def test_records_after_a_new_marker_are_scored_by_the_new_version_and_keep_it(registry):
    uri, models = registry
    # Version 3's marker arrives in [10, 20): the records before it carry the launch version 2.
    score(uri, models, updates(uri, {10: "3"}), "2", ["2", "2", "3", "3", "3", "3"])


def test_a_second_marker_moves_on_again(registry):
    uri, models = registry
    add_version(uri, "5", open(os.path.join(uri, "2", "model.joblib"), "rb").read())
    score(uri, {**models, "5": models["2"]}, updates(uri, {10: "3", 30: "5"}), "2",
          ["2", "2", "3", "3", "5", "5"])


# Which version a refused update leaves depends on what the worker scored with before it; the
# windows of a batch test reach the handler in no fixed order, so these start from the launch
# version, and test_streaming_scoring_model.py follows one handler through a refusal after a
# switch.
def test_a_version_without_model_joblib_is_refused_and_the_job_keeps_its_model(registry):
    uri, models = registry
    add_version(uri, "4")  # a marker written before (or without) the model file
    score(uri, models, updates(uri, {10: "4"}), "2", ["2"] * 6)


def test_a_model_file_that_does_not_load_is_refused_and_the_job_keeps_its_model(registry):
    uri, models = registry
    add_version(uri, "4", b"not a pickle")
    score(uri, models, updates(uri, {20: "4"}), "3", ["3"] * 6)


def test_malformed_messages_are_dead_lettered_beside_the_scored_ones(registry):
    uri, models = registry
    # One unparseable, one without features, one the model cannot take (1 feature, not 3).
    bad = [(3, b"{nope", "not JSON"), (13, b'{"id": "x"}', "missing field 'features'"),
           (23, json.dumps({"id": "s", "features": [1.0]}).encode(),
            "expects 3 features per record, got 1")]
    score(uri, models, updates(uri, {10: "3"}), "2", ["2", "2", "3", "3", "3", "3"], dead=bad)


def test_main_wires_pubsub_the_marker_watch_and_the_dead_letter_topic(registry):
    uri, models = registry
    seen = {}

    def make_io(args):
        from streaming_scoring.pipeline import default_io
        source, sink, dead = default_io(args)
        seen.update(source=source, sink=sink, dead=dead)
        return (Windowed([(t, record(i)) for i, t in enumerate(TIMES)]),
                Expect(lambda rows: [r["model_version"] for r in rows] == ["3"] * 6 or
                       _fail(rows), "rows"),
                Expect(equal_to([]), "dead letters"))

    def make_updates(args):
        from streaming_scoring.pipeline import watch_models
        seen["watch"] = watch_models(args)
        return Windowed(updates(args.modelUri, {}))

    run(["--inputSubscription", "projects/acme-ml-dev/subscriptions/features",
         "--outputTopic", "projects/acme-ml-dev/topics/predictions",
         "--deadLetterTopic", "projects/acme-ml-dev/topics/features-dead",
         "--modelUri", uri, "--modelVersion", "3", "--modelPollSeconds", "60",
         "--runner=FnApiRunner"], make_io=make_io, make_updates=make_updates
        ).wait_until_finish()
    assert seen["source"]._source.full_subscription == "projects/acme-ml-dev/subscriptions/features"
    assert seen["sink"]._topic == "projects/acme-ml-dev/topics/predictions"
    assert seen["dead"]._topic == "projects/acme-ml-dev/topics/features-dead"
    assert seen["watch"].file_pattern == os.path.join(uri, "*", READY_FILE)
    assert seen["watch"].interval == 60


def _fail(rows):
    raise BeamAssertException(f"want six rows of version 3, got {rows}")


def test_main_refuses_to_launch_with_a_start_version_that_does_not_exist(registry):
    uri, _ = registry
    with pytest.raises(ModelVersionNotFound, match="'4' not found"):
        run(["--inputSubscription", "projects/acme-ml-dev/subscriptions/s",
             "--outputTopic", "projects/acme-ml-dev/topics/p",
             "--deadLetterTopic", "projects/acme-ml-dev/topics/d",
             "--modelUri", uri, "--modelVersion", "4"],
            make_io=lambda args: pytest.fail("no IO at all"))


def test_main_refuses_to_launch_when_no_version_has_a_marker_to_watch(registry):
    uri, _ = registry
    for version in ("2", "3"):
        os.remove(os.path.join(uri, version, READY_FILE))
    with pytest.raises(NoMarker, match=rf"no model version under {uri} has its _READY marker"):
        run(["--inputSubscription", "projects/acme-ml-dev/subscriptions/s",
             "--outputTopic", "projects/acme-ml-dev/topics/p",
             "--deadLetterTopic", "projects/acme-ml-dev/topics/d",
             "--modelUri", uri, "--modelVersion", "3"],
            make_io=lambda args: pytest.fail("no IO at all"))
    assert os.path.exists(os.path.join(uri, "3", MODEL_FILE))  # the model alone is not enough


def test_main_rejects_a_poll_interval_that_cannot_work(registry, capsys):
    uri, _ = registry
    with pytest.raises(SystemExit):
        run(["--inputSubscription", "projects/acme-ml-dev/subscriptions/s",
             "--outputTopic", "projects/acme-ml-dev/topics/p",
             "--deadLetterTopic", "projects/acme-ml-dev/topics/d",
             "--modelUri", uri, "--modelVersion", "3", "--modelPollSeconds", "0"])
    assert "--modelPollSeconds must be positive" in capsys.readouterr().err
