"""The monthly cost of a plan, from the inputs it recorded and the price table: pure functions
over a `Recording`, no cloud calls.

Every priced resource gets three figures. `idle`: everything at its minimum all month with no
traffic (the always-on baseline). `expected`: the minimum, plus `averageScale` of the way to the
maximum during `busyHoursPerMonth`, plus the assumed requests and bytes. `peak`: node pools at
their maximum all month, services at their maximum during the busy hours. Resources that cost
money but that the table cannot price are listed as not priced, never counted as zero.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from components.core.units import memory_mib
from infra.cost import aws, gcp_services, prices
from infra.cost.lines import Line, Unpriced, flag as _flag, money as _money
from infra.cost.spec import CostSpec

_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")
_REGION = re.compile(r"^[a-z]+-[a-z]+\d+$")
ZONES_PER_REGION = 3  # a regional cluster's default node locations: three of the region's zones
NAT_PORTS_PER_IP, NAT_MIN_PORTS_PER_VM = 64512, 64  # one NAT IP serves 1008 VMs at the default

# Types that carry no charge of their own (IAM, identities, APIs, VPC plumbing), or whose cost is
# priced elsewhere: Kubernetes objects run on the node pools, bucket objects sit in the buckets.
FREE_PREFIXES = (
    "gcp:projects/", "gcp:serviceaccount/", "gcp:compute/firewall:", "gcp:compute/network:",
    "gcp:compute/router:Router", "gcp:compute/subnetwork:", "gcp:cloudrunv2/serviceIamMember:",
    "gcp:cloudrunv2/jobIamMember:", "gcp:bigquery/datasetIamMember:", "gcp:bigtable/instanceIamMember:",
    "gcp:storage/bucketIAMMember:", "gcp:storage/bucketObject:", "gcp:storage/notification:",
    "gcp:pubsub/topicIAMMember:", "gcp:secretmanager/secretIamMember:", "kubernetes:", "pulumi:providers:",
    # Cloud Monitoring services, objectives, channels and dashboards (alert policies' conditions
    # may be billed: they stay "not priced").
    "gcp:monitoring/customService:", "gcp:monitoring/slo:", "gcp:monitoring/notificationChannel:",
    "gcp:monitoring/dashboard:",
    # An Eventarc trigger on a Pub/Sub topic: its messages are priced on the topic.
    "gcp:eventarc/trigger:", "gcp:cloudrunv2/jobIamMember:",
    # Memorystore's private connectivity: a policy, an address range and a peering carry no charge.
    "gcp:networkconnectivity/serviceConnectionPolicy:", "gcp:compute/globalAddress:", "gcp:servicenetworking/",
    # A load balancer's plumbing: its forwarding rules and processed bytes carry the charge.
    "gcp:compute/regionNetworkEndpointGroup:", "gcp:compute/backendService:", "gcp:compute/uRLMap:",
    "gcp:compute/targetHttpsProxy:", "gcp:compute/targetHttpProxy:", "gcp:compute/sSLPolicy:", "gcp:iap/",
    "gcp:artifactregistry/repositoryIamMember:", "gcp:pubsub/subscriptionIAMMember:",
    # A subscription's deliveries are priced on its topic (`pubsubGibPerMonth` published and delivered).
    "gcp:pubsub/subscription:",
)
MEMORYSTORE_NOT_PRICED = (
    "Memorystore for Redis is not in the price table: no stored copy of its pricing page rendered the rates "
    "(per GB-hour by tier and capacity band)")

# Resources that cost money the table does not price, and why (listed as not priced, never zero).
SECRET_NOT_PRICED = ("Secret Manager bills active secret versions and access operations (a mounted CA is read "
                     "from it); no stored copy of its pricing page showed the rates")
NOT_PRICED = {
    "gcp:secretmanager/secret:Secret": SECRET_NOT_PRICED,
    "gcp:secretmanager/secretVersion:SecretVersion": SECRET_NOT_PRICED,
    "gcp:bigquery/table:Table": "its bytes are priced on its dataset; ingestion (Storage Write API, streaming "
                                "inserts) and the queries that scan it are not in the table",
    "gcp:certificatemanager/certificate:Certificate": "Certificate Manager bills certificates beyond a free "
                                                      "allowance; no stored copy of its pricing page showed the rates",
    "gcp:certificatemanager/certificateMap:CertificateMap": "Certificate Manager: no confirmed rates in the table",
    "gcp:certificatemanager/certificateMapEntry:CertificateMapEntry": "Certificate Manager bills map entries beyond "
                                                                      "a free allowance; no confirmed rates",
    "gcp:certificatemanager/dnsAuthorization:DnsAuthorization": "Certificate Manager: no confirmed rates in the "
                                                                "table",
    "gcp:dataflow/flexTemplateJob:FlexTemplateJob": "Dataflow bills worker vCPU, memory and disk hours (and "
                                                    "Streaming Engine) by job type; no confirmed rates in the table",
    "gcp:monitoring/alertPolicy:AlertPolicy": "Cloud Monitoring alerting bills conditions and time series "
                                              "returned; no confirmed rates in the table",
    "gcp:bigtable/instance:Instance": "Bigtable bills node-hours (autoscaled between minNodes and maxNodes) "
                                      "and GB stored; no confirmed Bigtable rates in the table",
}


@dataclass
class Estimate:
    region: str
    lines: list[Line]
    unpriced: list[Unpriced]
    assumptions: dict[str, float]
    currency: str = "USD"
    checked: str = prices.CHECKED.isoformat()
    source: str = "infra/cost/prices.py"

    def total(self, figure: str) -> float:
        return round(sum(getattr(line, figure) for line in self.lines), 2)

    @property
    def spot_saving(self) -> Optional[float]:
        """What the spot pools save at peak against the same nodes on demand, in USD a month."""
        spot = [line for line in self.lines if line.on_demand_peak is not None]
        return round(sum(line.on_demand_peak - line.peak for line in spot), 2) if spot else None

    def to_json(self) -> dict[str, Any]:
        return {
            "currency": self.currency, "region": self.region, "pricesChecked": self.checked,
            "source": self.source, "assumptions": self.assumptions,
            "total": {"idle": self.total("idle"), "expected": self.total("expected"), "peak": self.total("peak")},
            "spotSavingAtPeak": self.spot_saving,
            "autoscalingSaving": round(1 - self.total("expected") / self.total("peak"), 4) if self.total("peak") else None,
            "resources": [{"name": x.name, "type": x.type, "what": x.what, "idle": x.idle, "expected": x.expected,
                           "peak": x.peak, "onDemandPeak": x.on_demand_peak, "spotSaving": x.spot_saving,
                           "unconfirmedPrices": x.unconfirmed} for x in self.lines],
            "notPriced": [{"name": u.name, "type": u.type, "reason": u.reason} for u in self.unpriced],
        }


def region_of(inputs: dict[str, Any], default: str) -> str:
    where = inputs.get("location") or inputs.get("region") or default
    zone = _ZONE.match(where)
    return zone.group(1) if zone else where


def pool_zones(pool: dict[str, Any], cluster: Optional[dict[str, Any]]) -> int:
    """How many zones a pool's per-zone node counts apply to."""
    locations = pool.get("nodeLocations") or (cluster or {}).get("nodeLocations")
    if locations:
        return len(locations)
    where = pool.get("location") or (cluster or {}).get("location") or ""
    return ZONES_PER_REGION if _REGION.match(where) else 1


