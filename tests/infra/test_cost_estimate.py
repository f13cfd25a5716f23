"""The monthly estimate: figures computed here from the price table and the plan's own inputs,
never typed in, so a price update moves the expectation with it."""

from __future__ import annotations

import copy
import json

import pytest

from infra import engine
from infra.cost import prices, render
from infra.cost.estimate import estimate
from infra.cost.spec import CostSpec
from infra.errors import ConfigError
from tests.conftest import run_config, run_stack, stack_config

SPEC = CostSpec()
H, BUSY, SCALE = SPEC.hours_per_month, SPEC.busy_hours_per_month, SPEC.average_scale


def of(stack: str, spec: CostSpec = SPEC):
    return estimate(run_stack(stack).registrations, stack_config(stack)["gcp:region"], spec)


def line(e, name: str):
    return next(x for x in e.lines if x.name == name)


def node_rate(region: str, pool: engine.Registration, spot: bool) -> float:
    """A node-hour of `pool` from the table: machine (GPU bundled) plus its boot disk."""
    node = pool.inputs["nodeConfig"]
    machine = prices.machine(region, node["machineType"])
    disk = prices.DISKS[(region, node["diskType"])].usd * node["diskSizeGb"] / H
    return (machine.spot if spot else machine.on_demand).usd + disk


def test_a_regional_pool_prices_its_per_zone_counts_times_three_zones():
    rec = run_stack("k8s-prod")
    pool = rec.one("gcp:container/nodePool:NodePool", "mlinfra-gke-general")
    auto, rate = pool.inputs["autoscaling"], node_rate("us-central1", pool, spot=False)
    got = line(of("k8s-prod"), "mlinfra-gke-general")
    lo, hi = auto["minNodeCount"] * 3, auto["maxNodeCount"] * 3
    assert got.idle == round(lo * H * rate, 2)
    assert got.peak == round(hi * H * rate, 2)
    assert got.expected == round((lo * H + (hi - lo) * SCALE * BUSY) * rate, 2)
    assert got.what.startswith(f"{lo}-{hi} x n2-standard-8 (3 zones")


def test_a_spot_pool_shows_what_spot_saves_against_the_same_nodes_on_demand():
    rec = run_stack("k8s-prod")
    pool = rec.one("gcp:container/nodePool:NodePool", "mlinfra-gke-spot-l4")
    spot, on_demand = node_rate("us-central1", pool, True), node_rate("us-central1", pool, False)
    hi = pool.inputs["autoscaling"]["maxNodeCount"] * 3
    got = line(of("k8s-prod"), "mlinfra-gke-spot-l4")
    assert got.idle == 0.0  # min 0: a spot pool costs nothing idle
    assert got.peak == round(hi * H * spot, 2)
    assert got.on_demand_peak == round(hi * H * on_demand, 2)
    assert got.spot_saving == round(1 - spot / on_demand, 4)
    assert 0.5 < got.spot_saving < 0.8


def test_g2_pools_do_not_pay_for_their_bundled_l4_twice():
    rec = run_stack("k8s-prod")
    pool = rec.one("gcp:container/nodePool:NodePool", "mlinfra-gke-l4")
    assert pool.inputs["nodeConfig"]["guestAccelerators"][0]["type"] == "nvidia-l4"
    assert prices.machine("us-central1", "g2-standard-8").gpus_included == 1
    got = line(of("k8s-prod"), "mlinfra-gke-l4")
    assert got.idle == round(3 * H * node_rate("us-central1", pool, False), 2)


def registration(type_: str, name: str, inputs: dict) -> engine.Registration:
    return engine.Registration(urn=f"urn:pulumi:t::p::{type_}::{name}", type=type_, name=name, custom=True,
                               parent=None, inputs=inputs, outputs={}, dependencies=[], property_dependencies={},
                               protect=False, retain_on_delete=False, delete_before_replace=False,
                               ignore_changes=[], provider="")


def pool_inputs(**node) -> dict:
    return {"location": "us-central1", "autoscaling": {"minNodeCount": 1, "maxNodeCount": 2},
            "nodeConfig": {"machineType": "e2-standard-4", "diskSizeGb": 50, "diskType": "pd-balanced", **node}}


def test_gpus_a_machine_type_does_not_bundle_are_priced_by_type_and_count():
    inputs = pool_inputs(guestAccelerators=[{"type": "nvidia-tesla-t4", "count": 2}])
    got = estimate([registration("gcp:container/nodePool:NodePool", "t4", inputs)], "us-central1").lines[0]
    rate = (prices.machine("us-central1", "e2-standard-4").on_demand.usd
            + 2 * prices.GPUS[("us-central1", "nvidia-tesla-t4")][0].usd
            + 50 * prices.DISKS[("us-central1", "pd-balanced")].usd / H)
    assert got.idle == round(3 * H * rate, 2)


