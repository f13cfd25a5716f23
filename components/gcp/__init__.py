"""Google Cloud catalogues and format rules: pure functions, no Pulumi."""
