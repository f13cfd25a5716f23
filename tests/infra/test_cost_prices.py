"""The price table: fresh, sourced, and internally consistent with what the example stacks use."""

from __future__ import annotations

import datetime

import pytest

from infra.cost import aws_prices, prices
from tests.conftest import AWS_STACKS
from tests.conftest import GCP_STACKS as STACKS
from tests.conftest import run_stack, stack_config

MAX_AGE_DAYS = 120


def stack_regions() -> set[str]:
    return {stack_config(s)["gcp:region"] for s in STACKS}


def stack_machine_types() -> set[str]:
    return {r.inputs["nodeConfig"]["machineType"] for s in STACKS
            for r in run_stack(s).of_type("gcp:container/nodePool:NodePool")}


def test_no_price_in_the_table_is_older_than_120_days():
    today = datetime.date.today()
    stale = [(name, p.checked.isoformat()) for name, p in prices.every_price()
             if (today - p.checked).days > MAX_AGE_DAYS]
    assert not stale, (f"re-check these prices on their pages and update their dates in infra/cost/prices.py "
                       f"(older than {MAX_AGE_DAYS} days): {stale}")


def test_no_price_is_dated_in_the_future():
    assert all(p.checked <= datetime.date.today() for _, p in prices.every_price())


def test_every_row_names_its_pricing_page_and_what_it_prices():
    vendors = ("https://cloud.google.com/", "https://aws.amazon.com/")
    for name, p in prices.every_price():
        assert p.source.startswith("https://"), name
        assert p.sku and p.unit, name
        assert p.usd > 0, name
        # A row read off a page other than the vendor's own says so (or that it is not confirmed).
        assert p.source.startswith(vendors) or "third-party" in p.note or not p.confirmed, name
    assert {name for name, _ in prices.every_price()} >= {"aws eks standard support", "lb rule first 5",
                                                            "us-central1 bigquery active storage"}


def test_google_cloud_rows_point_at_google_and_aws_rows_at_aws_or_a_named_guide():
    gcp = [p for name, p in prices.every_price() if not name.startswith("aws ")]
    assert all(p.source.startswith("https://cloud.google.com/") for p in gcp)
    assert len(aws_prices.every_price()) == sum(1 for name, _ in prices.every_price() if name.startswith("aws "))


def test_the_aws_stacks_use_only_regions_the_aws_table_covers():
    assert {stack_config(s)["aws:region"] for s in AWS_STACKS} <= set(aws_prices.REGIONS)


def test_every_on_demand_node_group_instance_type_of_the_aws_stacks_has_a_price():
    groups = [r for s in AWS_STACKS for r in run_stack(s).of_type("aws:eks/nodeGroup:NodeGroup")
              if r.inputs.get("capacityType") != "SPOT"]
    assert groups
    missing = sorted({g.inputs["instanceTypes"][0] for g in groups
                      if ("us-east-1", g.inputs["instanceTypes"][0]) not in aws_prices.EC2_ON_DEMAND})
    assert not missing, f"add {missing} to infra/cost/aws_prices.py"


def test_every_spot_price_is_below_its_on_demand_price():
    for key, m in prices.MACHINES.items():
        assert 0 < m.spot.usd < m.on_demand.usd, key
    for key, (on_demand, spot) in prices.GPUS.items():
        assert 0 < spot.usd < on_demand.usd, key


def test_spot_discounts_sit_in_the_range_google_states():
    # The Spot page promises 60-91 % off for machine types and GPUs.
    for key, m in prices.MACHINES.items():
        assert 0.60 <= 1 - m.spot.usd / m.on_demand.usd <= 0.91, key


def test_gpu_bundling_machine_types_say_how_many_gpus_they_include():
    for (_, mt), m in prices.MACHINES.items():
        assert (m.gpus_included > 0) == mt.startswith(prices.GPU_BUNDLING_SERIES), mt


def test_the_example_stacks_use_only_regions_the_table_covers():
    assert stack_regions() <= set(prices.REGIONS)


@pytest.mark.parametrize("region", prices.REGIONS)
def test_every_machine_type_of_the_example_stacks_has_a_price_in_every_region_they_use(region):
    missing = sorted(mt for mt in stack_machine_types() if prices.machine(region, mt) is None)
    assert not missing, f"add {missing} in {region} to infra/cost/prices.py"


@pytest.mark.parametrize("region", prices.REGIONS)
def test_every_region_has_its_disk_storage_and_cloud_run_rows(region):
    assert (region, "pd-balanced") in prices.DISKS
    assert region in prices.STORAGE_STANDARD
    assert region in prices.CLOUD_RUN


def test_cloud_run_prices_keep_their_documented_order():
    for region, run in prices.CLOUD_RUN.items():
        # Instance-based billing is cheaper per second than request-based; idle is cheaper still;
        # a GPU without zonal redundancy costs less than one with it.
        assert run.cpu_instance.usd < run.cpu_request.usd, region
        assert run.memory_instance.usd < run.memory_request.usd, region
        assert run.cpu_idle.usd < run.cpu_request.usd, region
        assert run.gpu_l4_no_zonal.usd < run.gpu_l4_zonal.usd, region


def test_nat_per_vm_price_reaches_the_cap_at_32_vms():
    assert prices.NAT_PER_VM.usd * 32 == pytest.approx(prices.NAT_CAP.usd, rel=0.05)


def test_unconfirmed_rows_say_so_in_their_note():
    for name, p in prices.every_price():
        assert p.confirmed == (not p.note.startswith("not confirmed")), name
