"""Cloud Storage: buckets with safe settings always on, and the stack's data lake and artifacts."""
