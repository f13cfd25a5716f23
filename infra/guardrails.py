"""Run the guardrails over a plan: every rule's verdict, with the stack's written waivers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from components.core.labels import type_takes_labels
from infra.engine import Recording
from policy.rules import RULES, Context, Finding, Resource, environment_of


@dataclass(frozen=True)
class Waiver:
    rule: str
    reason: str
    resources: tuple[str, ...] = ()

    def covers(self, finding: Finding) -> bool:
        return finding.rule == self.rule and (not self.resources or finding.name in self.resources)


@dataclass
class Verdict:
    rule: str
    title: str
    reference: str
    status: str
    """holds, violated, waived or n/a."""
    findings: list[Finding] = field(default_factory=list)
    waived: list[tuple[Finding, Waiver]] = field(default_factory=list)


def resources_of(recording: Recording) -> list[Resource]:
    return [Resource(urn=r.urn, type=r.type, name=r.name, inputs=r.inputs, parent=r.parent,
                     protect=r.protect, retain_on_delete=r.retain_on_delete)
            for r in recording.registrations if r.custom]


def judge(resources: Sequence[Resource], waivers: Sequence[Waiver] = ()) -> list[Verdict]:
    context = Context(environment=environment_of(resources),
                      labelled_types=frozenset(r.type for r in resources if type_takes_labels(r.type)))
    verdicts = []
    for rule in RULES:
        findings = rule.run(resources, context) if rule.applies(resources) else None
        if findings is None:
            verdicts.append(Verdict(rule.id, rule.title, rule.reference, "n/a"))
            continue
        open_findings, waived = [], []
        for finding in findings:
            waiver = next((w for w in waivers if w.covers(finding)), None)
            (waived.append((finding, waiver)) if waiver else open_findings.append(finding))
        status = "violated" if open_findings else ("waived" if waived else "holds")
        verdicts.append(Verdict(rule.id, rule.title, rule.reference, status, open_findings, waived))
    return verdicts


def violations(verdicts: Sequence[Verdict]) -> list[Finding]:
    return [f for v in verdicts for f in v.findings]


def render(verdicts: Sequence[Verdict]) -> str:
    counts = {s: sum(1 for v in verdicts if v.status == s) for s in ("holds", "violated", "waived", "n/a")}
    lines = [f"Guardrails: {len(verdicts)} rules; {counts['holds']} hold, {counts['violated']} violated, "
             f"{counts['waived']} waived, {counts['n/a']} not applicable"]
    marks = {"holds": "ok  ", "violated": "FAIL", "waived": "WAIV", "n/a": "n/a "}
    for v in verdicts:
        lines.append(f"  {marks[v.status]}  {v.rule}  {v.title} ({v.reference})")
        for finding in v.findings:
            lines.append(f"          {finding.name}: {finding.message}")
        for finding, waiver in v.waived:
            lines.append(f"          {finding.name}: {finding.message} -- waived: {waiver.reason}")
    return "\n".join(lines)


def stack_waivers(urn: str, root: Path) -> list[dict]:
    """The waivers written in the stack file of the stack a URN belongs to (the policy pack's
    source of waivers; the plan reads them from the config it ran with)."""
    from infra.stackfile import StackFileError, read_project, read_stack_config

    stack = urn.split("::")[0].removeprefix("urn:pulumi:")
    try:
        path = read_project(root).stack_file(stack)
        return list(read_stack_config(path).get("mlinfra:waivers") or [])
    except (OSError, StackFileError):
        return []
