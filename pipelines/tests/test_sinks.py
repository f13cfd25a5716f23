"""The real dead-letter sinks keep the original bytes and say why a record was refused."""
from __future__ import annotations

import json

import pytest

from beamkit.deadletter import dead_letter
from beamkit.sinks import (WRITE_METHODS, bigquery_sink, to_json_line, to_prediction_message,
                           to_pubsub_message)


def test_a_dead_letter_is_republished_with_its_original_body_and_the_reason_as_attributes():
    message = to_pubsub_message(dead_letter(b"\xff{raw", "not JSON: x", "streaming_features"))
    assert message.data == b"\xff{raw"
    assert message.attributes == {"error": "not JSON: x", "pipeline": "streaming_features"}


def test_a_long_reason_is_cut_to_fit_a_pubsub_attribute():
    message = to_pubsub_message(dead_letter(b"{}", "e" * 5000, "p"))
    assert len(message.attributes["error"].encode()) <= 1024


def test_a_dead_letter_line_is_json_with_undecodable_bytes_replaced():
    line = json.loads(to_json_line(dead_letter(b"ok\xff", "not JSON", "batch_scoring")))
    assert line == {"payload": "ok\ufffd", "error": "not JSON", "pipeline": "batch_scoring"}


def test_the_bigquery_sink_takes_only_methods_that_need_no_java_expansion_service():
    schema = {"fields": [{"name": "id", "type": "STRING"}]}
    for method in WRITE_METHODS:
        assert bigquery_sink("acme-ml-dev:d.t", schema, method).method == method
    with pytest.raises(ValueError, match="FILE_LOADS, STREAMING_INSERTS"):
        bigquery_sink("acme-ml-dev:d.t", schema, "STORAGE_WRITE_API")


def test_a_prediction_is_published_as_its_json_row_with_the_model_version_as_an_attribute():
    row = {"id": "u1", "score": 0.25, "model_version": "4",
           "scored_at": "2026-12-02T01:00:00+00:00"}
    message = to_prediction_message(row)
    assert json.loads(message.data) == row
    assert message.attributes == {"model_version": "4"}
