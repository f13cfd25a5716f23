"""Google Cloud resources priced beside the compute in `estimate.py`: external load balancers'
forwarding rules and processed bytes, and the bytes BigQuery datasets store."""

from __future__ import annotations

from typing import Any

from infra.cost import prices
from infra.cost.lines import Line, Unpriced, flag, money
from infra.cost.spec import CostSpec

FORWARDING_RULE = "gcp:compute/globalForwardingRule:GlobalForwardingRule"
FREE_RULES_TIER = 5  # the page's "first 5 forwarding rules" rate, per project


def forwarding_rules(regs: list[Any], spec: CostSpec) -> list[Line]:
    """Each global forwarding rule's hours (the first five of the project at the higher rate, in
    plan order) and, once per load balancer (the rules sharing an IP address: HTTP redirect and
    HTTPS), `loadBalancerGibPerMonth` GiB processed in each direction. Idle: no traffic."""
    lines: list[Line] = []
    addresses: set[str] = set()
    for n, r in enumerate(regs):
        rate = prices.LB_RULE_FIRST5 if n < FREE_RULES_TIER else prices.LB_RULE_EXTRA
        hours = rate.usd * spec.hours_per_month
        address = str(r.inputs.get("ipAddress") or r.name)
        first = address not in addresses
        addresses.add(address)
        data = 2 * spec.load_balancer_gib_per_month * prices.LB_DATA.usd if first else 0.0
        used: list[str] = []
        flag(used, rate, *([prices.LB_DATA] if first else []))
        tier = "one of the first 5" if n < FREE_RULES_TIER else "beyond the first 5"
        what = f"forwarding rule ({tier})" + (f" + {spec.load_balancer_gib_per_month:g} GiB each way" if first else
                                               ", same load balancer")
        lines.append(Line(r.name, r.type, what, money(hours), money(hours + data), money(hours + data),
                          unconfirmed=used))
    return lines


def dataset(name: str, type_: str, i: dict[str, Any], region: str, spec: CostSpec) -> Line | Unpriced:
    """`bigqueryGbPerDataset` GiB of active logical storage; queries and ingestion are listed
    under the tables, not here."""
    where = str(i.get("location") or region).lower()
    price = prices.BQ_ACTIVE_STORAGE.get(where)
    if price is None:
        return Unpriced(name, type_, f"no BigQuery storage price for location {where} in the table")
    cost = money(spec.bigquery_gb_per_dataset * price.usd)
    used: list[str] = []
    flag(used, price)
    return Line(name, type_, f"{spec.bigquery_gb_per_dataset:g} GiB active logical storage", cost, cost, cost,
                unconfirmed=used)