def node_counts(pool: dict[str, Any], zones: int) -> tuple[int, int]:
    auto = pool.get("autoscaling") or {}
    if "totalMinNodeCount" in auto or "totalMaxNodeCount" in auto:
        return int(auto.get("totalMinNodeCount", 0)), int(auto.get("totalMaxNodeCount", 0))
    if auto:
        return int(auto.get("minNodeCount", 0)) * zones, int(auto.get("maxNodeCount", 0)) * zones
    fixed = int(pool.get("nodeCount") or pool.get("initialNodeCount") or 0) * zones
    return fixed, fixed


def node_pool(name: str, type_: str, i: dict[str, Any], cluster: Optional[dict[str, Any]], region: str,
              spec: CostSpec) -> tuple[Line | Unpriced, tuple[float, float, float]]:
    """A node pool's line, and its node counts (idle, expected average, peak) for the NAT."""
    node = i.get("nodeConfig") or {}
    mt = node.get("machineType", "e2-medium")
    price = prices.machine(region, mt)
    zones = pool_zones(i, cluster)
    lo, hi = node_counts(i, zones)
    busy_avg = (hi - lo) * spec.average_scale * spec.busy_hours_per_month / spec.hours_per_month
    counts = (lo, lo + busy_avg, hi)
    if price is None:
        return Unpriced(name, type_, f"no price for machine type {mt} in {region} in the table"), counts
    spot = bool(node.get("spot") or node.get("preemptible"))
    used: list[str] = []
    rates = {}
    for kind in ("on_demand", "spot"):
        row = getattr(price, kind)
        rate = row.usd
        gpus = node.get("guestAccelerators") or []
        attached = sum(int(g.get("count", 0)) for g in gpus)
        if attached and not mt.startswith(prices.GPU_BUNDLING_SERIES):
            for g in gpus:
                gpu = prices.GPUS.get((region, g.get("type")))
                if gpu is None:
                    return Unpriced(name, type_, f"no price for GPU {g.get('type')} in {region} in the table"), counts
                rate += int(g.get("count", 0)) * gpu[kind == "spot"].usd
                if (kind == "spot") == spot:
                    _flag(used, gpu[kind == "spot"])
        disk_type = node.get("diskType", "pd-balanced")
        disk = prices.DISKS.get((region, disk_type))
        if disk is None:
            return Unpriced(name, type_, f"no price for boot disk {disk_type} in {region} in the table"), counts
        # The boot disk is billed while the node exists, so it is folded into the node-hour.
        rate += float(node.get("diskSizeGb", 100)) * disk.usd / spec.hours_per_month
        rates[kind] = rate
        if (kind == "spot") == spot:
            _flag(used, row, disk)
    rate = rates["spot" if spot else "on_demand"]
    h, busy = spec.hours_per_month, spec.busy_hours_per_month
    idle, expected, peak = lo * h * rate, (lo * h + (hi - lo) * spec.average_scale * busy) * rate, hi * h * rate
    gpu_text = ", ".join(f"{g.get('count')}x {g.get('type')}" for g in node.get("guestAccelerators") or [])
    what = (f"{lo}-{hi} x {mt}{' + ' + gpu_text if gpu_text else ''}{' spot' if spot else ''} "
            f"({zones} zone{'s' if zones > 1 else ''}, {node.get('diskSizeGb', 100)} GB {node.get('diskType', 'pd-balanced')})")
    line = Line(name, type_, what, _money(idle), _money(expected), _money(peak), unconfirmed=used)
    if spot:
        line.on_demand_peak = _money(hi * h * rates["on_demand"])
        line.spot_saving = round(1 - rates["spot"] / rates["on_demand"], 4)
    return line, counts


