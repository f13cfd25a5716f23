"""streaming_features end to end on the bundle-based DirectRunner, driven by a TestStream:
events in two windows, a late event within the allowed lateness and one beyond it, and
malformed messages that must reach the dead-letter output."""
from __future__ import annotations

import json

import apache_beam as beam
import pytest
from apache_beam.testing import test_stream
from apache_beam.testing.util import BeamAssertException, equal_to
from apache_beam.transforms.window import TimestampedValue

from streaming_features.pipeline import FeatureOptions, build, run
from helpers import Expect, runner_options

# Window 60 s, lateness 120 s: window [0, 60) takes late events until the watermark is at 180.
OPTIONS = FeatureOptions(window_seconds=60, allowed_lateness_seconds=120)


def event(key, value, **extra) -> bytes:
    return json.dumps({"key": key, "value": value, **extra}).encode()


MALFORMED = [
    (b"{not json", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (event("a", None), "missing field 'value'"),
    (json.dumps({"value": 3}).encode(), "missing field 'key'"),
    (event("a", "12"), "is not a number"),
    (event("a", True), "is not a number"),
]


def stream() -> test_stream.TestStream:
    return (test_stream.TestStream()
            .advance_watermark_to(0)
            .add_elements([TimestampedValue(event("a", 1.0), 10),
                           TimestampedValue(event("a", 2), 20),
                           TimestampedValue(event("b", 5.5, ignored="x"), 30)])
            .add_elements([TimestampedValue(event("a", 4.0), 70)])
            .add_elements([TimestampedValue(raw, 75) for raw, _ in MALFORMED])
            # Both windows close on time: [0, 60) and [60, 120).
            .advance_watermark_to(130)
            # Late for [0, 60), but within the lateness: the window fires again, accumulated.
            .add_elements([TimestampedValue(event("a", 3.0), 50)])
            .advance_watermark_to(300)
            # Beyond the lateness of [0, 60) (the watermark is past 180): dropped.
            .add_elements([TimestampedValue(event("a", 100.0), 40)])
            .advance_watermark_to_infinity())


def row(key, start, count, total, low, high, timing, index):
    return {"key": key,
            "window_start": f"1970-01-01T00:{start // 60:02d}:00+00:00",
            "window_end": f"1970-01-01T00:{start // 60 + 1:02d}:00+00:00",
            "event_count": count, "value_sum": total, "value_mean": total / count,
            "value_min": low, "value_max": high, "pane_timing": timing, "pane_index": index}


EXPECTED = [
    row("a", 0, 2, 3.0, 1.0, 2.0, "ON_TIME", 0),
    row("b", 0, 1, 5.5, 5.5, 5.5, "ON_TIME", 0),
    row("a", 60, 1, 4.0, 4.0, 4.0, "ON_TIME", 0),
    # The late 3.0 updates a's first window; the event at 40 beyond the lateness never shows.
    row("a", 0, 3, 6.0, 1.0, 3.0, "LATE", 1),
]


def dead_letters_for(expected):
    def check(actual):
        got = sorted((d["payload"], d["error"], d["pipeline"]) for d in actual)
        want = sorted(expected)
        if len(got) != len(want):
            raise BeamAssertException(f"{len(got)} dead letters, want {len(want)}: {got}")
        for (payload, error, pipeline), (raw, reason) in zip(got, want):
            if payload != raw or reason not in error or pipeline != "streaming_features":
                raise BeamAssertException(f"{payload!r}: {error!r}, want {reason!r}")
    return check


def test_each_key_and_window_gets_exact_aggregates_on_time_and_again_when_a_late_event_arrives():
    with beam.Pipeline(options=runner_options(streaming=True)) as p:
        build(p, stream(), Expect(equal_to(EXPECTED), "features"), OPTIONS,
              Expect(dead_letters_for(MALFORMED), "dead letters"))


def test_malformed_messages_reach_the_dead_letter_output_without_stopping_the_job():
    bad_only = (test_stream.TestStream().advance_watermark_to(0)
                .add_elements([TimestampedValue(raw, 5) for raw, _ in MALFORMED])
                .add_elements([TimestampedValue(event("z", 1), 6)])
                .advance_watermark_to_infinity())
    with beam.Pipeline(options=runner_options(streaming=True)) as p:
        build(p, bad_only, Expect(equal_to([row("z", 0, 1, 1.0, 1.0, 1.0, "ON_TIME", 0)]),
                                  "features"), OPTIONS,
              Expect(dead_letters_for(MALFORMED), "dead letters"))


def test_custom_key_and_value_fields_and_a_longer_window_are_honoured():
    options = FeatureOptions(key_field="user", value_field="amount", window_seconds=120,
                             allowed_lateness_seconds=0)
    events = (test_stream.TestStream().advance_watermark_to(0)
              .add_elements([TimestampedValue(json.dumps({"user": 7, "amount": 2}).encode(), 10),
                             TimestampedValue(json.dumps({"user": 7, "amount": 4}).encode(), 100),
                             # the default field names are not read any more
                             TimestampedValue(event("a", 1), 20)])
              .advance_watermark_to_infinity())
    expected = {"key": "7", "window_start": "1970-01-01T00:00:00+00:00",
                "window_end": "1970-01-01T00:02:00+00:00", "event_count": 2,
                "value_sum": 6.0, "value_mean": 3.0, "value_min": 2.0, "value_max": 4.0,
                "pane_timing": "ON_TIME", "pane_index": 0}
    with beam.Pipeline(options=runner_options(streaming=True)) as p:
        build(p, events, Expect(equal_to([expected]), "features"), options,
              Expect(dead_letters_for([(event("a", 1), "missing field 'user'")]),
                     "dead letters"))


def test_main_wires_pubsub_bigquery_and_the_dead_letter_topic_from_its_parameters():
    seen = {}

    def make_io(args):
        from streaming_features.pipeline import default_io
        source, sink, dead = default_io(args)
        seen.update(source=source, sink=sink, dead=dead)
        # The real Pub/Sub source needs the cloud; run the same job on a TestStream instead.
        return (stream(), Expect(equal_to(EXPECTED), "features"),
                Expect(dead_letters_for(MALFORMED), "dead letters"))

    result = run(["--inputSubscription", "projects/acme-ml-dev/subscriptions/events",
                  "--outputTable", "acme-ml-dev:features.per_key",
                  "--deadLetterTopic", "projects/acme-ml-dev/topics/events-dead",
                  "--timestampAttribute", "event_time",
                  "--windowSeconds", "60", "--allowedLatenessSeconds", "120",
                  "--runner=BundleBasedDirectRunner"], make_io=make_io)
    result.wait_until_finish()
    assert seen["source"]._source.full_subscription == "projects/acme-ml-dev/subscriptions/events"
    assert seen["source"]._source.timestamp_attribute == "event_time"
    assert seen["sink"].method == "STREAMING_INSERTS"
    assert seen["dead"]._topic == "projects/acme-ml-dev/topics/events-dead"


@pytest.mark.parametrize("bad, message", [
    (["--windowSeconds", "0"], "--windowSeconds must be positive"),
    (["--allowedLatenessSeconds", "-1"], "--allowedLatenessSeconds must not be negative"),
])
def test_main_rejects_windows_that_cannot_work(bad, message, capsys):
    with pytest.raises(SystemExit):
        run(["--inputSubscription", "projects/acme-ml-dev/subscriptions/s",
             "--outputTable", "acme-ml-dev:f.t",
             "--deadLetterTopic", "projects/acme-ml-dev/topics/t"] + bad)
    assert message in capsys.readouterr().err
