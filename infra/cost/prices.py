"""The price table the plan's estimate reads: Google Cloud list prices in USD, per region, for
what the example stacks create. Written down by hand from Google's public pricing pages; each
row says where it comes from, the SKU where the page names one, and the day it was checked.

List prices only: no free tiers (they are per billing account, not per stack), no sustained-use
or committed-use discounts. Spot prices move (the Spot page says up to once a day), so a spot
row is a snapshot. A row whose `note` starts with "not confirmed" could not be read off the page
on the day it was checked (the stored copy had no rendered table); it is the figure as recalled
from that page and should be re-checked before anyone budgets on it. `tests/infra/test_cost_prices.py`
fails once any row is older than 120 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Optional

CHECKED = date(2026, 12, 1)
REGIONS = ("us-central1", "europe-west4")
HOURS_PER_MONTH = 730  # Google's own month in its price tables and calculator

VM_PAGE = "https://cloud.google.com/compute/vm-instance-pricing"
SPOT_PAGE = "https://cloud.google.com/spot-vms/pricing"
GPU_PAGE = "https://cloud.google.com/compute/gpus-pricing"
DISK_PAGE = "https://cloud.google.com/compute/disks-image-pricing"
GKE_PAGE = "https://cloud.google.com/kubernetes-engine/pricing"
RUN_PAGE = "https://cloud.google.com/run/pricing"
GCS_PAGE = "https://cloud.google.com/storage/pricing"
AR_PAGE = "https://cloud.google.com/artifact-registry/pricing"
PUBSUB_PAGE = "https://cloud.google.com/pubsub/pricing"
SCHEDULER_PAGE = "https://cloud.google.com/scheduler/pricing"
NAT_PAGE = "https://cloud.google.com/nat/pricing"
LB_PAGE = "https://cloud.google.com/load-balancing/pricing"
BQ_PAGE = "https://cloud.google.com/bigquery/pricing"
ARMOR_PAGE = "https://cloud.google.com/armor/pricing"
WORKFLOWS_PAGE = "https://cloud.google.com/workflows/pricing"
VALKEY_PAGE = "https://cloud.google.com/memorystore/docs/valkey/pricing"

_RECALLED = "not confirmed: the stored copy of the page rendered no table; figure as recalled from it"
_DERIVED = ("not confirmed: no Netherlands figure could be read; derived from the us-central1 row with the "
            "~10 % Netherlands premium (on demand) or the ~60 % Spot discount the other rows show")


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str
    checked: date = CHECKED
    sku: str = ""
    note: str = ""

    @property
    def confirmed(self) -> bool:
        return not self.note.startswith("not confirmed")


@dataclass(frozen=True)
class MachinePrice:
    """A machine type's hourly price, on demand and as a Spot VM."""

    on_demand: Price
    spot: Price
    gpus_included: int = 0
    """GPUs the machine type bundles in its price (G2, A2, A3): never priced again on top."""


def _vm(usd: float, sku: str, note: str = _RECALLED) -> Price:
    return Price(usd, "per node-hour", VM_PAGE, sku=sku, note=note)


def _spot(usd: float, sku: str, note: str = _RECALLED) -> Price:
    return Price(usd, "per node-hour", SPOT_PAGE, sku=sku, note=note)


