"""The real sinks, wired only by each pipeline's main(); tests inject their own."""
from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.io.gcp.bigquery import BigQueryDisposition, WriteToBigQuery

# Storage Write API needs a Java expansion service at construction time; these two methods are
# pure Python, so the launcher image needs no JVM.
WRITE_METHODS = ("FILE_LOADS", "STREAMING_INSERTS")


def bigquery_sink(table: str, schema: dict, method: str) -> WriteToBigQuery:
    if method not in WRITE_METHODS:
        raise ValueError(f"write method must be one of {', '.join(WRITE_METHODS)}, got {method!r}")
    return WriteToBigQuery(
        table,
        schema=schema,
        method=getattr(WriteToBigQuery.Method, method),
        # The infrastructure may create the dataset and table itself; if it has not, the
        # first run creates the table from the schema the pipeline owns.
        create_disposition=BigQueryDisposition.CREATE_IF_NEEDED,
        write_disposition=BigQueryDisposition.WRITE_APPEND,
    )


def to_pubsub_message(letter: dict):
    from apache_beam.io.gcp.pubsub import PubsubMessage

    # The original bytes stay the message body, so a fixed consumer can replay the topic as
    # is; the reason rides in attributes (each at most 1024 bytes).
    return PubsubMessage(
        data=letter["payload"],
        attributes={"error": letter["error"][:1000], "pipeline": letter["pipeline"]},
    )


class DeadLettersToPubSub(beam.PTransform):
    def __init__(self, topic: str):
        super().__init__()
        self._topic = topic

    def expand(self, letters):
        from apache_beam.io.gcp.pubsub import WriteToPubSub

        return (letters
                | "ToMessage" >> beam.Map(to_pubsub_message)
                | "Publish" >> WriteToPubSub(self._topic, with_attributes=True))


def to_prediction_message(row: dict):
    from apache_beam.io.gcp.pubsub import PubsubMessage

    # The version rides in an attribute too, so a subscription can filter on it (a canary
    # comparison, or ignoring an old version's stragglers) without parsing bodies.
    return PubsubMessage(data=json.dumps(row, sort_keys=True).encode("utf-8"),
                         attributes={"model_version": str(row["model_version"])})


class RowsToPubSub(beam.PTransform):
    """Each row as a JSON message on a topic, its model_version also an attribute."""

    def __init__(self, topic: str):
        super().__init__()
        self._topic = topic

    def expand(self, rows):
        from apache_beam.io.gcp.pubsub import WriteToPubSub

        return (rows
                | "ToMessage" >> beam.Map(to_prediction_message)
                | "Publish" >> WriteToPubSub(self._topic, with_attributes=True))


def to_json_line(letter: dict) -> str:
    return json.dumps({
        "payload": letter["payload"].decode("utf-8", errors="replace"),
        "error": letter["error"],
        "pipeline": letter["pipeline"],
    }, sort_keys=True)


class DeadLettersToText(beam.PTransform):
    """JSON lines under a path prefix (gs:// or local), one shard set per run."""

    def __init__(self, path_prefix: str):
        super().__init__()
        self._prefix = path_prefix

    def expand(self, letters):
        return (letters
                | "ToJson" >> beam.Map(to_json_line)
                | "Write" >> beam.io.WriteToText(self._prefix, file_name_suffix=".jsonl"))


class FailOnDeadLetter(beam.PTransform):
    """Fail the job on the first unparseable record: for runs with nowhere to put them."""

    def expand(self, letters):
        return letters | "Fail" >> beam.Map(_fail)


def _fail(letter: dict):
    raise ValueError(
        f"unparseable record ({letter['error']}): {letter['payload'][:200]!r}; "
        "set deadLetterPath to keep such records and go on")
