"""Batch scoring: JSON records from the data lake (or a BigQuery table) scored by one version
of a model from the artifact bucket, predictions appended to BigQuery."""
