"""Streaming scoring: JSON feature records from a Pub/Sub subscription scored by the newest
complete model version in the artifact bucket (a new `<version>/_READY` marker switches the
running job to it), predictions published to a Pub/Sub topic; unparseable messages to a
dead-letter topic."""
