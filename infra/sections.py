"""Sections a stack file has on every cloud: its services (one spec per serving platform), the
Google Cloud jobs (one spec per platform that runs jobs) and its guardrail waivers. Shared by the Google Cloud and AWS schemas (infra/config.py, infra/aws_config.py)."""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Union

from pydantic import Discriminator, Field, Tag

from components.core.issues import Issue
from components.core.spec import Spec
from infra.platforms.registry import PLATFORMS, job_platforms

FALLBACK_PLATFORM = next(iter(PLATFORMS))
FALLBACK_JOB_PLATFORM = job_platforms()[0]


def _platform(value: Any, fallback: str = FALLBACK_PLATFORM) -> str:
    platform = value.get("platform", fallback) if isinstance(value, dict) else getattr(value, "platform", fallback)
    # Anything but a known name (a list, a number) is reported by pydantic as a bad tag.
    return platform if isinstance(platform, str) else repr(platform)


def _job_platform(value: Any) -> str:
    return _platform(value, FALLBACK_JOB_PLATFORM)


# Each entry of `services` is the spec of its `platform`, one member per registered platform.
ServiceSpec = Annotated[
    Union[tuple(Annotated[p.spec_class(), Tag(name)] for name, p in PLATFORMS.items())],
    Discriminator(_platform),
]

# Each entry of a Google Cloud stack's `jobs` is the job spec of its `platform`.
JobSpec = Annotated[
    Union[tuple(Annotated[PLATFORMS[name].job_spec_class(), Tag(name)] for name in job_platforms())],
    Discriminator(_job_platform),
]


class WaiverSpec(Spec):
    """An exception to one guardrail, with the reason written down; the plan shows it."""

    rule: str
    """The rule's ID, e.g. MLI-K8S-007 (see the rules table)."""
    reason: str = Field(min_length=20)
    """Why the exception is acceptable (at least 20 characters)."""
    resources: list[str] = []
    """Resource names (as in the plan) it covers. Defaults to all of the rule's findings."""


def waiver_issues(waivers: list[WaiverSpec]) -> list[Issue]:
    """Every waiver names a guardrail rule."""
    issues: list[Issue] = []
    if waivers:
        from policy.rules import RULE_IDS  # only stacks that waive a rule pay for the rules' import

        for i, waiver in enumerate(waivers):
            if waiver.rule not in RULE_IDS:
                close = difflib.get_close_matches(waiver.rule, sorted(RULE_IDS), n=1)
                issues.append(Issue(("waivers", i, "rule"), "is not a guardrail rule", waiver.rule,
                                    hint=f"did you mean {close[0]}?" if close else None,
                                    allowed="the IDs in the README's rules table", fix="use a rule ID the plan lists"))
    return issues