def test_node_locations_override_the_three_zones_of_a_regional_pool():
    inputs = {**pool_inputs(), "nodeLocations": ["us-central1-a", "us-central1-b"]}
    got = estimate([registration("gcp:container/nodePool:NodePool", "two", inputs)], "us-central1").lines[0]
    assert got.what.startswith("2-4 x e2-standard-4 (2 zones")


def test_a_zonal_cluster_counts_its_pools_once_and_still_pays_the_management_fee():
    e = of("k8s-dev")
    assert line(e, "mlinfra-gke-general").what.startswith("1-3 x e2-standard-4 (1 zone,")
    fee = line(e, "mlinfra-gke")
    assert fee.idle == fee.peak == round(prices.GKE_CLUSTER_FEE.usd * H, 2)
    assert fee.what == "zonal cluster management fee"


def test_a_machine_type_the_table_lacks_is_listed_as_not_priced_never_zero():
    inputs = pool_inputs(machineType="c3-standard-88")
    e = estimate([registration("gcp:container/nodePool:NodePool", "big", inputs)], "us-central1")
    assert not e.lines
    assert e.unpriced[0].name == "big" and "c3-standard-88" in e.unpriced[0].reason


def test_a_resource_type_the_table_does_not_know_is_listed_as_not_priced():
    e = estimate([registration("gcp:sql/databaseInstance:DatabaseInstance", "db", {})], "us-central1")
    assert [(u.name, u.reason) for u in e.unpriced] == [("db", "not in the price table")]


def test_the_kubernetes_stack_lists_its_gateway_load_balancer_as_not_priced():
    names = {u.name for u in of("k8s-prod").unpriced}
    assert "mlinfra-gateway" in names


def run_rate(region: str, kind: str):
    return getattr(prices.CLOUD_RUN[region], kind).usd


def test_a_gpu_cloud_run_service_bills_its_minimum_instance_based_all_month():
    svc = run_stack("prod").one("gcp:cloudrunv2/service:Service", "mlinfra-svc-embedder")
    assert svc.inputs["template"]["containers"][0]["resources"]["cpuIdle"] is False
    second = (8 * run_rate("europe-west4", "cpu_instance") + 32 * run_rate("europe-west4", "memory_instance")
              + run_rate("europe-west4", "gpu_l4_zonal"))
    got = line(of("prod"), "mlinfra-svc-embedder")
    assert got.idle == round(1 * H * 3600 * second, 2)
    assert got.peak == round(1 * (H - BUSY) * 3600 * second + 6 * BUSY * 3600 * second, 2)


def test_request_based_min_instances_idle_at_the_idle_rate_once_per_serving_revision():
    svc = run_stack("prod").one("gcp:cloudrunv2/service:Service", "mlinfra-svc-ranker")
    assert len(svc.inputs["traffics"]) == 2  # stable and canary each keep their minimum warm
    idle = 4 * run_rate("europe-west4", "cpu_idle") + 8 * run_rate("europe-west4", "memory_idle")
    active = 4 * run_rate("europe-west4", "cpu_request") + 8 * run_rate("europe-west4", "memory_request")
    fee = SPEC.requests_per_month / 1e6 * run_rate("europe-west4", "requests")
    got = line(of("prod"), "mlinfra-svc-ranker")
    assert got.idle == round(2 * 2 * H * 3600 * idle, 2)
    average = 4 + SCALE * (40 - 4)
    assert got.expected == round(4 * (H - BUSY) * 3600 * idle + average * BUSY * 3600 * active + fee, 2)


def test_a_scale_to_zero_gpu_service_without_zonal_redundancy_costs_nothing_idle():
    got = line(of("dev"), "mlinfra-svc-summarizer")
    second = (8 * run_rate("us-central1", "cpu_instance") + 32 * run_rate("us-central1", "memory_instance")
              + run_rate("us-central1", "gpu_l4_no_zonal"))
    assert got.idle == 0.0
    assert got.peak == round(2 * BUSY * 3600 * second, 2)


def test_a_cloud_run_job_is_priced_per_execution_instance_based_and_costs_nothing_idle():
    job = run_stack("hybrid-dev").one("gcp:cloudrunv2/job:Job", "mlinfra-job-batch-score")
    execution = job.inputs["template"]
    tasks, retries = execution["taskCount"], execution["template"]["maxRetries"]
    second = 2 * run_rate("us-central1", "cpu_instance") + 4 * run_rate("us-central1", "memory_instance")
    got = line(of("hybrid-dev"), "mlinfra-job-batch-score")
    assert got.idle == 0.0
    assert got.expected == round(SPEC.job_runs_per_month * tasks * SPEC.seconds_per_job_task * second, 2)
    assert got.peak == round(SPEC.job_runs_per_month * tasks * (1 + retries) * 3600 * second, 2)
    assert got.what == "30 runs x 4 tasks x (2 CPU, 4Gi), instance-based"
    fewer = line(of("hybrid-dev", CostSpec(jobRunsPerMonth=4, secondsPerJobTask=7200)), "mlinfra-job-batch-score")
    assert fewer.expected == round(4 * tasks * 3600 * second, 2), "a task is billed at most its timeout"
    assert not any(u.type.startswith("gcp:cloudrunv2/job") for u in of("hybrid-dev").unpriced)


