"""The Flex Template parameter contract: metadata.json against a pipeline's argument parser.

The infrastructure checks a stack file's `parameters` against metadata.json before planning,
so metadata.json must say exactly what main() accepts; `parser_contract` is what the tests
compare it with.
"""
from __future__ import annotations

import argparse
import json
import os


def load_metadata(pipeline_dir: str) -> dict:
    with open(os.path.join(pipeline_dir, "metadata.json"), encoding="utf-8") as f:
        return json.load(f)


def parser_contract(parser: argparse.ArgumentParser) -> dict[str, dict]:
    """Each `--name` option of the parser: whether it is required, its choices and default."""
    contract = {}
    for action in parser._actions:  # argparse has no public accessor for its options
        longs = [s for s in action.option_strings if s.startswith("--")]
        if not longs or isinstance(action, argparse._HelpAction):
            continue
        contract[longs[0][2:]] = {
            "required": bool(action.required),
            "choices": list(action.choices) if action.choices else None,
            "default": action.default,
        }
    return contract
