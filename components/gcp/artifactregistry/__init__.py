"""Artifact Registry: the stack's image repository."""
