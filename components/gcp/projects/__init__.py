"""The project: the APIs a pattern enables."""
