"""Parse raw records into typed values, sending what cannot be parsed to a dead-letter output.

A streaming job that raises on one bad message retries that bundle forever and stalls its
watermark; a batch job fails after hours of work. Both pipelines therefore turn every
unparseable record into a dead-letter element (the original bytes plus the reason) and go on.
"""
from __future__ import annotations

import json
from typing import Any, Callable

import apache_beam as beam
from apache_beam.metrics import Metrics

DEAD_LETTER = "dead_letter"


class BadRecord(ValueError):
    """A record that can never be processed, however often it is retried."""


def dead_letter(payload: bytes, error: str, pipeline: str) -> dict[str, Any]:
    return {"payload": payload, "error": error, "pipeline": pipeline}


def _as_bytes(raw: Any) -> bytes:
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, str):
        return raw.encode("utf-8")
    # A BigQuery row (a dict) has no bytes of its own; its JSON is what a person can replay.
    return json.dumps(raw, default=str, sort_keys=True).encode("utf-8")


def load_json_object(raw: Any) -> dict[str, Any]:
    """The JSON object a raw record holds: bytes and str are decoded, a dict is taken as is."""
    if isinstance(raw, dict):
        return raw
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadRecord(f"not JSON: {err}") from None
    if not isinstance(value, dict):
        raise BadRecord(f"not a JSON object: got {type(value).__name__}")
    return value


class ParseRecords(beam.DoFn):
    """Apply `convert` to each raw record; a BadRecord goes to the DEAD_LETTER output.

    Only BadRecord is caught: any other exception is a bug in the pipeline, and hiding it in
    the dead-letter output would turn a failing job into one that silently drops everything.
    """

    def __init__(self, convert: Callable[[Any], Any], pipeline: str):
        self._convert = convert
        self._pipeline = pipeline
        self._dead = Metrics.counter(pipeline, "dead_letter_records")

    def process(self, raw):
        try:
            yield self._convert(raw)
        except BadRecord as err:
            self._dead.inc()
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER, dead_letter(_as_bytes(raw), str(err), self._pipeline))


def require(record: dict[str, Any], field: str) -> Any:
    if field not in record or record[field] is None:
        raise BadRecord(f"missing field {field!r}")
    return record[field]


def require_number(record: dict[str, Any], field: str) -> float:
    value = require(record, field)
    # bool is an int in Python, but `true` is no measurement.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRecord(f"field {field!r} is not a number: {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise BadRecord(f"field {field!r} is not finite: {value!r}")
    return float(value)


def require_key(record: dict[str, Any], field: str) -> str:
    value = require(record, field)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise BadRecord(f"field {field!r} is not a string or integer key: {value!r}")
    return str(value)