def test_a_gpu_cloud_run_job_pays_the_gpu_without_zonal_redundancy():
    rec = run_config({"gcp:project": "acme-test", "gcp:region": "us-central1", "mlinfra:pattern": "hybrid",
                      "mlinfra:environment": "dev", "mlinfra:jobs": [
                          {"name": "embed", "platform": "cloudrun", "image": "x/embed:1", "resources": {"gpu": {}}}]})
    got = line(estimate(rec.registrations, "us-central1", SPEC), "mlinfra-job-embed")
    second = (4 * run_rate("us-central1", "cpu_instance") + 16 * run_rate("us-central1", "memory_instance")
              + run_rate("us-central1", "gpu_l4_no_zonal"))
    assert got.expected == round(SPEC.job_runs_per_month * SPEC.seconds_per_job_task * second, 2)
    assert "1x nvidia-l4" in got.what


def test_a_function_is_priced_per_invocation_with_the_cpu_its_memory_gets():
    got = line(of("dev"), "mlinfra-fn-on-upload")
    active = 0.167 * run_rate("us-central1", "cpu_request") + 0.25 * run_rate("us-central1", "memory_request")
    work = SPEC.invocations_per_month * SPEC.seconds_per_invocation * active
    fee = SPEC.invocations_per_month / 1e6 * run_rate("us-central1", "requests")
    assert got.idle == 0.0
    assert got.expected == round(work + fee, 2)


def test_buckets_are_priced_by_the_gb_assumed_for_their_purpose():
    e = of("dev", CostSpec(data_lake_gb=1000))
    assert line(e, "mlinfra-storage-data-lake").idle == round(1000 * prices.STORAGE_STANDARD["us-central1"].usd, 2)
    assert line(e, "mlinfra-storage-artifacts").idle == round(SPEC.artifacts_gb * 0.020, 2)


def test_the_nat_gateway_is_billed_by_the_nodes_that_use_it():
    rec = run_stack("k8s-prod")
    pools = [p.inputs["autoscaling"] for p in rec.of_type("gcp:container/nodePool:NodePool")]
    # Per-zone counts in each of the 3 zones; the queued pool's counts are totals.
    lo = sum(a["minNodeCount"] * 3 if "minNodeCount" in a else a["totalMinNodeCount"] for a in pools)
    hi = sum(a["maxNodeCount"] * 3 if "maxNodeCount" in a else a["totalMaxNodeCount"] for a in pools)
    assert any("totalMaxNodeCount" in a for a in pools)
    got = line(of("k8s-prod"), "mlinfra-network-nat")
    assert got.idle == round((lo * prices.NAT_PER_VM.usd + prices.NAT_IP.usd) * H, 2)
    assert got.peak == round((prices.NAT_CAP.usd + prices.NAT_IP.usd) * H
                             + SPEC.nat_gib_per_month * prices.NAT_DATA.usd, 2)
    assert hi > 32
    assert line(of("dev"), "mlinfra-network-nat").peak == 0.0  # serverless: no VM behind it


@pytest.mark.parametrize("stack", ["dev", "prod", "k8s-dev", "k8s-prod"])
def test_the_stack_total_is_the_sum_of_its_lines_and_idle_is_below_peak(stack):
    e = of(stack)
    for figure in ("idle", "expected", "peak"):
        assert e.total(figure) == round(sum(getattr(x, figure) for x in e.lines), 2)
    assert e.total("idle") <= e.total("expected") <= e.total("peak")


def test_the_plan_text_shows_the_cost_table_with_a_saving_per_spot_pool():
    from infra.plan import Plan, render_tree

    text = render_tree(Plan("k8s-prod", "stacks/Pulumi.k8s-prod.yaml", stack_config("k8s-prod"),
                            run_stack("k8s-prod"), 1.0, []))
    e = of("k8s-prod")
    spot = line(e, "mlinfra-gke-spot-l4")
    assert f"spot saves {spot.spot_saving * 100:.0f} %" in text
    assert f"Always-on baseline (idle at every minimum): {render.usd(e.total('idle'))} a month" in text
    assert "Not priced" in text and "mlinfra-gateway" in text