def _cpu(value: Any) -> float:
    text = str(value)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def cloud_run(name: str, type_: str, i: dict[str, Any], region: str, spec: CostSpec) -> Line | Unpriced:
    run = prices.CLOUD_RUN.get(region)
    if run is None:
        return Unpriced(name, type_, f"no Cloud Run prices for {region} in the table")
    t = i.get("template") or {}
    limits = ((t.get("containers") or [{}])[0].get("resources") or {}).get("limits") or {}
    cpu_idle_billing = ((t.get("containers") or [{}])[0].get("resources") or {}).get("cpuIdle", True)
    cpu, gib = _cpu(limits.get("cpu", 1)), memory_mib(limits.get("memory", "512Mi")) / 1024
    gpus = int(limits.get("nvidia.com/gpu", 0))
    scaling = t.get("scaling") or {}
    lo, hi = int(scaling.get("minInstanceCount", 0)), int(scaling.get("maxInstanceCount", 100))
    # Min instances are per revision: with a canary, stable and canary each keep theirs warm.
    revisions = max(1, sum(1 for x in i.get("traffics") or [] if x.get("percent", 0) > 0))
    used: list[str] = []
    if cpu_idle_billing and not gpus:  # request-based billing: idle min instances at the idle rate
        active = cpu * run.cpu_request.usd + gib * run.memory_request.usd
        resting = cpu * run.cpu_idle.usd + gib * run.memory_idle.usd
        fee = spec.requests_per_month / 1e6 * run.requests.usd
        _flag(used, run.cpu_request, run.memory_request, run.cpu_idle, run.memory_idle, run.requests)
        billing = "request-based"
    else:  # instance-based: every instance is billed whole, GPUs included, no per-request fee
        gpu = run.gpu_l4_no_zonal if t.get("gpuZonalRedundancyDisabled") else run.gpu_l4_zonal
        active = resting = cpu * run.cpu_instance.usd + gib * run.memory_instance.usd + gpus * gpu.usd
        fee = 0.0
        _flag(used, run.cpu_instance, run.memory_instance, *([gpu] if gpus else []))
        billing = "instance-based"
    h, busy = spec.hours_per_month * 3600, spec.busy_hours_per_month * 3600
    warm = lo * revisions
    idle = warm * h * resting
    average = warm + spec.average_scale * max(0, hi - warm)
    expected = warm * (h - busy) * resting + average * busy * active + fee
    peak = warm * (h - busy) * resting + max(hi, warm) * busy * active + fee
    gpu_text = f" + {gpus}x {(t.get('nodeSelector') or {}).get('accelerator', 'gpu')}" if gpus else ""
    what = f"{warm}-{hi} x ({limits.get('cpu')} CPU, {limits.get('memory')}{gpu_text}), {billing}"
    return Line(name, type_, what, _money(idle), _money(expected), _money(peak), unconfirmed=used)


