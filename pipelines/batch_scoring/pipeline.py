"""Batch scoring pipeline: build() takes its IO as arguments; run() wires the real IO."""
from __future__ import annotations

import argparse
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Optional

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.options.pipeline_options import PipelineOptions

from batch_scoring.model import Rejected, VersionedModelHandler, check_version
from beamkit import launch
from beamkit.deadletter import (DEAD_LETTER, BadRecord, ParseRecords, dead_letter,
                                load_json_object, require, require_key)
from beamkit.sinks import (WRITE_METHODS, DeadLettersToText, FailOnDeadLetter,
                           bigquery_sink)

NAME = "batch_scoring"

# The table the predictions go to; TIMESTAMP and the version let a consumer pick one run.
OUTPUT_SCHEMA = {"fields": [
    {"name": "id", "type": "STRING", "mode": "REQUIRED"},
    {"name": "score", "type": "FLOAT", "mode": "REQUIRED"},
    {"name": "model_version", "type": "STRING", "mode": "REQUIRED"},
    {"name": "scored_at", "type": "TIMESTAMP", "mode": "REQUIRED"},
]}


@dataclass(frozen=True)
class ScoringOptions:
    model_uri: str
    model_version: str
    # One timestamp for the whole run, taken at launch: every row of a run carries the same
    # scored_at, so a rerun is told apart from the run it repeats.
    scored_at: dt.datetime
    id_field: str = "id"
    features_field: str = "features"
    min_batch_size: Optional[int] = None
    max_batch_size: Optional[int] = None


class ToExample:
    """A raw record (a JSON line, or a BigQuery row) to (id, feature vector)."""

    def __init__(self, id_field: str, features_field: str):
        self.id_field = id_field
        self.features_field = features_field

    def __call__(self, raw: Any) -> tuple[str, np.ndarray]:
        record = load_json_object(raw)
        key = require_key(record, self.id_field)
        features = require(record, self.features_field)
        if not isinstance(features, list) or not features:
            raise BadRecord(f"field {self.features_field!r} is not a non-empty list of numbers")
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in features):
            raise BadRecord(f"field {self.features_field!r} holds a value that is not a number")
        vector = np.asarray(features, dtype=float)
        if not np.all(np.isfinite(vector)):
            raise BadRecord(f"field {self.features_field!r} holds a value that is not finite")
        return key, vector


def _not_blank(raw: Any) -> bool:
    return not (isinstance(raw, (str, bytes)) and not raw.strip())


class ToRow(beam.DoFn):
    """A prediction to its output row; an example the model rejected to DEAD_LETTER."""

    pipeline = NAME  # what its dead letters name as their pipeline

    def __init__(self, scored_at: str, id_field: str, features_field: str):
        self._scored_at = scored_at
        self._id_field = id_field
        self._features_field = features_field

    def process(self, keyed):
        key, result = keyed
        if isinstance(result.inference, Rejected):
            record = {self._id_field: key, self._features_field: result.example.tolist()}
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(
                json.dumps(record).encode("utf-8"), result.inference.reason, self.pipeline))
            return
        yield {"id": key, "score": result.inference, "model_version": result.model_id,
               "scored_at": self.scored_at()}

    def scored_at(self) -> str:
        """The row's scored_at: the run's launch time here; a streaming job's takes the time
        each record is scored."""
        return self._scored_at


class Outputs(NamedTuple):
    predictions: beam.PCollection
    dead_letters: beam.PCollection


def build(pipeline: beam.Pipeline, source: beam.PTransform, sink: beam.PTransform,
          options: ScoringOptions, dead_letter_sink: beam.PTransform) -> Outputs:
    """Read with `source`, score, write predictions with `sink` and bad records with
    `dead_letter_sink`. Sources yield JSON lines (str or bytes) or dicts (BigQuery rows)."""
    handler = VersionedModelHandler(
        options.model_uri, options.model_version,
        min_batch_size=options.min_batch_size, max_batch_size=options.max_batch_size)
    parsed = (pipeline
              | "Read" >> source
              # JSON-lines files often end in, or hold, empty lines: nothing to score there.
              | "SkipBlank" >> beam.Filter(_not_blank)
              | "Parse" >> beam.ParDo(ParseRecords(
                  ToExample(options.id_field, options.features_field), NAME)
              ).with_outputs(DEAD_LETTER, main="examples"))
    scored_at = options.scored_at.astimezone(dt.timezone.utc).isoformat()
    scored = (parsed.examples
              | "Score" >> RunInference(KeyedModelHandler(handler))
              | "ToRow" >> beam.ParDo(ToRow(scored_at, options.id_field, options.features_field)
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
    p.add_argument("--inputPattern", help="JSON-lines files to score, e.g. gs://lake/in/*.jsonl")
    p.add_argument("--inputTable", help="or a BigQuery table to score, project:dataset.table")
    p.add_argument("--modelUri", required=True,
                   help="directory with one subdirectory per model version")
    p.add_argument("--modelVersion", required=True, help="the version to score with")
    p.add_argument("--outputTable", required=True,
                   help="BigQuery table for the predictions, project:dataset.table")
    p.add_argument("--idField", default="id", help="record field holding the id")
    p.add_argument("--featuresField", default="features",
                   help="record field holding the feature list")
    p.add_argument("--writeMethod", default="FILE_LOADS", choices=WRITE_METHODS,
                   help="how rows reach BigQuery")
    p.add_argument("--deadLetterPath",
                   help="path prefix for unparseable records; without it they fail the job")
    p.add_argument("--minBatchSize", type=int, help="fewest records per model call")
    p.add_argument("--maxBatchSize", type=int, help="most records per model call")
    return p


def parse_args(argv: Optional[list[str]]) -> tuple[argparse.Namespace, list[str]]:
    p = parser()
    args, beam_args = p.parse_known_args(argv)
    if (args.inputPattern is None) == (args.inputTable is None):
        p.error("give exactly one of --inputPattern and --inputTable")
    return args, beam_args


def default_io(args: argparse.Namespace):
    if args.inputPattern:
        source = beam.io.ReadFromText(args.inputPattern)
    else:
        # DIRECT_READ uses the BigQuery Storage Read API: no export to a temp bucket.
        source = beam.io.ReadFromBigQuery(
            table=args.inputTable, method=beam.io.ReadFromBigQuery.Method.DIRECT_READ)
    sink = bigquery_sink(args.outputTable, OUTPUT_SCHEMA, args.writeMethod)
    dead = DeadLettersToText(args.deadLetterPath) if args.deadLetterPath else FailOnDeadLetter()
    return source, sink, dead


def run(argv: Optional[list[str]] = None,
        make_io: Callable[[argparse.Namespace], tuple] = default_io,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)):
    """Parse the arguments and run the job; returns the PipelineResult without waiting
    (a Flex Template launcher must exit once the job is submitted)."""
    args, beam_args = parse_args(argv)
    # Fail at launch, with the versions that do exist, rather than on every worker later.
    check_version(args.modelUri, args.modelVersion)
    options = ScoringOptions(
        model_uri=args.modelUri, model_version=args.modelVersion, scored_at=now(),
        id_field=args.idField, features_field=args.featuresField,
        min_batch_size=args.minBatchSize, max_batch_size=args.maxBatchSize)
    source, sink, dead = make_io(args)
    pipeline = beam.Pipeline(options=PipelineOptions(beam_args))
    build(pipeline, source, sink, options, dead)
    return pipeline.run()


def main(argv: Optional[list[str]] = None) -> None:
    launch.main(run, argv)
