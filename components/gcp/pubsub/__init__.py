"""Pub/Sub: topic and subscription names."""