def cloud_run_job(name: str, type_: str, i: dict[str, Any], region: str, spec: CostSpec) -> Line | Unpriced:
    """Per execution, every task billed whole (jobs bill instance-based): `expected` assumes
    `jobRunsPerMonth` executions of `secondsPerJobTask` per task; `peak`, every attempt of every
    task running to its timeout; `idle` is nothing (a job costs only while it runs)."""
    run = prices.CLOUD_RUN.get(region)
    if run is None:
        return Unpriced(name, type_, f"no Cloud Run prices for {region} in the table")
    execution = i.get("template") or {}
    task = execution.get("template") or {}
    limits = ((task.get("containers") or [{}])[0].get("resources") or {}).get("limits") or {}
    cpu, gib = _cpu(limits.get("cpu", 1)), memory_mib(limits.get("memory", "512Mi")) / 1024
    gpus = int(limits.get("nvidia.com/gpu", 0))
    gpu = run.gpu_l4_no_zonal if task.get("gpuZonalRedundancyDisabled") else run.gpu_l4_zonal
    per_second = cpu * run.cpu_instance.usd + gib * run.memory_instance.usd + gpus * gpu.usd
    used: list[str] = []
    _flag(used, run.cpu_instance, run.memory_instance, *([gpu] if gpus else []))
    tasks, timeout = int(execution.get("taskCount", 1)), float(str(task.get("timeout", "600s")).rstrip("s"))
    attempts = 1 + int(task.get("maxRetries", 3))
    expected = spec.job_runs_per_month * tasks * min(spec.seconds_per_job_task, timeout) * per_second
    peak = spec.job_runs_per_month * tasks * attempts * timeout * per_second
    gpu_text = f" + {gpus}x {(task.get('nodeSelector') or {}).get('accelerator', 'gpu')}" if gpus else ""
    what = (f"{spec.job_runs_per_month:g} runs x {tasks} tasks x ({limits.get('cpu')} CPU, "
            f"{limits.get('memory')}{gpu_text}), instance-based")
    return Line(name, type_, what, 0.0, _money(expected), _money(max(peak, expected)), unconfirmed=used)


