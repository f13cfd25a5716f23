"""What an estimate is made of: one priced `Line` per resource, or an `Unpriced` entry saying why
not (never a zero). Shared by the Google Cloud and AWS pricers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from infra.cost.prices import Price


@dataclass
class Line:
    name: str
    type: str
    what: str
    idle: float
    expected: float
    peak: float
    on_demand_peak: Optional[float] = None
    """Spot pools: what the same nodes would cost on demand at peak."""
    spot_saving: Optional[float] = None
    """Spot pools: the fraction spot saves against on demand (0.6 = 60 %)."""
    unconfirmed: list[str] = field(default_factory=list)
    """Table rows this line used whose price could not be confirmed on the page."""


@dataclass
class Unpriced:
    name: str
    type: str
    reason: str
    nodes: Optional[str] = None
    """Set when what is not priced is a pool's nodes: its kind in LEFT_OUT, for the summary line."""


# Nodes the totals leave out, by kind of pool: a range without a cluster's nodes reads as the
# cluster's cost, so the summary line says which are missing and why ({n}: how many pools).
LEFT_OUT = {
    "karpenter": "the nodes Karpenter launches for {n} NodePool{s} (it picks their instance types and counts "
                 "at run time)",
    "spot": "{n} spot node group{s} (spot prices are market prices; the table holds none)",
    "unpriced": "{n} node pool{s} whose machines the table has no price for",
}


def flag(used: list[str], *rows: Price) -> None:
    """Note the rows a line used whose price the table marks not confirmed (shown as `*`)."""
    for p in rows:
        label = f"{p.sku or p.unit} ({p.source})"
        if not p.confirmed and label not in used:
            used.append(label)


def money(x: float) -> float:
    return round(x, 2)


def flat(name: str, type_: str, what: str, monthly: float, *rows: Price) -> Line:
    """A resource that costs the same every month whatever the traffic."""
    used: list[str] = []
    flag(used, *rows)
    cost = money(monthly)
    return Line(name, type_, what, cost, cost, cost, unconfirmed=used)
