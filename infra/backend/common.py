"""What both clouds share: the plan of changes, weak settings, bucket-name rules, the report.

A cloud module inspects what exists and returns a Plan: the steps that would create what is
missing, and the weak settings of what already exists (each with the step that repairs it).
`execute` then refuses, reports or applies it. Nothing here imports a cloud SDK, so the CLI
can describe a BackendError without the backend packages installed.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Callable, Optional, TextIO

# One key per state bucket; the name says what it is for. Pulumi's secrets provider URL
# names the key, so it must be stable across runs: derived from the bucket, never random.
KEY_PREFIX = "pulumi-"


class BackendError(Exception):
    """A failure the user can act on: the message names what failed and the fix."""


@dataclass
class Options:
    cloud: str
    bucket: str
    region: Optional[str] = None        # AWS region, or GCS/KMS location
    project: Optional[str] = None       # GCP project
    endpoint_url: Optional[str] = None  # AWS only: an S3/KMS/STS-compatible endpoint (tests, LocalStack)
    dry_run: bool = False
    fix: bool = False


@dataclass
class Step:
    """One change, described before it is made: the description is what a dry run prints."""
    summary: str
    apply: Callable[[], None]


@dataclass
class Weakness:
    """A setting of an existing resource that is weaker than a state backend needs."""
    setting: str
    found: str
    repair: Step


@dataclass
class Plan:
    title: str                  # e.g. "s3://acme-state (us-east-1)"
    login: str                  # the exact `pulumi login ...` line
    secrets_provider: str       # the URL for `pulumi stack init --secrets-provider`
    steps: list[Step] = field(default_factory=list)
    weaknesses: list[Weakness] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def login_lines(self) -> list[str]:
        return [self.login,
                f'pulumi stack init <stack> --secrets-provider="{self.secrets_provider}"']


def execute(plan: Plan, options: Options, out: TextIO) -> None:
    """Refuse a weak existing backend (unless --fix), else report or apply the steps in order."""
    if plan.weaknesses and not options.fix:
        raise BackendError(weakness_report(plan, options))
    steps = plan.steps + [w.repair for w in plan.weaknesses]
    for note in plan.notes:
        print(f"note: {note}", file=out)
    if not steps:
        print(f"{plan.title} is already set up: nothing changed.", file=out)
    elif options.dry_run:
        print(f"dry run: would make {_count(steps)} to {plan.title}:", file=out)
        for step in steps:
            print(f"  would {step.summary}", file=out)
        print("Nothing was changed (rerun without --dry-run to make these changes).", file=out)
    else:
        print(f"making {_count(steps)} to {plan.title}:", file=out)
        for step in steps:
            # Printed before it runs, so a failure midway shows how far it got; a rerun
            # resumes from what exists, since every step is re-planned from the cloud's state.
            print(f"  + {step.summary}", file=out, flush=True)
            step.apply()
        print("Done.", file=out)
    print("\nLog in to the backend, then create each stack with the key as its secrets provider:", file=out)
    for line in plan.login_lines():
        print(f"  {line}", file=out)


def weakness_report(plan: Plan, options: Options) -> str:
    lines = [f"mlinfra backend init: {plan.title} already exists with {len(plan.weaknesses)} "
             f"setting{'s' if len(plan.weaknesses) != 1 else ''} weaker than a state backend needs:", ""]
    for w in plan.weaknesses:
        lines.append(f"  {w.setting}: {w.found}")
        lines.append(f"    fix: {w.repair.summary}")
    lines += ["", "Nothing was changed. Rerun with --fix to make these changes"
              + (" (with --dry-run to see them first)" if not options.dry_run else "")
              + ", or change them yourself."]
    return "\n".join(lines)


def _count(steps: list[Step]) -> str:
    return f"{len(steps)} change" + ("s" if len(steps) != 1 else "")


def key_name(bucket: str) -> str:
    """The KMS key (alias) name for a bucket: KMS names allow no dots, and at most 63 characters on GCP."""
    return (KEY_PREFIX + bucket.replace(".", "-"))[:63]


_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def s3_name_problem(name: str) -> Optional[str]:
    """Why S3 would refuse this bucket name (or why it is unsafe for a state bucket), or None."""
    if not 3 <= len(name) <= 63:
        return f"is {len(name)} characters long; S3 bucket names have 3 to 63"
    if "." in name:
        # Allowed by S3, but a dotted name breaks TLS certificate checks on virtual-hosted
        # requests, and this bucket's policy refuses every request that is not TLS.
        return "contains a dot, which breaks TLS for virtual-hosted S3 requests; use hyphens"
    if not _LABEL.match(name):
        return "may have only lowercase letters, digits and hyphens, and must start and end with a letter or digit"
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            return f"starts with {prefix!r}, which S3 reserves"
    for suffix in ("-s3alias", "--ol-s3", "--x-s3", "--table-s3"):
        if name.endswith(suffix):
            return f"ends with {suffix!r}, which S3 reserves"
    return None


def gcs_name_problem(name: str) -> Optional[str]:
    """Why Cloud Storage would refuse this bucket name, or None."""
    limit = 222 if "." in name else 63
    if not 3 <= len(name) <= limit:
        return f"is {len(name)} characters long; Cloud Storage bucket names have 3 to {limit}"
    if not re.match(r"^[a-z0-9][a-z0-9._-]*[a-z0-9]$", name):
        return ("may have only lowercase letters, digits, hyphens, underscores and dots, "
                "and must start and end with a letter or digit")
    if any(len(part) > 63 or not part for part in name.split(".")):
        return "has a dot-separated part that is empty or longer than 63 characters"
    if _is_ip(name):
        return "looks like an IP address, which Cloud Storage refuses"
    if name.startswith("goog") or "google" in name:
        return "starts with 'goog' or contains 'google', which Cloud Storage refuses"
    return None


def check_name(name: str, cloud: str) -> None:
    problem = s3_name_problem(name) if cloud == "aws" else gcs_name_problem(name)
    if problem:
        kind = "S3" if cloud == "aws" else "Cloud Storage"
        raise BackendError(f"mlinfra backend init: --bucket {name!r} {problem}.\n"
                           f"  fix: choose a valid {kind} bucket name, e.g. acme-pulumi-state\n"
                           "Nothing was changed.")