# Machine-hour figures are the series' per-vCPU-hour and per-GB-hour rates times the shape
# (E2 and N2 are billed per vCPU and GB; G2 per vCPU, GB and its bundled L4), rounded to 6 places.
MACHINES: dict[tuple[str, str], MachinePrice] = {
    ("us-central1", "e2-standard-4"): MachinePrice(
        _vm(0.134012, "E2 Instance Core / E2 Instance Ram running in Americas (4 x 0.021811 + 16 x 0.002923)"),
        _spot(0.053584, "Spot Preemptible E2 Instance Core / Ram (4 x 0.00872 + 16 x 0.001169)",
              note="rates read off a stored copy of the Spot page (E2 standard: $0.00872/vCPU-h, "
                   "$0.001169/GB-h); the copy does not say which region it showed")),
    ("us-central1", "n2-standard-8"): MachinePrice(
        _vm(0.388472, "N2 Instance Core / N2 Instance Ram running in Americas (8 x 0.031611 + 32 x 0.004237)"),
        _spot(0.094160, "Spot Preemptible N2 Instance Core / Ram (8 x 0.00765 + 32 x 0.00103)")),
    ("us-central1", "g2-standard-8"): MachinePrice(
        _vm(0.853788, "G2 Instance Core / Ram and Nvidia L4 GPU running in Americas (1 L4 bundled)"),
        _spot(0.341500, "Spot Preemptible G2 Instance Core / Ram and Nvidia L4 GPU (1 L4 bundled)"),
        gpus_included=1),
    # Two L4s: the G2 shape rates that give g2-standard-4 ($0.706832) and g2-standard-8 (one L4 at
    # $0.559876, each vCPU with its 4 GB at $0.036739) times 24 vCPU, 96 GB and 2 L4s.
    ("us-central1", "g2-standard-24"): MachinePrice(
        _vm(2.001488, "G2 Instance Core / Ram and Nvidia L4 GPU running in Americas (2 L4 bundled)",
            note="not confirmed: derived from the g2-standard-4 and g2-standard-8 figures (recalled) by shape"),
        _spot(0.800595, "Spot Preemptible G2 Instance Core / Ram and Nvidia L4 GPU (2 L4 bundled)",
              note="not confirmed: the on-demand figure with the ~60 % Spot discount the g2-standard-8 row shows"),
        gpus_included=2),
    ("europe-west4", "e2-standard-4"): MachinePrice(
        _vm(0.147476, "E2 Instance Core / Ram running in Netherlands (4 x 0.024007 + 16 x 0.003215)"),
        _spot(0.058990, "Spot Preemptible E2 Instance Core / Ram running in Netherlands", note=_DERIVED)),
    ("europe-west4", "n2-standard-8"): MachinePrice(
        _vm(0.427336, "N2 Instance Core / Ram running in Netherlands (8 x 0.034773 + 32 x 0.004661)"),
        _spot(0.103600, "Spot Preemptible N2 Instance Core / Ram running in Netherlands", note=_DERIVED)),
    ("europe-west4", "g2-standard-8"): MachinePrice(
        _vm(0.939167, "G2 Instance Core / Ram and Nvidia L4 GPU running in Netherlands (1 L4 bundled)", note=_DERIVED),
        _spot(0.375650, "Spot Preemptible G2 Instance Core / Ram and Nvidia L4 GPU running in Netherlands",
              note=_DERIVED),
        gpus_included=1),
    ("europe-west4", "g2-standard-24"): MachinePrice(
        _vm(2.201637, "G2 Instance Core / Ram and Nvidia L4 GPU running in Netherlands (2 L4 bundled)", note=_DERIVED),
        _spot(0.880654, "Spot Preemptible G2 Instance Core / Ram and Nvidia L4 GPU running in Netherlands",
              note=_DERIVED),
        gpus_included=2),
}

# Series whose machine types bundle their GPUs (the machine type fixes model and count).
GPU_BUNDLING_SERIES = ("a2", "a3", "a4", "g2", "g4")

# GPUs attached to a machine type that does not bundle them (N1 + T4), per GPU-hour.
GPUS: dict[tuple[str, str], tuple[Price, Price]] = {
    ("us-central1", "nvidia-tesla-t4"): (
        Price(0.35, "per GPU-hour", GPU_PAGE, sku="Nvidia Tesla T4 GPU running in Americas", note=_RECALLED),
        Price(0.14, "per GPU-hour", SPOT_PAGE, sku="Nvidia Tesla T4 GPU attached to Spot Preemptible VMs",
              note=_RECALLED)),
    ("europe-west4", "nvidia-tesla-t4"): (
        Price(0.35, "per GPU-hour", GPU_PAGE, sku="Nvidia Tesla T4 GPU running in Netherlands", note=_RECALLED),
        Price(0.14, "per GPU-hour", SPOT_PAGE, sku="Nvidia Tesla T4 GPU attached to Spot Preemptible VMs",
              note=_RECALLED)),
}

DISKS: dict[tuple[str, str], Price] = {
    ("us-central1", "pd-balanced"): Price(0.10, "per GB-month", DISK_PAGE, sku="Balanced PD Capacity",
                                          note="not confirmed on the page itself; a third-party guide "
                                               "quotes the same ~$0.10"),
    ("europe-west4", "pd-balanced"): Price(0.11, "per GB-month", DISK_PAGE,
                                           sku="Balanced PD Capacity in Netherlands", note=_RECALLED),
}

GKE_CLUSTER_FEE = Price(0.10, "per cluster-hour", GKE_PAGE, sku="Kubernetes Clusters (cluster management fee)",
                        note="flat for zonal, regional and Autopilot clusters; the $74.40 monthly free-tier "
                             "credit (one zonal or Autopilot cluster per billing account) is not subtracted")


@dataclass(frozen=True)
class CloudRunPrices:
    """Cloud Run (and Cloud Run functions, which bill as Cloud Run) for one region's tier."""

    tier: str
    cpu_instance: Price
    memory_instance: Price
    cpu_request: Price
    memory_request: Price
    cpu_idle: Price
    memory_idle: Price
    requests: Price
    gpu_l4_zonal: Price
    gpu_l4_no_zonal: Price


