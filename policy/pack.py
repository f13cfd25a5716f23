"""The guardrails as Pulumi policies: one stack policy per rule, judging what `pulumi preview`
would create, with the waivers written in the stack's own stack file.

Built into a PolicyPack only in `__main__.py` (constructing one starts the analyzer server);
the tests call these policies' validate functions directly.
"""

from __future__ import annotations

from typing import Callable

from pulumi_policy import (EnforcementLevel, PolicyResource, ReportViolation, StackValidationArgs,
                           StackValidationPolicy)

from components.core.labels import type_takes_labels
from policy.rules import RULES, Context, Resource, Rule, environment_of

def to_resource(r: PolicyResource) -> Resource:
    return Resource(urn=r.urn, type=r.resource_type, name=r.name, inputs=r.props,
                    parent=r.parent.urn if r.parent is not None else None,
                    protect=bool(r.opts.protect) if r.opts is not None else False, retain_on_delete=None)


WaiversFor = Callable[[str], list[dict]]
"""Given a resource URN, the waivers (`{rule, reason, resources}`) of the stack it belongs to."""


def validator(rule: Rule, waivers_for: WaiversFor):
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


def policies(waivers_for: WaiversFor,
             enforcement: EnforcementLevel = EnforcementLevel.MANDATORY) -> list[StackValidationPolicy]:
    return [StackValidationPolicy(name=rule.id.lower(), description=f"{rule.title} ({rule.reference})",
                                  validate=validator(rule, waivers_for),
                                  enforcement_level=enforcement)
            for rule in RULES]
