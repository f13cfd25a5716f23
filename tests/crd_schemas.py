"""Strict validation of custom resources against their vendored CRD schemas (tests/data/crds/).

A CRD's structural schema lists every field; the API server prunes unknown ones, and with
field validation Strict (kubectl's default since 1.27) refuses them. Here an object schema with
`properties` and neither `additionalProperties` nor `x-kubernetes-preserve-unknown-fields` gets
`additionalProperties: false`, so an unknown or misspelt field fails as it would there.
`metadata` is the ObjectMeta the schema leaves open. CEL rules are not evaluated.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

CRDS = Path(__file__).parent / "data" / "crds"


def _strict(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out \
                and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@lru_cache(maxsize=None)
def _validators() -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    found = {}
    for path in sorted(CRDS.glob("*.json")):
        doc = json.loads(path.read_text())
        schema = _strict(copy.deepcopy(doc["schema"]))
        schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
        found[(f"{doc['group']}/{doc['version']}", doc["kind"])] = jsonschema.Draft7Validator(schema)
    return found


def vendored_kinds() -> set[tuple[str, str]]:
    """(apiVersion, kind) of every vendored schema."""
    return set(_validators())


def errors(obj: dict) -> list[str]:
    """Every way `obj` breaks its kind's schema, as `path: message`; KeyError for a kind not vendored."""
    validator = _validators()[(obj["apiVersion"], obj["kind"])]
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))]