def _run_tier1(region: str) -> CloudRunPrices:
    return CloudRunPrices(
        tier="1",
        cpu_instance=Price(0.000018, "per vCPU-second", RUN_PAGE, sku="CPU Allocation Time (instance-based)",
                           note=f"Tier 1 ({region}): read off a stored copy of the page"),
        memory_instance=Price(0.000002, "per GiB-second", RUN_PAGE, sku="Memory Allocation Time (instance-based)",
                              note=_RECALLED),
        cpu_request=Price(0.000024, "per vCPU-second", RUN_PAGE, sku="CPU Allocation Time (request-based)",
                          note=f"Tier 1 ({region}): read off a stored copy of the page"),
        memory_request=Price(0.0000025, "per GiB-second", RUN_PAGE, sku="Memory Allocation Time (request-based)",
                             note="not confirmed on the page itself; a third-party guide quotes the same"),
        cpu_idle=Price(0.0000025, "per vCPU-second", RUN_PAGE, sku="Idle Min-Instance CPU Allocation Time",
                       note=_RECALLED),
        memory_idle=Price(0.0000025, "per GiB-second", RUN_PAGE, sku="Idle Min-Instance Memory Allocation Time",
                          note=_RECALLED),
        requests=Price(0.40, "per million requests", RUN_PAGE, sku="Requests",
                       note="not confirmed on the page itself; a third-party guide quotes the same"),
        gpu_l4_zonal=Price(0.0002909, "per GPU-second", RUN_PAGE, sku="NVIDIA L4 GPU with zonal redundancy",
                           note=_RECALLED),
        gpu_l4_no_zonal=Price(0.0001867, "per GPU-second", RUN_PAGE, sku="NVIDIA L4 GPU without zonal redundancy",
                              note="not confirmed on the page itself; a third-party article quotes ~$0.67/hour"),
    )


CLOUD_RUN: dict[str, CloudRunPrices] = {region: _run_tier1(region) for region in REGIONS}

# Cloud Run functions: the CPU a memory size gets when `availableCpu` is not set.
FUNCTION_CPU_BY_MEMORY_MIB = {128: 0.083, 256: 0.167, 512: 0.333, 1024: 0.583, 2048: 1.0, 4096: 2.0,
                              8192: 2.0, 16384: 4.0, 32768: 8.0}

STORAGE_STANDARD: dict[str, Price] = {
    "us-central1": Price(0.020, "per GB-month", GCS_PAGE, sku="Standard Storage Iowa",
                         note="read off a stored copy of the page's regional table"),
    "europe-west4": Price(0.020, "per GB-month", GCS_PAGE, sku="Standard Storage Netherlands",
                          note="not confirmed: the stored copy's table was cut before Netherlands; "
                               "Belgium and Finland read $0.020"),
}

ARTIFACT_STORAGE = Price(0.10, "per GB-month", AR_PAGE, sku="Artifact Registry Storage",
                         note="same for every region; the first 0.5 GB per billing account is free (not subtracted)")
PUBSUB_THROUGHPUT = Price(40.0, "per TiB", PUBSUB_PAGE, sku="Message Delivery Basic",
                          note="the first 10 GiB per billing account are free (not subtracted)")
SCHEDULER_JOB = Price(0.10, "per job-month", SCHEDULER_PAGE, sku="Jobs",
                      note="not confirmed: page not in the stored copies; 3 jobs per billing account are free")
NAT_PER_VM = Price(0.0014, "per VM-hour", NAT_PAGE, sku="NAT Gateway: Uptime charge",
                   note="up to 32 VMs; read off a stored copy of the page")
NAT_CAP = Price(0.044, "per gateway-hour", NAT_PAGE, sku="NAT Gateway: Uptime charge (more than 32 VMs)",
                note="read off a stored copy of the page")
NAT_DATA = Price(0.045, "per GiB processed", NAT_PAGE, sku="NAT Gateway: Data processing charge",
                 note="same in every region; read off a stored copy of the page")
NAT_IP = Price(0.005, "per IP-hour", NAT_PAGE, sku="External IP address used by a NAT gateway",
               note="read off a stored copy of the page")

# Cloud Load Balancing: forwarding rules are billed per project, the first five at one rate and
# every further rule at a lower one (global rules; read off a stored copy of the page's table).
LB_RULE_FIRST5 = Price(0.025, "per forwarding-rule-hour", LB_PAGE, sku="Global forwarding rules: first 5",
                       note="read off a stored copy of the page's global forwarding rule table")
LB_RULE_EXTRA = Price(0.01, "per forwarding-rule-hour", LB_PAGE, sku="Global forwarding rules: per additional rule",
                      note="read off a stored copy of the page's global forwarding rule table")
LB_DATA = Price(0.008, "per GiB processed", LB_PAGE, sku="Inbound / outbound data processed by load balancer",
                note="read off a stored copy of the page's regional table ($0.008 in and $0.008 out); "
                     "the copy does not name the region it showed")
