"""The keys of a stack file outside the mlinfra namespace: its cloud's provider keys, read from
the installed provider SDK itself, and nothing else the program would silently ignore.

Pulumi hands a program every `namespace:key` of the stack file; a key no code reads is dropped
without a word, so `mlinfar:labels` (a typo) or `aws:region` in a Google Cloud stack would plan
as if absent. Each is an error here: an unknown provider key with its nearest real one, a typo of
`mlinfra:` with the key it meant, another cloud's key, and any namespace the program does not read.

The provider keys are those its SDK's config module reads (`pulumi_gcp/config/vars.py`:
`__config__.get('region')`, ...), found as a file without importing the SDK, so validating a
stack loads no provider.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from components.core.issues import Issue
from infra.errors import ProviderKey
from infra.stack_config import NAMESPACE

PROVIDERS = {"gcp": "pulumi_gcp", "aws": "pulumi_aws"}
CLOUD_NAMES = {"gcp": "Google Cloud", "aws": "AWS"}
OTHER_CLOUD_KEY = {"gcp": "a Google Cloud", "aws": "an AWS"}
OTHER_CLOUD_FIX = {"gcp": "remove it (an AWS stack sets aws:region)",
                   "aws": f"remove it, or set `{NAMESPACE}:cloud: aws` for an AWS stack"}
# Pulumi's own keys (pulumi:disable-default-providers, ...) are the engine's, not the program's.
ENGINE_NAMESPACE = "pulumi"
_READ = re.compile(r"__config__\.get\w*\(\s*'([A-Za-z0-9_]+)'")


@lru_cache(maxsize=None)
def provider_keys(namespace: str) -> frozenset[str]:
    """The config keys the installed provider SDK reads (empty when it is not installed)."""
    spec = importlib.util.find_spec(PROVIDERS[namespace])
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    vars_file = Path(next(iter(spec.submodule_search_locations))) / "config" / "vars.py"
    try:
        return frozenset(_READ.findall(vars_file.read_text(encoding="utf-8")))
    except OSError:
        return frozenset()


def outside_keys_issues(values: Mapping[str, Any], cloud: str) -> list[Issue]:
    """Issues for every key outside `mlinfra:` that a stack on `cloud` would silently ignore."""
    issues: list[Issue] = []
    for key in sorted(values):
        namespace, _, name = key.partition(":")
        if namespace in (NAMESPACE, ENGINE_NAMESPACE):
            continue
        if namespace == cloud:
            known = provider_keys(cloud)
            if known and name not in known:
                close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
                issues.append(Issue((ProviderKey(key),), f"is not a key of the {CLOUD_NAMES[cloud]} provider ({PROVIDERS[cloud]})",
                                    hint=f"did you mean {cloud}:{close[0]}?" if close else None,
                                    fix=f"rename it to {cloud}:{close[0]}" if close else "remove it"))
        elif namespace in PROVIDERS:
            issues.append(Issue((ProviderKey(key),), f"is {OTHER_CLOUD_KEY[namespace]} key; this stack's cloud is {cloud}",
                                fix=OTHER_CLOUD_FIX[namespace]))
        elif difflib.get_close_matches(namespace, [NAMESPACE], n=1, cutoff=0.7):
            issues.append(Issue((ProviderKey(key),), "is in no namespace the program reads",
                                hint=f"did you mean {NAMESPACE}:{name}?", fix=f"rename it to {NAMESPACE}:{name}"))
        else:
            readable = ", ".join(f"{n}:" for n in (NAMESPACE, cloud, ENGINE_NAMESPACE))
            issues.append(Issue((ProviderKey(key),), f"is in no namespace the program reads (it reads {readable} keys)",
                                fix="remove it"))
    return issues
