"""How a pipeline's entry point runs it: on Dataflow the Flex Template launcher must exit once
the job is submitted; a local run has to wait for the work (a streaming one until stopped)."""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional


def main(run: Callable[[Optional[list[str]]], Any], argv: Optional[list[str]] = None) -> None:
    from apache_beam.runners.dataflow.dataflow_runner import DataflowPipelineResult

    logging.getLogger().setLevel(logging.INFO)
    result = run(argv)
    if not isinstance(result, DataflowPipelineResult):
        result.wait_until_finish()
