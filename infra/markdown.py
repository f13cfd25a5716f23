"""The offline plan as markdown for a pull-request comment: what the stack creates (counts by
type, its components), the guardrail verdicts, and a Mermaid diagram of the architecture.

Everything here comes from the recording and the verdicts, so the same plan gives the same
text; the comment workflow edits one comment per stack with it.
"""

from __future__ import annotations

from infra import architecture
from infra.plan import Plan

STATUS = {"holds": "holds", "violated": "**violated**", "waived": "waived", "n/a": "n/a"}
COST_BEGIN = "<!-- mlinfra-cost:begin -->"
COST_END = "<!-- mlinfra-cost:end -->"


def _cell(text: object) -> str:
    # A table cell holds one line, and a pipe would end it.
    return str(text).replace("|", "\\|").replace("\n", " ")


def cost_section(plan: Plan) -> str:
    """The monthly estimate (infra/cost/) between its two markers, so a tool can find it."""
    from infra.cost import render as cost

    return "\n".join(["### Cost estimate", "", COST_BEGIN, cost.markdown(cost.of_plan(plan)), COST_END])


def render(plan: Plan) -> str:
    rec = plan.recording
    counts = rec.count_by_type()
    cloud = {t: n for t, n in counts.items() if not t.startswith("mlinfra:")}
    components = {t: n for t, n in counts.items() if t.startswith("mlinfra:")}
    verdicts = plan.verdicts
    tally = {s: sum(1 for v in verdicts if v.status == s) for s in ("holds", "violated", "waived", "n/a")}
    verdict_line = (f"{tally['holds']} hold, {tally['violated']} violated, {tally['waived']} waived, "
                    f"{tally['n/a']} not applicable")
    lines = [
        f"## Offline plan of stack `{plan.stack}`",
        "",
        f"`{plan.file}` ({plan.config.get('mlinfra:pattern')} pattern"  # the bootstrap stack has no environment
        f"{', ' + str(plan.config['mlinfra:environment']) if plan.config.get('mlinfra:environment') else ''}): "
        f"**{sum(cloud.values())} cloud resources** in {sum(components.values())} components, "
        f"planned offline under Pulumi's mock engine (no cloud calls). Guardrails: {verdict_line}.",
        "",
        "### Architecture",
        "",
        "```mermaid",
        architecture.mermaid(architecture.build(rec)),
        "```",
        "",
        "### Guardrails",
        "",
        "| verdict | rule | what it checks | findings |",
        "|---|---|---|---|",
    ]
    for v in (v for v in verdicts if v.status != "n/a"):
        findings = [f"{f.name}: {f.message}" for f in v.findings]
        findings += [f"{f.name}: {f.message} (waived: {w.reason})" for f, w in v.waived]
        lines.append(f"| {STATUS[v.status]} | `{v.rule}` | {_cell(v.title)} ({_cell(v.reference)}) | "
                     f"{_cell('; '.join(findings)) or ''} |")
    idle = [v.rule for v in verdicts if v.status == "n/a"]
    if idle:
        lines += ["", f"Not applicable to this stack (nothing they check is planned): {', '.join(f'`{r}`' for r in idle)}."]
    lines += ["", "### Resources", "", "| count | cloud resource type |", "|---:|---|"]
    for type_, n in sorted(cloud.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"| {n} | `{type_}` |")
    lines += ["", "<details><summary>Components</summary>", "", "| count | component |", "|---:|---|"]
    for type_, n in sorted(components.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"| {n} | `{type_}` |")
    lines += ["", "</details>", "", cost_section(plan)]
    for warning in plan.warnings:
        lines += ["", f"> warning: {warning}"]
    return "\n".join(lines) + "\n"