# BigQuery storage, logical (uncompressed) billing, active tier (changed in the last 90 days).
BQ_ACTIVE_STORAGE: dict[str, Price] = {
    region: Price(0.02, "per GiB-month", BQ_PAGE, sku="Active Logical Storage",
                  note="not confirmed for the region: the stored copy of the page lists $0.02 per GB a month "
                       "for the US and EU multi-regions; the regional rate is taken to be the same")
    for region in REGIONS}

_QUOTED = "not confirmed on the page itself (its stored copies render no table); several third-party guides quote "
# Cloud Armor Standard (pay as you go), global security policies.
ARMOR_POLICY = Price(5.0, "per policy-month", ARMOR_PAGE, sku="Cloud Armor Standard: security policy",
                     note=_QUOTED + "$5 per policy a month")
ARMOR_RULE = Price(1.0, "per rule-month", ARMOR_PAGE, sku="Cloud Armor Standard: security policy rule",
                   note=_QUOTED + "$1 per rule a month")
ARMOR_REQUESTS = Price(0.75, "per million requests", ARMOR_PAGE, sku="Cloud Armor Standard: requests (global policy)",
                       note=_QUOTED + "$0.75 per million requests for globally scoped policies")
WORKFLOWS_INTERNAL = Price(0.01, "per 1,000 steps", WORKFLOWS_PAGE, sku="Workflows internal steps",
                           note=_QUOTED + "$0.01 per 1,000 internal steps (the first 5,000 a month are free)")
WORKFLOWS_EXTERNAL = Price(0.025, "per 1,000 steps", WORKFLOWS_PAGE, sku="Workflows external HTTP steps",
                           note=_QUOTED + "$0.025 per 1,000 external steps (the first 2,000 a month are free)")
# Memorystore for Valkey bills each node (primaries and replicas alike) per hour by node type.
_VALKEY = ("not confirmed: the page's stored copies render no table; a third-party cost survey citing the page "
           "gives {} a month, divided here by 730 hours (the survey does not name the region)")
VALKEY_NODE: dict[tuple[str, str], Price] = {
    ("us-central1", "SHARED_CORE_NANO"): Price(0.0318, "per node-hour", VALKEY_PAGE, sku="Memorystore for Valkey "
                                               "shared-core-nano node", note=_VALKEY.format("≈$23.21 for one node")),
    ("us-central1", "STANDARD_SMALL"): Price(0.1425, "per node-hour", VALKEY_PAGE, sku="Memorystore for Valkey "
                                             "standard-small node", note=_VALKEY.format("≈$312 for three nodes")),
}


def machine(region: str, machine_type: str) -> Optional[MachinePrice]:
    return MACHINES.get((region, machine_type))


def every_price() -> list[tuple[str, Price]]:
    """Every row of the table, named, for the tests and for anyone auditing it."""
    rows: list[tuple[str, Price]] = []
    for (region, mt), m in MACHINES.items():
        rows += [(f"{region} {mt} on demand", m.on_demand), (f"{region} {mt} spot", m.spot)]
    for (region, gpu), (od, spot) in GPUS.items():
        rows += [(f"{region} {gpu} on demand", od), (f"{region} {gpu} spot", spot)]
    rows += [(f"{region} {disk}", p) for (region, disk), p in DISKS.items()]
    for region, run in CLOUD_RUN.items():
        rows += [(f"{region} cloud run {name}", getattr(run, name)) for name in run.__dataclass_fields__
                 if isinstance(getattr(run, name), Price)]
    rows += [(f"{region} storage standard", p) for region, p in STORAGE_STANDARD.items()]
    rows += [("gke cluster fee", GKE_CLUSTER_FEE), ("artifact storage", ARTIFACT_STORAGE),
             ("pubsub throughput", PUBSUB_THROUGHPUT), ("scheduler job", SCHEDULER_JOB),
             ("nat per vm", NAT_PER_VM), ("nat cap", NAT_CAP), ("nat data", NAT_DATA), ("nat ip", NAT_IP),
             ("lb rule first 5", LB_RULE_FIRST5), ("lb rule extra", LB_RULE_EXTRA), ("lb data", LB_DATA)]
    rows += [(f"{region} bigquery active storage", p) for region, p in BQ_ACTIVE_STORAGE.items()]
    rows += [("armor policy", ARMOR_POLICY), ("armor rule", ARMOR_RULE), ("armor requests", ARMOR_REQUESTS),
             ("workflows internal steps", WORKFLOWS_INTERNAL), ("workflows external steps", WORKFLOWS_EXTERNAL)]
    rows += [(f"{region} valkey {node}", p) for (region, node), p in VALKEY_NODE.items()]
    from infra.cost import aws_prices  # the AWS table lives beside this one (each file under 400 lines)

    return rows + aws_prices.every_price()
