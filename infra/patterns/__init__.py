"""The patterns: the registry, the couplings they check, and one file per pattern."""
