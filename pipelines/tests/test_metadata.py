"""Each template's metadata.json says exactly what its main() accepts.

The infrastructure checks a stack file's `parameters` against metadata.json before planning,
and Dataflow checks a launch against it; a parameter main() does not know, or a required one
metadata.json calls optional, would pass both checks and fail only on the launcher VM.
"""
from __future__ import annotations

import os
import re

import pytest
from apache_beam.io.gcp.bigquery_tools import parse_table_reference
from apache_beam.io.gcp.pubsub import parse_subscription, parse_topic

import batch_scoring.pipeline as batch
import streaming_features.pipeline as streaming
import streaming_scoring.pipeline as streaming_scoring
from beamkit.params import load_metadata, parser_contract

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIPELINES = {"batch_scoring": batch, "streaming_features": streaming,
             "streaming_scoring": streaming_scoring}
PARAM_TYPES = {"DEFAULT", "TEXT", "GCS_READ_BUCKET", "GCS_WRITE_BUCKET", "GCS_READ_FILE",
               "GCS_WRITE_FILE", "GCS_READ_FOLDER", "GCS_WRITE_FOLDER", "PUBSUB_TOPIC",
               "PUBSUB_SUBSCRIPTION", "BIGQUERY_TABLE", "BOOLEAN", "ENUM", "NUMBER"}

# Values each parameter must accept and refuse: what a stack file is likely to get right and
# wrong. Every parameter of every template must appear here.
VALID = {
    "inputPattern": ["gs://acme-ml-dev-dev-data-lake/scoring/2026-12-01/*.jsonl"],
    "inputTable": ["acme-ml-dev:lake.customers", "acme-ml-dev.lake.customers"],
    "modelUri": ["gs://acme-ml-dev-dev-artifacts/models/churn",
                 "gs://acme-ml-dev-dev-artifacts/models/churn/"],
    "modelVersion": ["7", "2026-12-01", "v1.2"],
    "outputTable": ["acme-ml-dev:scores.churn"],
    "idField": ["id", "customer_id"],
    "featuresField": ["features"],
    "writeMethod": ["FILE_LOADS", "STREAMING_INSERTS"],
    "deadLetterPath": ["gs://acme-ml-dev-dev-data-lake/dead-letter/scoring/run"],
    "minBatchSize": ["1", "64"],
    "maxBatchSize": ["500"],
    "inputSubscription": ["projects/acme-ml-dev/subscriptions/events"],
    "deadLetterTopic": ["projects/acme-ml-dev/topics/events-dead"],
    "keyField": ["user_id"],
    "valueField": ["amount"],
    "timestampAttribute": ["event_time"],
    "windowSeconds": ["60"],
    "allowedLatenessSeconds": ["0", "300"],
    "outputTopic": ["projects/acme-ml-dev/topics/predictions"],
    "modelPollSeconds": ["60", "300"],
}
INVALID = {
    "inputPattern": ["/local/file.jsonl", "gs://bucket-only"],
    "inputTable": ["lake.customers", "acme-ml-dev:customers"],
    "modelUri": ["models/churn", "s3://bucket/models"],
    "modelVersion": ["7/extra", "", "../6"],
    "outputTable": ["scores", "Acme:scores.churn"],
    "idField": ["1st", "a.b"],
    "featuresField": ["has space"],
    "writeMethod": ["STORAGE_WRITE_API", "file_loads"],
    "deadLetterPath": ["dead-letter/"],
    "minBatchSize": ["0", "-1", "ten"],
    "maxBatchSize": ["0"],
    "inputSubscription": ["events", "projects/acme-ml-dev/topics/events"],
    "deadLetterTopic": ["projects/acme-ml-dev/subscriptions/x", "events-dead"],
    "keyField": [""],
    "valueField": ["a-b"],
    "timestampAttribute": ["has space"],
    "windowSeconds": ["0", "1.5"],
    "allowedLatenessSeconds": ["-5"],
    "outputTopic": ["predictions", "projects/acme-ml-dev/subscriptions/predictions"],
    "modelPollSeconds": ["0", "1.5", "-60"],
}


def metadata(name):
    return {p["name"]: p for p in load_metadata(os.path.join(HERE, name))["parameters"]}


