"""Feast feature store: BigQuery offline store, registry bucket, Memorystore or Bigtable online store, materialization."""
