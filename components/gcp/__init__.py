"""Google Cloud components, one folder per service."""
