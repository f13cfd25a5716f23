"""A Flex Template's folder as the stack file names it: its metadata.json, the parameters it
declares, and the check of a pipeline's `parameters` against them. No provider import.

The infrastructure fills some parameters itself from the pipeline's source, sink and model
(`DERIVED`): a template that declares one of them gets it from the stack, and a stack file that
sets one is told where it comes from instead.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any, Mapping, Optional

from components.core.issues import Issue

DERIVED = {
    "inputSubscription": ("source", "pubsub", "the subscription the stack creates on source.pubsub.topic"),
    "deadLetterTopic": ("source", "pubsub", "the dead-letter topic the stack creates beside the subscription"),
    "inputPattern": ("source", "storage", "gs://<source bucket>/<prefix>*"),
    "inputTable": ("source", "bigquery", "source.bigquery.table"),
    "outputTable": ("sink", "bigquery", "sink.bigquery.dataset and table"),
    "outputPath": ("sink", "storage", "gs://<sink bucket>/<prefix>"),
    "outputTopic": ("sink", "pubsub", "the topic sink.pubsub.topic, which the stack creates"),
    "modelUri": ("model", "uri", "model.uri"),
    "modelVersion": ("model", "version", "model.version"),
}
"""Parameter name -> (the pipeline key it comes from, the kind of that key, what it is set to)."""


def load_metadata(folder: Path) -> tuple[Optional[dict[str, Any]], Optional[str]]:
    """metadata.json of a template folder, or why it cannot be read."""
    path = folder / "metadata.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "has no metadata.json"
    except (OSError, ValueError) as error:
        return None, f"has a metadata.json that is not JSON ({error})"
    if not isinstance(data, dict) or not isinstance(data.get("parameters", []), list):
        return None, "has a metadata.json without a `parameters` list"
    return data, None


def declared(metadata: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The template's parameters by name."""
    return {p["name"]: p for p in metadata.get("parameters", []) if isinstance(p, dict) and "name" in p}


def parameter_issues(params: Mapping[str, str], metadata: Mapping[str, Any], derived: set[str],
                     source: str) -> list[Issue]:
    """The stack's `parameters` against what the template declares: unknown names (with a did you
    mean), values its regexes refuse, names the stack derives, and required ones left unset."""
    known = declared(metadata)
    issues: list[Issue] = []
    for name, value in params.items():
        key = ("parameters", name)
        if name in DERIVED:
            where, _, what = DERIVED[name]
            issues.append(Issue(key, f"is set by the stack from {where} ({what})", value,
                                fix=f"remove it; the pipeline's {where} decides it"))
        elif name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            issues.append(Issue(key, f"is not a parameter of the template in {source}", value,
                                hint=f"did you mean {close[0]}?" if close else None,
                                allowed=", ".join(sorted(n for n in known if n not in DERIVED)) or "none",
                                fix="use a parameter its metadata.json declares, or declare it there"))
        else:
            for regex in known[name].get("regexes") or []:
                if not re.search(regex, str(value)):
                    issues.append(Issue(key, "does not match the template's pattern", value, allowed=regex,
                                        fix=f"write a value matching {regex}"))
                    break
    unusable = sorted(n for n in derived - set(known) if n != "deadLetterTopic")
    for name, p in known.items():
        if not p.get("isOptional", False) and name not in params and name not in derived:
            if name in DERIVED:
                where, kind, what = DERIVED[name]
                if any(DERIVED[n][0] == where for n in unusable):
                    continue  # the source or sink is of the wrong kind: said once, below
                issues.append(Issue((where,), f"the template in {source} needs {name}, which comes from "
                                    + (where if where == "model" else f"{where}.{kind}"), fix=f"set {what}"))
            else:
                issues.append(Issue(("parameters",), f"misses {name}, which the template in {source} requires",
                                    fix=f"add parameters.{name} ({p.get('helpText', '')})".rstrip(" ()")))
    for name in unusable:
        where, kind, _ = DERIVED[name]
        issues.append(Issue((where,) if where == "model" else (where, kind), f"the template in {source} declares no "
                            f"{name}, so it cannot use this {where}",
                            allowed=", ".join(sorted(f"{DERIVED[n][0]}.{DERIVED[n][1]}" for n in known if n in DERIVED
                                                     and DERIVED[n][0] == where)) or "none",
                            fix=f"use a {where} the template reads"))
    return issues
