"""What a model server promises: service-level objectives, on any platform (plain data)."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from components.core.spec import Spec


class LatencyObjective(Spec):
    """A request is good when it is answered within `thresholdMs`."""

    threshold_ms: int = Field(ge=1, le=600_000)
    """The latency a good request stays within, in milliseconds. Required."""
    percent: float = Field(99.0, gt=50, le=99.99)
    """The share of requests that must be that fast, at most 99.99 (Cloud Monitoring refuses an SLO
    goal above 0.9999; AWS stacks share the bound). Defaults to 99."""


class SloSpec(Spec):
    """Objectives over a rolling window, each with a fast and a slow burn-rate alert."""

    availability: Optional[float] = Field(99.5, gt=50, le=99.99)
    """Percent of requests answered without a server error (5xx), at most 99.99 (Cloud Monitoring
    refuses an SLO goal above 0.9999; AWS stacks share the bound). Defaults to 99.5; null: none."""
    latency: Optional[LatencyObjective] = None
    """A latency objective. Defaults to none."""
    window_days: int = Field(28, ge=1, le=30)
    """The rolling window the objectives are measured over, in days. Defaults to 28."""
