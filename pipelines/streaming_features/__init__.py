"""Streaming features: JSON events from a Pub/Sub subscription aggregated per key and event-time
window (count, sum, mean, min, max) into BigQuery; unparseable messages to a dead-letter
topic."""
