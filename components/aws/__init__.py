"""Amazon Web Services components, one folder per service (room for the EKS pattern)."""
