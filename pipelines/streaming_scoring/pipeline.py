"""Streaming scoring pipeline: build() takes its IO and its model updates as arguments; run()
wires Pub/Sub and the watch on the artifact bucket."""
from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional

import apache_beam as beam
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.ml.inference.utils import WatchFilePattern
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from batch_scoring.model import check_version
from batch_scoring.pipeline import ToExample, ToRow
from beamkit import launch
from beamkit.deadletter import DEAD_LETTER, ParseRecords
from beamkit.sinks import DeadLettersToPubSub, RowsToPubSub
from streaming_scoring.model import WatchedModelHandler, check_watchable, marker_pattern

NAME = "streaming_scoring"


@dataclass(frozen=True)
class StreamingScoringOptions:
    model_uri: str
    # The version the job starts with; every later `_READY` marker under model_uri replaces it.
    model_version: str
    id_field: str = "id"
    features_field: str = "features"
    min_batch_size: Optional[int] = None
    max_batch_size: Optional[int] = None


def _utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


class ToStreamingRow(ToRow):
    """batch_scoring's row, stamped with the time each record is scored (a streaming job has no
    launch time that tells its rows apart)."""

    pipeline = NAME

    def __init__(self, id_field: str, features_field: str, clock: Callable[[], str] = _utc_now):
        super().__init__("", id_field, features_field)
        self._clock = clock

    def scored_at(self) -> str:
        return self._clock()


class Outputs(NamedTuple):
    predictions: beam.PCollection
    dead_letters: beam.PCollection


def build(pipeline: beam.Pipeline, source: beam.PTransform, model_updates: beam.PCollection,
          sink: beam.PTransform, options: StreamingScoringOptions,
          dead_letter_sink: beam.PTransform, clock: Callable[[], str] = _utc_now) -> Outputs:
    """Read message bodies (JSON bytes) with `source`, score them with the model version
    `model_updates` last named (ModelMetadata whose model_id is a `<version>/_READY` path;
    options.model_version until the first), write rows with `sink` and bad messages with
    `dead_letter_sink`."""
    handler = KeyedModelHandler(WatchedModelHandler(
        options.model_uri, options.model_version,
        min_batch_size=options.min_batch_size, max_batch_size=options.max_batch_size))
    parsed = (pipeline
              | "Read" >> source
              | "Parse" >> beam.ParDo(ParseRecords(
                  ToExample(options.id_field, options.features_field), NAME)
              ).with_outputs(DEAD_LETTER, main="examples"))
    scored = (parsed.examples
              | "Score" >> RunInference(handler, model_metadata_pcoll=model_updates)
              | "ToRow" >> beam.ParDo(ToStreamingRow(
                  options.id_field, options.features_field, clock)
              ).with_outputs(DEAD_LETTER, main="rows"))
    scored.rows | "Write" >> sink
    dead = (parsed[DEAD_LETTER], scored[DEAD_LETTER]) | "DeadLetters" >> beam.Flatten()
    dead | "DeadLetter" >> dead_letter_sink
    return Outputs(scored.rows, dead)


def parser() -> argparse.ArgumentParser:
    """The template's own parameters (metadata.json lists exactly these); everything else on
    the command line is a Beam or Dataflow pipeline option."""
    # No abbreviations: a prefix of a template parameter must not swallow a Beam option.
    p = argparse.ArgumentParser(prog=NAME, description=__doc__, allow_abbrev=False)
    p.add_argument("--inputSubscription", required=True,
                   help="Pub/Sub subscription, projects/<project>/subscriptions/<name>")
    p.add_argument("--outputTopic", required=True,
                   help="Pub/Sub topic for the predictions, projects/<project>/topics/<name>")
    p.add_argument("--deadLetterTopic", required=True,
                   help="Pub/Sub topic for unparseable messages, projects/<project>/topics/<name>")
    p.add_argument("--modelUri", required=True,
                   help="directory with one subdirectory per model version")
    p.add_argument("--modelVersion", required=True,
                   help="the version to start with; each new <modelUri>/<version>/_READY replaces it")
    p.add_argument("--modelPollSeconds", type=int, default=300,
                   help="how often to look for new _READY markers")
    p.add_argument("--idField", default="id", help="record field holding the id")
    p.add_argument("--featuresField", default="features",
                   help="record field holding the feature list")
    p.add_argument("--minBatchSize", type=int, help="fewest records per model call")
    p.add_argument("--maxBatchSize", type=int, help="most records per model call")
    return p


def parse_args(argv: Optional[list[str]]) -> tuple[argparse.Namespace, list[str]]:
    p = parser()
    args, beam_args = p.parse_known_args(argv)
    if args.modelPollSeconds <= 0:
        p.error("--modelPollSeconds must be positive")
    return args, beam_args


def default_io(args: argparse.Namespace):
    source = beam.io.ReadFromPubSub(subscription=args.inputSubscription)
    return source, RowsToPubSub(args.outputTopic), DeadLettersToPubSub(args.deadLetterTopic)


def watch_models(args: argparse.Namespace) -> beam.PTransform:
    """Every new completion marker under the model URI, as RunInference's model updates."""
    return WatchFilePattern(file_pattern=marker_pattern(args.modelUri),
                            interval=args.modelPollSeconds)


def run(argv: Optional[list[str]] = None,
        make_io: Callable[[argparse.Namespace], tuple] = default_io,
        make_updates: Callable[[argparse.Namespace], beam.PTransform] = watch_models):
    """Parse the arguments and start the job; returns the PipelineResult without waiting."""
    args, beam_args = parse_args(argv)
    # Fail at launch, with the versions that do exist, rather than on every worker later.
    check_version(args.modelUri, args.modelVersion)
    check_watchable(args.modelUri)
    options = StreamingScoringOptions(
        model_uri=args.modelUri, model_version=args.modelVersion,
        id_field=args.idField, features_field=args.featuresField,
        min_batch_size=args.minBatchSize, max_batch_size=args.maxBatchSize)
    pipeline_options = PipelineOptions(beam_args)
    # Reading Pub/Sub (and watching for files) is only possible in streaming mode.
    pipeline_options.view_as(StandardOptions).streaming = True
    source, sink, dead = make_io(args)
    pipeline = beam.Pipeline(options=pipeline_options)
    updates = pipeline | "WatchModels" >> make_updates(args)
    build(pipeline, source, updates, sink, options, dead)
    return pipeline.run()


def main(argv: Optional[list[str]] = None) -> None:
    launch.main(run, argv)