@pytest.mark.parametrize("name", PIPELINES)
def test_metadata_lists_exactly_the_parameters_main_parses_with_the_same_required_ones(name):
    declared = metadata(name)
    parsed = parser_contract(PIPELINES[name].parser())
    assert set(declared) == set(parsed)
    for param, spec in declared.items():
        assert spec["isOptional"] is (not parsed[param]["required"]), param


@pytest.mark.parametrize("name", PIPELINES)
def test_metadata_defaults_are_the_defaults_main_applies(name):
    parsed = parser_contract(PIPELINES[name].parser())
    for param, spec in metadata(name).items():
        default = parsed[param]["default"]
        assert spec.get("defaultValue") == (None if default is None else str(default)), param


@pytest.mark.parametrize("name", PIPELINES)
def test_every_parameter_has_a_label_help_a_known_type_and_anchored_regexes(name):
    meta = load_metadata(os.path.join(HERE, name))
    assert meta["name"] == name and meta["description"]
    assert meta["streaming"] is name.startswith("streaming_")
    for param, spec in metadata(name).items():
        assert spec["label"] and spec["helpText"], param
        assert spec.get("paramType", "DEFAULT") in PARAM_TYPES, param
        assert spec["regexes"], param
        for regex in spec["regexes"]:
            assert regex.startswith("^") and regex.endswith("$"), (param, regex)
            re.compile(regex)


@pytest.mark.parametrize("name", PIPELINES)
def test_the_regexes_accept_good_values_and_refuse_bad_ones(name):
    for param, spec in metadata(name).items():
        assert param in VALID and param in INVALID, f"add examples for {param}"
        for value in VALID[param]:
            assert all(re.fullmatch(r, value) for r in spec["regexes"]), (param, value)
        for value in INVALID[param]:
            assert not all(re.fullmatch(r, value) for r in spec["regexes"]), (param, value)


@pytest.mark.parametrize("name", PIPELINES)
def test_choices_in_main_are_what_the_regexes_allow(name):
    declared = metadata(name)
    for param, contract in parser_contract(PIPELINES[name].parser()).items():
        for choice in contract["choices"] or ():
            assert all(re.fullmatch(r, choice) for r in declared[param]["regexes"])


def test_values_the_regexes_accept_are_accepted_by_beams_own_parsers():
    # Passing metadata.json's check must mean the job starts: Beam's parsers are stricter than
    # a loose regex would be (a project ID has at least 6 characters, for one).
    for table in VALID["inputTable"] + VALID["outputTable"]:
        parse_table_reference(table)
    for subscription in VALID["inputSubscription"]:
        parse_subscription(subscription)
    for topic in VALID["deadLetterTopic"] + VALID["outputTopic"]:
        parse_topic(topic)


@pytest.mark.parametrize("name", PIPELINES)
def test_a_launch_with_every_valid_example_parses(name):
    module = PIPELINES[name]
    argv = []
    for param, spec in metadata(name).items():
        if param == "inputTable":  # the batch template takes one input: inputPattern here
            continue
        argv += [f"--{param}", VALID[param][-1]]
    args, rest = module.parse_args(argv)
    assert rest == []
    assert getattr(args, "outputTable", None) or args.outputTopic


@pytest.mark.parametrize("name", PIPELINES)
def test_beam_options_pass_through_untouched_and_no_parameter_is_taken_by_its_prefix(name):
    module = PIPELINES[name]
    required = [p for p, spec in metadata(name).items() if not spec["isOptional"]]
    argv = [f"--{p}={VALID[p][0]}" for p in required]
    if name == "batch_scoring":
        argv.append(f"--inputPattern={VALID['inputPattern'][0]}")
    beam_options = ["--temp_location=gs://acme-ml-dev-dev-data-lake/tmp", "--max_num_workers=3",
                    "--sdk_container_image=us-central1-docker.pkg.dev/acme-ml-dev/x/y:1",
                    "--output=abbreviated"]
    args, rest = module.parse_args(argv + beam_options)
    assert rest == beam_options
    for param in required:
        assert str(getattr(args, param)) == VALID[param][0], param
