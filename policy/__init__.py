"""Guardrails: the rules (`rules.py`) and the Pulumi policy pack that runs them (`__main__.py`)."""
