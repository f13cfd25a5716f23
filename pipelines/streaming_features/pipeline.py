"""Streaming features pipeline: build() takes its IO as arguments; run() wires the real IO."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Optional

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.transforms import trigger, window
from apache_beam.utils.timestamp import Duration
from apache_beam.utils.windowed_value import PaneInfoTiming

from beamkit import launch
from beamkit.deadletter import (DEAD_LETTER, ParseRecords, load_json_object, require_key,
                                require_number)
from beamkit.sinks import DeadLettersToPubSub, bigquery_sink

NAME = "streaming_features"

# One row per key, window and firing. A late event re-fires its window with the updated
# totals (accumulating panes), so a consumer keeps the row with the highest pane_index.
OUTPUT_SCHEMA = {"fields": [
    {"name": "key", "type": "STRING", "mode": "REQUIRED"},
    {"name": "window_start", "type": "TIMESTAMP", "mode": "REQUIRED"},
    {"name": "window_end", "type": "TIMESTAMP", "mode": "REQUIRED"},
    {"name": "event_count", "type": "INTEGER", "mode": "REQUIRED"},
    {"name": "value_sum", "type": "FLOAT", "mode": "REQUIRED"},
    {"name": "value_mean", "type": "FLOAT", "mode": "REQUIRED"},
    {"name": "value_min", "type": "FLOAT", "mode": "REQUIRED"},
    {"name": "value_max", "type": "FLOAT", "mode": "REQUIRED"},
    {"name": "pane_timing", "type": "STRING", "mode": "REQUIRED"},
    {"name": "pane_index", "type": "INTEGER", "mode": "REQUIRED"},
]}


@dataclass(frozen=True)
class FeatureOptions:
    key_field: str = "key"
    value_field: str = "value"
    window_seconds: int = 60
    allowed_lateness_seconds: int = 300


class ToEvent:
    """A Pub/Sub message body (JSON bytes) to (key, value)."""

    def __init__(self, key_field: str, value_field: str):
        self.key_field = key_field
        self.value_field = value_field

    def __call__(self, raw: Any) -> tuple[str, float]:
        record = load_json_object(raw)
        return require_key(record, self.key_field), require_number(record, self.value_field)


class FeatureStats(beam.CombineFn):
    """count, sum, min and max in one pass; the mean is derived when the window fires."""

    def create_accumulator(self):
        return 0, 0.0, float("inf"), float("-inf")

    def add_input(self, acc, value):
        count, total, low, high = acc
        return count + 1, total + value, min(low, value), max(high, value)

    def merge_accumulators(self, accumulators):
        count, total, low, high = self.create_accumulator()
        for c, t, lo, hi in accumulators:
            count, total, low, high = count + c, total + t, min(low, lo), max(high, hi)
        return count, total, low, high

    def extract_output(self, acc):
        return acc


def _utc(ts) -> str:
    return ts.to_utc_datetime(has_tz=True).isoformat()


class ToFeatureRow(beam.DoFn):
    def process(self, keyed, win=beam.DoFn.WindowParam, pane=beam.DoFn.PaneInfoParam):
        key, (count, total, low, high) = keyed
        yield {
            "key": key, "window_start": _utc(win.start), "window_end": _utc(win.end),
            "event_count": count, "value_sum": total, "value_mean": total / count,
            "value_min": low, "value_max": high,
            "pane_timing": PaneInfoTiming.to_string(pane.timing), "pane_index": pane.index,
        }


class Outputs(NamedTuple):
    features: beam.PCollection
    dead_letters: beam.PCollection


def build(pipeline: beam.Pipeline, source: beam.PTransform, sink: beam.PTransform,
          options: FeatureOptions, dead_letter_sink: beam.PTransform) -> Outputs:
    """Read message bodies (bytes, timestamped by the source) with `source`, aggregate per key
    and fixed event-time window, write rows with `sink`, bad messages with
    `dead_letter_sink`."""
    parsed = (pipeline
              | "Read" >> source
              | "Parse" >> beam.ParDo(ParseRecords(
                  ToEvent(options.key_field, options.value_field), NAME)
              ).with_outputs(DEAD_LETTER, main="events"))
    features = (parsed.events
                | "Window" >> beam.WindowInto(
                    window.FixedWindows(options.window_seconds),
                    # One pane when the watermark passes the window's end, then one more per
                    # late event until the allowed lateness is over; later events are dropped.
                    trigger=trigger.AfterWatermark(late=trigger.AfterCount(1)),
                    accumulation_mode=trigger.AccumulationMode.ACCUMULATING,
                    allowed_lateness=Duration(seconds=options.allowed_lateness_seconds))
                | "Aggregate" >> beam.CombinePerKey(FeatureStats())
                | "ToRow" >> beam.ParDo(ToFeatureRow()))
    features | "Write" >> sink
    parsed[DEAD_LETTER] | "DeadLetter" >> dead_letter_sink
    return Outputs(features, parsed[DEAD_LETTER])


def parser() -> argparse.ArgumentParser:
    """The template's own parameters (metadata.json lists exactly these); everything else on
    the command line is a Beam or Dataflow pipeline option."""
    # No abbreviations: a prefix of a template parameter must not swallow a Beam option.
    p = argparse.ArgumentParser(prog=NAME, description=__doc__, allow_abbrev=False)
    p.add_argument("--inputSubscription", required=True,
                   help="Pub/Sub subscription, projects/<project>/subscriptions/<name>")
    p.add_argument("--outputTable", required=True,
                   help="BigQuery table for the features, project:dataset.table")
    p.add_argument("--deadLetterTopic", required=True,
                   help="Pub/Sub topic for unparseable messages, projects/<project>/topics/<name>")
    p.add_argument("--keyField", default="key", help="event field to aggregate by")
    p.add_argument("--valueField", default="value", help="numeric event field to aggregate")
    p.add_argument("--timestampAttribute",
                   help="message attribute holding the event time; defaults to publish time")
    p.add_argument("--windowSeconds", type=int, default=60, help="fixed window length")
    p.add_argument("--allowedLatenessSeconds", type=int, default=300,
                   help="how long after a window's end late events still update it")
    return p


def parse_args(argv: Optional[list[str]]) -> tuple[argparse.Namespace, list[str]]:
    p = parser()
    args, beam_args = p.parse_known_args(argv)
    if args.windowSeconds <= 0:
        p.error("--windowSeconds must be positive")
    if args.allowedLatenessSeconds < 0:
        p.error("--allowedLatenessSeconds must not be negative")
    return args, beam_args


def default_io(args: argparse.Namespace):
    source = beam.io.ReadFromPubSub(
        subscription=args.inputSubscription, timestamp_attribute=args.timestampAttribute)
    # STREAMING_INSERTS: rows are visible within seconds and need no Java expansion service.
    sink = bigquery_sink(args.outputTable, OUTPUT_SCHEMA, "STREAMING_INSERTS")
    return source, sink, DeadLettersToPubSub(args.deadLetterTopic)


def run(argv: Optional[list[str]] = None,
        make_io: Callable[[argparse.Namespace], tuple] = default_io):
    """Parse the arguments and start the job; returns the PipelineResult without waiting."""
    args, beam_args = parse_args(argv)
    options = FeatureOptions(
        key_field=args.keyField, value_field=args.valueField,
        window_seconds=args.windowSeconds,
        allowed_lateness_seconds=args.allowedLatenessSeconds)
    pipeline_options = PipelineOptions(beam_args)
    # Reading Pub/Sub is only possible in streaming mode; set it rather than make every
    # launch remember --streaming.
    pipeline_options.view_as(StandardOptions).streaming = True
    source, sink, dead = make_io(args)
    pipeline = beam.Pipeline(options=pipeline_options)
    build(pipeline, source, sink, options, dead)
    return pipeline.run()


def main(argv: Optional[list[str]] = None) -> None:
    launch.main(run, argv)
