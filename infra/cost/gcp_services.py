"""Google Cloud resources priced beside the compute in `estimate.py`: external load balancers'
forwarding rules and processed bytes, the bytes BigQuery datasets store, Cloud Armor policies,
Memorystore for Valkey nodes and Workflows steps."""

from __future__ import annotations

from typing import Any, Optional

from infra.cost import prices
from infra.cost.lines import Line, Unpriced, flag, flat, money
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


def security_policy(name: str, type_: str, i: dict[str, Any], spec: CostSpec) -> Line:
    """Cloud Armor Standard: the policy and each of its rules (the default rule included) a
    month, plus `securityPolicyRequestsPerMonth` requests evaluated. Idle: no requests."""
    rules = len(i.get("rules") or [])
    fixed = prices.ARMOR_POLICY.usd + rules * prices.ARMOR_RULE.usd
    requests = spec.security_policy_requests_per_month / 1e6 * prices.ARMOR_REQUESTS.usd
    used: list[str] = []
    flag(used, prices.ARMOR_POLICY, prices.ARMOR_RULE, prices.ARMOR_REQUESTS)
    what = f"policy + {rules} rules + {spec.security_policy_requests_per_month:,.0f} requests"
    return Line(name, type_, what, money(fixed), money(fixed + requests), money(fixed + requests), unconfirmed=used)


def memorystore(name: str, type_: str, i: dict[str, Any], region: str, spec: CostSpec) -> Line | Unpriced:
    """Memorystore for Valkey: every node (each shard's primary and its replicas) all month."""
    node_type = str(i.get("nodeType") or "")
    nodes = int(i.get("shardCount") or 1) * (1 + int(i.get("replicaCount") or 0))
    price = prices.VALKEY_NODE.get((region, node_type))
    if price is None:
        return Unpriced(name, type_, f"{node_type or 'node'} x {nodes} nodes: no Memorystore for Valkey price for "
                                     f"{node_type or 'its node type'} in {region} in the table")
    return flat(name, type_, f"{nodes} x {node_type.lower().replace('_', '-')} node"
                                  f"{'s' if nodes > 1 else ''}", nodes * price.usd * spec.hours_per_month, price)


def _field(text: str, lo: int, hi: int) -> int:
    """How many values a cron field matches (`*`, lists, ranges, steps)."""
    values: set[int] = set()
    for part in text.split(","):
        base, _, step = part.partition("/")
        if base in ("*", "?"):
            start, end = lo, hi
        elif "-" in base:
            start, end = (int(x) for x in base.split("-", 1))
        else:
            start = end = int(base)
            if step:
                end = hi
        values.update(range(start, end + 1, int(step or 1)))
    return len(values)


def cron_runs_per_month(cron: str, hours_per_month: float) -> Optional[float]:
    """Runs of a five-field cron schedule in a month of `hours_per_month` hours; None when the
    schedule is not one (Cloud Scheduler also accepts App Engine "every 5 minutes" syntax)."""
    fields = cron.split()
    if len(fields) != 5:
        return None
    try:
        minutes, hours, dom, month, dow = (_field(f, lo, hi) for f, (lo, hi) in
                                           zip(fields, [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]))
    except ValueError:
        return None
    days = hours_per_month / 24
    if fields[2] not in ("*", "?") and fields[4] in ("*", "?"):
        days = dom * hours_per_month / 730  # those days once a (730-hour) month
    elif fields[4] not in ("*", "?"):
        days = min(7, dow) * days / 7
    return minutes * hours * days * month / 12


def definition_steps(source: str) -> tuple[int, int]:
    """(internal, external) steps of a workflow definition, each run once: every step counts,
    every variable of an assign counts, the `except` branch of a `try` does not (it runs on a
    failure); an `http.*` call to a literal URL outside Google Cloud
    (not *.googleapis.com or *.run.app) is an external step."""
    import yaml

    internal = external = 0

    def walk(node: Any) -> None:
        nonlocal internal, external
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "except":  # runs only when its try fails
                    continue
                if key == "steps" and isinstance(value, list):
                    for step in value:
                        for body in (step.values() if isinstance(step, dict) else []):
                            if not isinstance(body, dict):
                                continue
                            outside = _external_call(body) or _external_call(body.get("try"))
                            if outside:
                                external += 1
                            else:
                                internal += max(1, len(body["assign"])) if isinstance(body.get("assign"), list) else 1
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(source or "") or {})
    return internal, external


def _external_call(body: Any) -> bool:
    """A step calling `http.*` on a literal URL outside Google Cloud (billed as external)."""
    if not isinstance(body, dict) or not str(body.get("call", "")).startswith("http."):
        return False
    url = str((body.get("args") or {}).get("url", "")) if isinstance(body.get("args"), dict) else ""
    return url.startswith("https://") and not any(d in url.split("/")[2] for d in (".googleapis.com", ".run.app"))


def workflow(name: str, type_: str, i: dict[str, Any], schedules: dict[str, str], spec: CostSpec) -> Line:
    """Steps a month: executions (`workflowExecutionsPerMonth`, by default from the schedule that
    runs it) x steps per execution (`workflowStepsPerExecution`, by default its definition's),
    internal and external at their rates. Idle: no executions."""
    cron = next((c for uri, c in schedules.items() if f"/workflows/{i.get('name')}/executions" in uri), None)
    runs = spec.workflow_executions_per_month
    if runs is None:
        runs = (cron_runs_per_month(cron, spec.hours_per_month) if cron else None)
        runs = 30.0 if runs is None else runs
    internal, external = definition_steps(str(i.get("sourceContents") or ""))
    if spec.workflow_steps_per_execution is not None:
        total = internal + external
        share = internal / total if total else 1.0
        internal, external = spec.workflow_steps_per_execution * share, spec.workflow_steps_per_execution * (1 - share)
    cost = runs * (internal * prices.WORKFLOWS_INTERNAL.usd + external * prices.WORKFLOWS_EXTERNAL.usd) / 1000
    used: list[str] = []
    flag(used, prices.WORKFLOWS_INTERNAL, *([prices.WORKFLOWS_EXTERNAL] if external else []))
    what = (f"{runs:g} runs{' (' + cron + ')' if cron and spec.workflow_executions_per_month is None else ''}"
            f" x {internal + external:g} steps ({external:g} external)")
    return Line(name, type_, what, 0.0, money(cost), money(cost), unconfirmed=used)
