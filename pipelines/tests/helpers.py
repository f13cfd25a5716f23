"""Test IO: sinks that assert on what reaches them, and the runner every test pins."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.util import assert_that


class Expect(beam.PTransform):
    """A sink that checks the PCollection it is given with `matcher` when the pipeline runs."""

    def __init__(self, matcher, label: str):
        super().__init__()
        self._matcher = matcher
        self._label = label

    def expand(self, pcoll):
        assert_that(pcoll, self._matcher, label=self._label)
        return pcoll


def runner_options(streaming: bool = False) -> PipelineOptions:
    # The default DirectRunner first tries to download a portable runner binary; the
    # bundle-based one runs in-process and offline.
    options = PipelineOptions(["--runner=BundleBasedDirectRunner"])
    options.view_as(StandardOptions).streaming = streaming
    return options
