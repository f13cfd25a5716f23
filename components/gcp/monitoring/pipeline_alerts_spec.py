"""How a Dataflow pipeline's alerts fire, as the stack file says it (`pipelines[].alerts`)."""

from __future__ import annotations

from pydantic import Field

from components.core.spec import Spec


class PipelineAlertsSpec(Spec):
    """Alerts on a failed job and, for a streaming pipeline, on falling behind. Prod pipelines get
    them with these defaults; a dev pipeline only when it has this key."""

    max_lag_minutes: int = Field(default=5, ge=1, le=1440)
    """Streaming only: alert when the system lag (the longest any element has waited) stays above
    this for ten minutes. Defaults to 5."""
    max_watermark_age_minutes: int = Field(default=15, ge=1, le=1440)
    """Streaming only: alert when the output's data watermark (the newest event time fully
    processed) stays older than this for ten minutes. Defaults to 15."""