def cloud_function(name: str, type_: str, i: dict[str, Any], region: str, spec: CostSpec) -> Line | Unpriced:
    run = prices.CLOUD_RUN.get(region)
    if run is None:
        return Unpriced(name, type_, f"no Cloud Run prices for {region} in the table")
    s = i.get("serviceConfig") or {}
    mib = memory_mib(s.get("availableMemory", "256M"))
    cpu = _cpu(s["availableCpu"]) if s.get("availableCpu") else next(
        (c for m, c in sorted(prices.FUNCTION_CPU_BY_MEMORY_MIB.items()) if mib <= m), 8.0)
    gib = mib / 1024
    lo, hi = int(s.get("minInstanceCount", 0)), int(s.get("maxInstanceCount", 100))
    active = cpu * run.cpu_request.usd + gib * run.memory_request.usd
    resting = cpu * run.cpu_idle.usd + gib * run.memory_idle.usd
    h, busy = spec.hours_per_month * 3600, spec.busy_hours_per_month * 3600
    work = spec.invocations_per_month * spec.seconds_per_invocation * active
    fee = spec.invocations_per_month / 1e6 * run.requests.usd
    idle = lo * h * resting
    peak = lo * (h - busy) * resting + max(hi, lo) * busy * active + fee
    used: list[str] = []
    _flag(used, run.cpu_request, run.memory_request, run.requests, *([run.cpu_idle, run.memory_idle] if lo else []))
    what = f"{lo}-{hi} x ({cpu:g} CPU, {s.get('availableMemory', '256M')}), {spec.invocations_per_month:g} invocations"
    return Line(name, type_, what, _money(idle), _money(idle + work + fee), _money(max(peak, idle + work + fee)),
                unconfirmed=used)


def bucket(name: str, type_: str, i: dict[str, Any], region: str, spec: CostSpec) -> Line | Unpriced:
    price = prices.STORAGE_STANDARD.get(region)
    if price is None:
        return Unpriced(name, type_, f"no Cloud Storage price for location {region} in the table")
    purpose = (i.get("labels") or {}).get("purpose", "")
    gb = {"data-lake": spec.data_lake_gb, "model-artifacts": spec.artifacts_gb}.get(purpose, spec.other_bucket_gb)
    cost = _money(gb * price.usd)
    used: list[str] = []
    _flag(used, price)
    # Lifecycle rules may move data to Nearline/Coldline; Standard is the upper bound.
    return Line(name, type_, f"{gb:g} GB Standard ({purpose or 'bucket'})", cost, cost, cost, unconfirmed=used)


def nat(name: str, type_: str, vms: tuple[float, float, float], spec: CostSpec) -> Line:
    def gateway(count: float) -> float:
        hourly = prices.NAT_CAP.usd if count > 32 else count * prices.NAT_PER_VM.usd
        ips = math.ceil(count * NAT_MIN_PORTS_PER_VM / NAT_PORTS_PER_IP) if count else 0
        return (hourly + ips * prices.NAT_IP.usd) * spec.hours_per_month

    idle, average, peak = vms
    data = spec.nat_gib_per_month * prices.NAT_DATA.usd if peak else 0.0
    what = (f"gateway for {idle:g}-{peak:g} VMs + {spec.nat_gib_per_month:g} GiB processed" if peak
            else "no VM uses it (Cloud Run and functions egress to private ranges only)")
    return Line(name, type_, what, _money(gateway(idle)), _money(gateway(average) + data), _money(gateway(peak) + data))


