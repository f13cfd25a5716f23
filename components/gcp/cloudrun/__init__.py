"""Cloud Run: model servers (services with an optional GPU and canary revisions)."""
