"""The estimate as the plan prints it: a table per priced resource and the stack's totals, one
summary line for `--quiet`, and the JSON the `--json` plan carries under `cost`."""

from __future__ import annotations

from typing import Any, Optional

from infra.cost import tables
from infra.cost.estimate import Estimate, estimate
from infra.cost.lines import LEFT_OUT
from infra.cost.spec import CostSpec


def of_plan(plan: Any) -> Estimate:
    """The estimate of a `infra.plan.Plan`: its recording, region and `mlinfra:cost` section."""
    from infra.config import parse_value

    written = parse_value(plan.config.get("mlinfra:cost")) or {}
    spec = CostSpec.model_validate(written, by_alias=True, by_name=False)
    # Tree order, not registration order (which varies with the SDK's threads): the same plan, the same table.
    region = plan.config.get("gcp:region") or plan.config.get("aws:region") or "us-central1"
    return estimate(plan.recording.tree_order(), str(region), spec)


def usd(x: float) -> str:
    return f"${x:,.2f}"


def left_out(e: Estimate) -> Optional[str]:
    """The pools whose nodes the totals leave out, and why; None when every pool is priced."""
    counts = {kind: sum(1 for u in e.unpriced if u.nodes == kind) for kind in LEFT_OUT}
    parts = [LEFT_OUT[kind].format(n=n, s="" if n == 1 else "s") for kind, n in counts.items() if n]
    return " and ".join(parts) or None


def table(e: Estimate) -> str:
    if not e.lines:
        return f"Monthly cost estimate: not estimated; the price table ({e.source}) has no prices for " \
               f"what this stack creates in {e.region} ({len(e.unpriced)} resources not priced)."
    a = e.assumptions
    lines = [f"Monthly cost estimate ({e.currency} list prices, {e.region}; table {e.source} checked "
             f"{e.checked}; no free tiers or discounts)",
             f"  assumes {a['hoursPerMonth']:g} h a month, {a['busyHoursPerMonth']:g} busy hours at "
             f"{a['averageScale'] * 100:g} % of the way from min to max (mlinfra:cost to change)"]
    name_w = max([len(x.name) for x in e.lines] + [8])
    what_w = max([len(x.what) for x in e.lines] + [4])
    # The `*` of an unconfirmed price has a column of its own after the figures, never under "spot".
    head = f"  {'resource':<{name_w}}  {'what':<{what_w}}  {'idle (min)':>12}  {'expected':>12}  {'peak (max)':>12}    spot"
    lines += ["", head]
    for x in e.lines:
        spot = ""
        if x.spot_saving is not None:
            spot = f"spot saves {x.spot_saving * 100:.0f} % (on demand {usd(x.on_demand_peak)} at peak)"
        mark = "*" if x.unconfirmed else ""
        lines.append(f"  {x.name:<{name_w}}  {x.what:<{what_w}}  {usd(x.idle):>12}  {usd(x.expected):>12}  "
                     f"{usd(x.peak):>12} {mark:1}  {spot}".rstrip())
    lines.append(f"  {'Total':<{name_w}}  {'':<{what_w}}  {usd(e.total('idle')):>12}  {usd(e.total('expected')):>12}  "
                 f"{usd(e.total('peak')):>12}")
    lines += ["", f"Always-on baseline (idle at every minimum): {usd(e.total('idle'))} a month; "
                  f"{usd(e.total('idle'))}-{usd(e.total('peak'))} from idle to peak."]
    missing = left_out(e)
    if missing:
        lines.append(f"The totals leave out {missing}.")
    if e.total("peak"):
        lines.append(f"Autoscaling: the expected month is {(1 - e.total('expected') / e.total('peak')) * 100:.0f} % "
                     f"below running everything at its maximum all month.")
    if e.spot_saving is not None:
        on_demand = e.total("peak") + e.spot_saving
        lines.append(f"Spot pools save {usd(e.spot_saving)} a month at peak against the same nodes on demand "
                     f"({e.spot_saving / on_demand * 100:.0f} % of the stack's on-demand peak {usd(on_demand)}).")
    if any(x.unconfirmed for x in e.lines):
        lines.append("* after a line's figures: they use a price the table marks not confirmed (see its rows' notes)")
    if e.unpriced:
        lines += ["", "Not priced (they cost money; the table cannot price them):"]
        lines += [f"  {u.name}  {u.type}: {u.reason}" for u in e.unpriced]
    return "\n".join(lines)


def summary(e: Estimate) -> str:
    if not e.lines:  # e.g. a region neither table covers
        return f"cost: not estimated: the price table has no prices for what this stack creates in {e.region} " \
               f"({len(e.unpriced)} not priced)"
    spot = f", spot saves {usd(e.spot_saving)} at peak" if e.spot_saving is not None else ""
    missing = left_out(e)
    return (f"cost: {usd(e.total('idle'))}-{usd(e.total('peak'))} a month (expected {usd(e.total('expected'))}, "
            f"{e.currency} list prices in {e.region}{spot}; {len(e.unpriced)} not priced)"
            + (f"; the range leaves out {missing}" if missing else ""))


def markdown(e: Estimate) -> str:
    """The estimate as a GitHub-flavoured table, for the pull-request comment."""
    lines = [f"Monthly, {e.currency} list prices in {e.region} (price table checked {e.checked}; no free tiers or "
             "discounts; assumptions in `mlinfra:cost`).", "",
             "| resource | what | idle (min) | expected | peak (max) | spot |", "|---|---|---:|---:|---:|---|"]
    for x in e.lines:
        spot = f"saves {x.spot_saving * 100:.0f} % (on demand {usd(x.on_demand_peak)})" if x.spot_saving is not None else ""
        mark = " \\*" if x.unconfirmed else ""  # on the figures, not in the spot column
        lines.append(f"| `{x.name}` | {x.what} | {usd(x.idle)} | {usd(x.expected)} | {usd(x.peak)}{mark} | {spot} |")
    lines.append(f"| **total** | | **{usd(e.total('idle'))}** | **{usd(e.total('expected'))}** | "
                 f"**{usd(e.total('peak'))}** | |")
    missing = left_out(e)
    if missing:
        lines += ["", f"The totals leave out {missing}."]
    if e.spot_saving is not None:
        lines += ["", f"Spot pools save {usd(e.spot_saving)} a month at peak against the same nodes on demand."]
    if any(x.unconfirmed for x in e.lines):
        lines += ["", "\\* after a line's figures: they use a price the table marks not confirmed."]
    if e.unpriced:
        lines += ["", "Not priced: " + ", ".join(f"`{u.name}` ({u.reason})" for u in e.unpriced)]
    return "\n".join(lines)


def table_rows() -> list[str]:
    """The price table as text: one row per price with its source (for review, not the plan)."""
    return [f"{name}: ${p.usd:g} {p.unit} [{p.sku}] {p.source} checked {p.checked}{' - ' + p.note if p.note else ''}"
            for name, p in tables.every_price()]
