"""Serving platforms: the registry and one builder per platform."""