def estimate(registrations: Iterable[Any], region: str, spec: CostSpec = CostSpec()) -> Estimate:
    """The monthly estimate of every registration (custom resources only are priced)."""
    regs = [r for r in registrations if r.custom]
    clusters = {r.outputs.get("name") or r.inputs.get("name"): r.inputs for r in regs
                if r.type == "gcp:container/cluster:Cluster"}
    lines: list[Line] = []
    unpriced: list[Unpriced] = []
    vms = [0.0, 0.0, 0.0]
    nats, rules = [], []
    schedules = {str((r.inputs.get("httpTarget") or {}).get("uri", "")): str(r.inputs.get("schedule", ""))
                 for r in regs if r.type == "gcp:cloudscheduler/job:Job"}

    def add(result: Line | Unpriced) -> None:
        (lines if isinstance(result, Line) else unpriced).append(result)

    for r in regs:
        i, t = r.inputs, r.type
        where = region_of(i, region)
        if t == "gcp:container/nodePool:NodePool":
            cluster = clusters.get(i.get("cluster")) or (next(iter(clusters.values())) if len(clusters) == 1 else None)
            result, counts = node_pool(r.name, t, i, cluster, where, spec)
            if isinstance(result, Unpriced):  # a machine, GPU or disk the table has no price for
                result.nodes = "unpriced"
            vms = [a + b for a, b in zip(vms, counts)]
            add(result)
        elif t == "gcp:container/cluster:Cluster":
            fee = _money(prices.GKE_CLUSTER_FEE.usd * spec.hours_per_month)
            zonal = "zonal" if _ZONE.match(i.get("location", "")) else "regional"
            add(Line(r.name, t, f"{zonal} cluster management fee", fee, fee, fee))
            if ((i.get("monitoringConfig") or {}).get("managedPrometheus") or {}).get("enabled"):
                unpriced.append(Unpriced(r.name, t, "Managed Service for Prometheus samples ingested"))
        elif t == "gcp:cloudrunv2/service:Service":
            add(cloud_run(r.name, t, i, where, spec))
        elif t == "gcp:cloudrunv2/job:Job":
            add(cloud_run_job(r.name, t, i, where, spec))
        elif t == "gcp:cloudfunctionsv2/function:Function":
            add(cloud_function(r.name, t, i, where, spec))
        elif t == "gcp:storage/bucket:Bucket":
            add(bucket(r.name, t, i, where.lower(), spec))
        elif t == "gcp:artifactregistry/repository:Repository":
            cost = _money(spec.image_gb * prices.ARTIFACT_STORAGE.usd)
            add(Line(r.name, t, f"{spec.image_gb:g} GB of images", cost, cost, cost))
        elif t == "gcp:pubsub/topic:Topic":
            cost = _money(spec.pubsub_gib_per_month / 1024 * prices.PUBSUB_THROUGHPUT.usd)
            add(Line(r.name, t, f"{spec.pubsub_gib_per_month:g} GiB a month", 0.0, cost, cost))
        elif t == "gcp:cloudscheduler/job:Job":
            fee = prices.SCHEDULER_JOB.usd
            used: list[str] = []
            _flag(used, prices.SCHEDULER_JOB)
            add(Line(r.name, t, "one job", fee, fee, fee, unconfirmed=used))
        elif t == "gcp:compute/routerNat:RouterNat":
            nats.append(r)
        elif t == "kubernetes:gateway.networking.k8s.io/v1:Gateway":
            cls = (i.get("spec") or {}).get("gatewayClassName", "")
            unpriced.append(Unpriced(r.name, t, f"the load balancer GKE provisions for it ({cls}): forwarding "
                                                "rule, proxy and data-processing hours are not in the table"))
        elif t == "gcp:memorystore/instance:Instance":
            add(gcp_services.memorystore(r.name, t, i, where, spec))
        elif t == "gcp:redis/instance:Instance":
            unpriced.append(Unpriced(r.name, t, f"{i.get('tier')} {i.get('memorySizeGb')} GB: {MEMORYSTORE_NOT_PRICED}"))
        elif t == "gcp:compute/securityPolicy:SecurityPolicy":
            add(gcp_services.security_policy(r.name, t, i, spec))
        elif t == "gcp:workflows/workflow:Workflow":
            add(gcp_services.workflow(r.name, t, i, schedules, spec))
        elif t == gcp_services.FORWARDING_RULE:
            rules.append(r)
        elif t == "gcp:bigquery/dataset:Dataset":
            add(gcp_services.dataset(r.name, t, i, region, spec))
        elif t.startswith(("aws:", "kubernetes:karpenter.sh/")):
            priced = aws.price(r.name, t, i, region, spec)
            if priced is not None:
                add(priced)
        elif t == "gcp:compute/subnetwork:Subnetwork" and i.get("logConfig"):
            unpriced.append(Unpriced(r.name, t, "VPC flow logs: Cloud Logging ingestion depends on traffic"))
        elif not t.startswith(FREE_PREFIXES):
            unpriced.append(Unpriced(r.name, t, NOT_PRICED.get(t, "not in the price table")))
    for r in nats:  # after the pools: the gateway is billed by the VMs that use it
        lines.append(nat(r.name, r.type, tuple(vms), spec))
    lines += gcp_services.forwarding_rules(rules, spec)
    assumptions = {k: v for k, v in spec.model_dump(by_alias=True).items()}
    if any(r.type.startswith("aws:") for r in regs):  # an AWS stack reads the AWS half of the table
        return Estimate(region, lines, unpriced, assumptions, checked=aws.ap.CHECKED.isoformat(),
                        source="infra/cost/aws_prices.py")
    return Estimate(region, lines, unpriced, assumptions)