def test_the_unconfirmed_price_mark_has_its_own_column_after_the_figures_not_under_spot():
    from infra.plan import Plan, render_tree

    rows = render_tree(Plan("k8s-prod", "stacks/Pulumi.k8s-prod.yaml", stack_config("k8s-prod"),
                            run_stack("k8s-prod"), 1.0, [])).splitlines()
    head = next(r for r in rows if r.startswith("  resource ") and r.endswith("  spot"))
    e = of("k8s-prod")
    for x in e.lines:
        row = next(r for r in rows if r.startswith(f"  {x.name} "))
        figures = f"{render.usd(x.peak)} {'*' if x.unconfirmed else ' '}"
        assert row[:head.index("spot")].rstrip().endswith(figures.rstrip()), row
        assert row[head.index("spot"):] == (f"spot saves {x.spot_saving * 100:.0f} % (on demand "
                                            f"{render.usd(x.on_demand_peak)} at peak)" if x.spot_saving else ""), row
    spot = line(e, "mlinfra-gke-spot-l4")
    assert spot.unconfirmed and spot.spot_saving, "the case the mark once trailed the spot saving in"
    dev = of("dev")
    churn = line(dev, "mlinfra-svc-churn")  # request-based Cloud Run: not spot, one price not confirmed
    assert churn.unconfirmed and churn.spot_saving is None
    row = next(r for r in render.markdown(dev).splitlines() if r.startswith("| `mlinfra-svc-churn` |"))
    assert row.endswith(f"| {render.usd(churn.peak)} \\* |  |"), "the mark is on the figures; the spot cell is empty"
    assert "* after a line's figures: they use a price the table marks not confirmed" in render.table(dev)


def test_the_preview_json_carries_the_estimate_under_cost():
    from infra.plan import Plan, preview_json

    doc = preview_json(Plan("prod", "stacks/Pulumi.prod.yaml", stack_config("prod"), run_stack("prod"), 1.0, []))
    e = of("prod")
    assert doc["cost"]["total"] == {"idle": e.total("idle"), "expected": e.total("expected"), "peak": e.total("peak")}
    assert doc["cost"]["pricesChecked"] == prices.CHECKED.isoformat()
    assert {r["name"] for r in doc["cost"]["resources"]} == {x.name for x in e.lines}
    json.dumps(doc["cost"])


def test_the_quiet_summary_line_gives_the_range():
    e = of("k8s-prod")
    assert render.summary(e).startswith(f"cost: {render.usd(e.total('idle'))}-{render.usd(e.total('peak'))} a month")


def test_the_stack_file_cost_section_changes_the_assumptions():
    values = stack_config("dev")
    values["mlinfra:cost"] = {"dataLakeGb": 2000, "busyHoursPerMonth": 100}
    rec = run_config(values, stack="dev")  # the program validates the section like every other
    from infra.plan import Plan

    e = render.of_plan(Plan("dev", "f", values, rec, 1.0, []))
    assert e.assumptions["busyHoursPerMonth"] == 100
    assert line(e, "mlinfra-storage-data-lake").idle == round(2000 * prices.STORAGE_STANDARD["us-central1"].usd, 2)


def test_an_unknown_cost_key_is_a_stack_file_error():
    values = copy.deepcopy(stack_config("dev"))
    values["mlinfra:cost"] = {"dataLakeGB": 10}
    with pytest.raises(ConfigError, match=r"mlinfra:cost\.dataLakeGB: unknown key\s+did you mean mlinfra:cost\.dataLakeGb"):
        run_config(values, stack="dev")


def test_the_readme_example_figures_are_the_ones_the_table_gives_today():
    from tests.conftest import ROOT

    text = (ROOT / "README.md").read_text()
    e = of("k8s-prod")
    spot = line(e, "mlinfra-gke-spot-l4")
    assert f"Total                {render.usd(e.total('idle'))}  {render.usd(e.total('expected'))}  " \
           f"{render.usd(e.total('peak'))}" in text, "update the example in the README's cost section"
    assert f"spot saves {spot.spot_saving * 100:.0f} % (on demand {render.usd(spot.on_demand_peak)} at peak)" in text


def test_a_stack_the_table_cannot_price_says_so_instead_of_costing_nothing():
    # An AWS region the table does not cover: every resource is listed, nothing costs $0.00.
    group = registration("aws:eks/nodeGroup:NodeGroup", "general",
                         {"instanceTypes": ["m6i.xlarge"], "scalingConfig": {"minSize": 1, "maxSize": 3}})
    e = estimate([group, registration("aws:eks/cluster:Cluster", "eks", {})], "eu-west-1")
    assert e.lines == [] and [u.reason for u in e.unpriced] == ["no AWS prices for eu-west-1 in the table"] * 2
    assert render.summary(e).startswith("cost: not estimated: the price table has no prices for what this "
                                        "stack creates in eu-west-1")
    assert "$0.00" not in render.table(e)
