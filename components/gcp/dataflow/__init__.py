"""Dataflow: Flex Template pipelines, their Pub/Sub feeds, BigQuery sinks and identities."""
