"""The guardrails as Pulumi policies: one stack policy per rule, judging what `pulumi preview`
would create, with the waivers written in the stack's own stack file.

Built into a PolicyPack only in `__main__.py` (constructing one starts the analyzer server);
the tests call these policies' validate functions directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from pulumi_policy import (EnforcementLevel, PolicyResource, ReportViolation, StackValidationArgs,
                           StackValidationPolicy)

from components.labels import type_takes_labels
from policy.rules import RULES, Context, Resource, Rule, environment_of

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def to_resource(r: PolicyResource) -> Resource:
    return Resource(urn=r.urn, type=r.resource_type, name=r.name, inputs=r.props,
                    parent=r.parent.urn if r.parent is not None else None,
                    protect=bool(r.opts.protect) if r.opts is not None else False, retain_on_delete=None)


def stack_waivers(urn: str, root: Path = PROJECT_ROOT) -> list[dict]:
    """The waivers of the stack a URN belongs to, read from its stack file."""
    from infra.stackfile import read_project, read_stack_config

    stack = urn.split("::")[0].removeprefix("urn:pulumi:")
    try:
        path = read_project(root).stack_file(stack)
        return list(read_stack_config(path).get("mlinfra:waivers") or [])
    except (OSError, ValueError):
        return []


def validator(rule: Rule, waivers_for: Callable[[str], list[dict]] = stack_waivers):
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [to_resource(r) for r in args.resources if not r.resource_type.startswith("pulumi:")]
        if not resources or not rule.applies(resources):
            return
        context = Context(environment=environment_of(resources),
                          labelled_types=frozenset(r.type for r in resources if type_takes_labels(r.type)))
        waivers = [w for w in waivers_for(resources[0].urn) if w.get("rule") == rule.id]
        for finding in rule.run(resources, context):
            if any(not w.get("resources") or finding.name in w["resources"] for w in waivers):
                continue
            report_violation(f"{rule.id}: {finding.name}: {finding.message}", finding.urn)
    return validate


def policies(enforcement: EnforcementLevel = EnforcementLevel.MANDATORY,
             waivers_for: Optional[Callable[[str], list[dict]]] = None) -> list[StackValidationPolicy]:
    return [StackValidationPolicy(name=rule.id.lower(), description=f"{rule.title} ({rule.reference})",
                                  validate=validator(rule, waivers_for or stack_waivers),
                                  enforcement_level=enforcement)
            for rule in RULES]
