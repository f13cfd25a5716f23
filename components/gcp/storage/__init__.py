"""Cloud Storage: bucket locations and bucket names."""
