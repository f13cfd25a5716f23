"""The estimate of what the first table left unpriced: the AWS stacks (EKS fee, node groups on
demand, NAT gateways, addresses, S3, KMS), Google Cloud load balancers' forwarding rules and
bytes, BigQuery storage. Expected figures are worked out here from the table's rows, and each
row's value is pinned, so a price update must touch the test too."""

from __future__ import annotations

import copy

import pytest

from infra.cost import aws_prices as ap
from infra.cost import prices, render
from infra.cost.estimate import estimate
from infra.cost.spec import CostSpec
from infra.errors import ConfigError
from tests.conftest import run_config, run_stack, stack_config
from tests.infra.test_cost_estimate import line, registration

SPEC = CostSpec()
H = 730


def of(stack: str, spec: CostSpec = SPEC):
    config = stack_config(stack)
    return estimate(run_stack(stack).registrations, config.get("gcp:region") or config["aws:region"], spec)


def test_the_rows_these_tests_rely_on_hold_the_figures_read_off_their_pages():
    assert (ap.EKS_STANDARD.usd, ap.EKS_EXTENDED.usd) == (0.10, 0.60)
    assert ap.EC2_ON_DEMAND[("us-east-1", "m6i.xlarge")].usd == 0.192
    assert (ap.NAT_HOUR.usd, ap.NAT_DATA.usd, ap.PUBLIC_IPV4.usd) == (0.045, 0.045, 0.005)
    assert (ap.S3_STANDARD.usd, ap.KMS_KEY.usd) == (0.023, 1.0)
    assert (prices.LB_RULE_FIRST5.usd, prices.LB_RULE_EXTRA.usd, prices.LB_DATA.usd) == (0.025, 0.01, 0.008)
    assert prices.BQ_ACTIVE_STORAGE["us-central1"].usd == 0.02


def test_an_eks_stack_pays_the_cluster_fee_its_on_demand_nodes_nat_gateway_address_buckets_and_keys():
    e = of("eks-dev")
    assert line(e, "mlinfra-eks").idle == line(e, "mlinfra-eks").peak == round(0.10 * H, 2) == 73.0
    general = line(e, "mlinfra-eks-general")  # m6i.xlarge, 1-3 nodes
    assert general.what == "1-3 x m6i.xlarge on demand"
    assert (general.idle, general.expected, general.peak) == (
        round(1 * H * 0.192, 2), round((1 * H + 2 * 0.5 * 240) * 0.192, 2), round(3 * H * 0.192, 2))
    assert (general.idle, general.expected, general.peak) == (140.16, 186.24, 420.48)
    nat = next(x for x in e.lines if x.type == "aws:ec2/natGateway:NatGateway")  # one gateway in dev
    assert (nat.idle, nat.expected) == (round(0.045 * H, 2), round(0.045 * H + 50 * 0.045, 2)) == (32.85, 35.1)
    assert nat.what == "gateway + 50 GB processed"
    assert line(e, "mlinfra-storage-data-lake").idle == round(500 * 0.023, 2) == 11.5
    assert line(e, "mlinfra-storage-artifacts").idle == round(50 * 0.023, 2)
    assert {x.type for x in e.lines if x.type == "aws:kms/key:Key"} and all(
        x.idle == 1.0 for x in e.lines if x.type == "aws:kms/key:Key")
    eips = [x for x in e.lines if x.type == "aws:ec2/eip:Eip"]
    assert eips and all(x.idle == round(0.005 * H, 2) == 3.65 for x in eips)


def test_a_spot_node_group_and_the_boot_volumes_are_listed_as_not_priced_never_zero():
    e = of("eks-dev")
    reasons = {u.name: u.reason for u in e.unpriced}
    assert reasons["mlinfra-eks-spot-l4"].startswith("spot g6.2xlarge, g6.4xlarge: Spot prices are market prices")
    assert "gp3 boot volumes" in reasons["mlinfra-eks-general"]  # the launch template of the same name
    assert not any(u.type.startswith(("aws:iam/", "aws:ec2/subnet:", "aws:s3/bucketPolicy:")) for u in e.unpriced)


def test_karpenter_capacity_is_named_as_not_priced_on_the_prod_eks_stack():
    e = of("eks-prod")
    karpenter = [u for u in e.unpriced if u.type == "kubernetes:karpenter.sh/v1:NodePool"]
    assert len(karpenter) == 2 and all("chosen at run time" in u.reason for u in karpenter)
    system = line(e, "mlinfra-eks-system")  # m6i.large x 3, fixed
    assert system.idle == system.peak == round(3 * H * ap.EC2_ON_DEMAND[("us-east-1", "m6i.large")].usd, 2)
    assert system.unconfirmed, "m6i.large is derived, so the line is marked *"
    assert len([x for x in e.lines if x.type == "aws:ec2/natGateway:NatGateway"]) == 3  # one per zone


def test_the_summary_line_names_the_nodes_its_range_leaves_out_and_why():
    prod, dev = of("eks-prod"), of("eks-dev")
    assert render.summary(prod).endswith(
        f"{len(prod.unpriced)} not priced); the range leaves out the nodes Karpenter launches for 2 NodePools "
        "(it picks their instance types and counts at run time)")
    assert render.summary(dev).endswith(
        f"{len(dev.unpriced)} not priced); the range leaves out 1 spot node group (spot prices are market prices; "
        "the table holds none)")
    assert "The totals leave out the nodes Karpenter launches for 2 NodePools" in render.table(prod)
    assert "The totals leave out 1 spot node group" in render.markdown(dev)
    assert "leaves out" not in render.summary(of("k8s-prod")), "GKE spot pools are priced, at spot rates"
    pool = registration("gcp:container/nodePool:NodePool", "odd",
                        {"location": "us-central1-a", "nodeConfig": {"machineType": "z9-standard-1"}})
    assert render.summary(estimate([pool, registration("gcp:container/cluster:Cluster", "c", {})], "us-central1")) \
        .endswith("; the range leaves out 1 node pool whose machines the table has no price for")


def test_extended_support_costs_six_times_the_standard_fee():
    cluster = registration("aws:eks/cluster:Cluster", "old", {"upgradePolicy": {"supportType": "EXTENDED"}})
    got = estimate([cluster], "us-east-1").lines[0]
    assert got.idle == round(0.60 * H, 2) == 438.0
    assert got.what == "cluster fee (extended support)"


def test_an_on_demand_group_of_an_instance_type_the_table_lacks_is_not_priced():
    group = registration("aws:eks/nodeGroup:NodeGroup", "big", {"instanceTypes": ["p5.48xlarge"]})
    e = estimate([group], "us-east-1")
    assert not e.lines and e.unpriced[0].reason == "no price for instance type p5.48xlarge in us-east-1 in the table"


def test_forwarding_rules_bill_hours_and_their_load_balancer_bytes_once():
    e = of("dev")
    http, https = line(e, "mlinfra-svc-summarizer-lb-http"), line(e, "mlinfra-svc-summarizer-lb-https")
    hours = round(0.025 * H, 2)
    # The two rules share one address: one load balancer, its 10 GiB each way counted on the first.
    first, second = sorted([http, https], key=lambda x: x.expected, reverse=True)
    assert first.idle == hours == 18.25
    assert first.expected == first.peak == round(0.025 * H + 2 * 10 * 0.008, 2) == 18.41
    assert second.idle == second.expected == hours
    assert not any(u.type.startswith("gcp:compute/globalForwardingRule") for u in e.unpriced)


def test_rules_beyond_the_first_five_of_a_project_cost_the_lower_rate():
    rules = [registration("gcp:compute/globalForwardingRule:GlobalForwardingRule", f"r{n}", {"ipAddress": f"ip{n}"})
             for n in range(7)]
    got = estimate(rules, "us-central1", CostSpec(loadBalancerGibPerMonth=0)).lines
    assert [x.idle for x in got] == [round(0.025 * H, 2)] * 5 + [round(0.01 * H, 2)] * 2 == [18.25] * 5 + [7.3] * 2
    assert [x.expected for x in got] == [x.idle for x in got]  # no bytes assumed


def test_a_bigquery_dataset_is_priced_by_the_active_storage_assumed_and_its_tables_say_what_is_not():
    e = of("dataflow-dev", CostSpec(bigqueryGbPerDataset=1000))
    features = line(e, "mlinfra-bq-features")
    assert features.idle == features.peak == round(1000 * 0.02, 2) == 20.0
    assert features.unconfirmed, "the regional rate is taken from the multi-region row: marked *"
    assert line(of("dataflow-dev"), "mlinfra-bq-features").idle == round(50 * 0.02, 2)
    tables = [u for u in e.unpriced if u.type == "gcp:bigquery/table:Table"]
    assert tables and all("Storage Write API" in u.reason for u in tables)


def test_the_aws_plan_text_shows_the_table_and_what_is_not_priced():
    from infra.plan import Plan, render_tree

    text = render_tree(Plan("eks-dev", "stacks/Pulumi.eks-dev.yaml", stack_config("eks-dev"),
                            run_stack("eks-dev"), 1.0, []))
    e = of("eks-dev")
    assert f"Always-on baseline (idle at every minimum): {render.usd(e.total('idle'))} a month" in text
    assert "mlinfra-eks-spot-l4" in text.split("Not priced")[1]
    assert "us-east-1" in render.markdown(e) and "| `mlinfra-eks` |" in render.markdown(e)


@pytest.mark.parametrize("key", ["loadBalancerGibPerMonth", "bigqueryGbPerDataset", "natGibPerMonth"])
def test_a_negative_usage_assumption_is_a_stack_file_error_naming_the_key(key):
    values = copy.deepcopy(stack_config("dev"))
    values["mlinfra:cost"] = {key: -1}
    with pytest.raises(ConfigError, match=rf"mlinfra:cost\.{key}"):
        run_config(values, stack="dev")


def test_valkey_instances_pay_every_node_primaries_and_replicas_all_month():
    assert prices.VALKEY_NODE[("us-central1", "STANDARD_SMALL")].usd == 0.1425
    assert prices.VALKEY_NODE[("us-central1", "SHARED_CORE_NANO")].usd == 0.0318
    cache = line(of("hybrid-prod"), "mlinfra-cache")  # 1 shard + 1 replica of standard-small
    assert cache.what == "2 x standard-small nodes"
    assert cache.idle == cache.peak == round(2 * 0.1425 * H, 2) == 208.05
    assert cache.unconfirmed, "the Valkey rates are marked *"
    assert line(of("hybrid-dev"), "mlinfra-cache").idle == round(1 * 0.0318 * H, 2) == 23.21
    assert not any(u.type == "gcp:memorystore/instance:Instance" for u in of("hybrid-prod").unpriced)


def test_a_valkey_node_type_the_table_lacks_is_not_priced():
    inst = registration("gcp:memorystore/instance:Instance", "big",
                        {"nodeType": "HIGHMEM_XLARGE", "shardCount": 3, "replicaCount": 2, "location": "us-central1"})
    e = estimate([inst], "us-central1")
    assert not e.lines
    assert e.unpriced[0].reason == ("HIGHMEM_XLARGE x 9 nodes: no Memorystore for Valkey price for HIGHMEM_XLARGE "
                                    "in us-central1 in the table")


def test_a_cloud_armor_policy_pays_itself_its_rules_and_the_requests_it_evaluates():
    assert (prices.ARMOR_POLICY.usd, prices.ARMOR_RULE.usd, prices.ARMOR_REQUESTS.usd) == (5.0, 1.0, 0.75)
    armor = line(of("llm-dev"), "mlinfra-gateway-armor")  # 2 WAF rules, a rate limit, the default rule
    assert armor.what == "policy + 4 rules + 1,000,000 requests"
    assert (armor.idle, armor.expected) == (5 + 4 * 1, 5 + 4 * 1 + 0.75) == (9.0, 9.75)
    busy = line(of("llm-dev", CostSpec(securityPolicyRequestsPerMonth=100_000_000)), "mlinfra-gateway-armor")
    assert busy.expected == 5 + 4 + 100 * 0.75 == 84.0


def test_cron_schedules_give_their_runs_in_a_month():
    from infra.cost.gcp_services import cron_runs_per_month as runs

    assert runs("15 * * * *", H) == 730  # hourly
    assert runs("*/5 * * * *", H) == 12 * 730
    assert runs("0 2 * * *", H) == H / 24  # nightly: 30.4 days
    assert runs("0 4 * * 0", H) == H / 24 / 7  # weekly
    assert runs("0 0 1,15 * *", H) == 2
    assert runs("0 9-17 * * 1-5", H) == pytest.approx(9 * 5 * H / 24 / 7)
    assert runs("every 5 minutes", H) is None


def test_a_workflow_pays_its_definition_steps_for_each_assumed_execution():
    assert (prices.WORKFLOWS_INTERNAL.usd, prices.WORKFLOWS_EXTERNAL.usd) == (0.01, 0.025)
    flow = run_stack("hybrid-dev").one("gcp:workflows/workflow:Workflow", "mlinfra-chain-on-new-ranker")
    from infra.cost.gcp_services import definition_steps

    # read_object (2 assigns), only_the_marker, event_env (2), version, version_given, read_token, done;
    # dispatch posts to api.github.com: external; its except branch (log, raise) is not counted.
    assert definition_steps(flow.inputs["sourceContents"]) == (9, 1)
    got = line(of("hybrid-dev"), "mlinfra-chain-on-new-ranker")  # an event trigger: 30 runs by default
    assert got.what == "30 runs x 10 steps (1 external)"
    assert got.idle == 0.0 and got.expected == round(30 * (9 * 0.01 + 1 * 0.025) / 1000, 2)
    many = line(of("hybrid-dev", CostSpec(workflowExecutionsPerMonth=1_000_000)), "mlinfra-chain-on-new-ranker")
    assert many.expected == round(1_000_000 * (9 * 0.01 + 0.025) / 1000, 2) == 115.0
    fixed = line(of("hybrid-dev", CostSpec(workflowExecutionsPerMonth=1000, workflowStepsPerExecution=100)),
                 "mlinfra-chain-on-new-ranker")
    assert fixed.expected == round(1000 * (90 * 0.01 + 10 * 0.025) / 1000, 2) == 1.15


def test_a_scheduled_workflow_runs_as_often_as_its_schedule_says():
    values = copy.deepcopy(stack_config("dataflow-dev"))
    values["mlinfra:triggers"] = [{"name": "rescore", "on": {"schedule": {"cron": "0 6 * * 1"}},
                                   "run": {"pipeline": "batch-scoring", "timeoutMinutes": 120}}]
    rec = run_config(values, stack="dataflow-dev")
    got = line(estimate(rec.registrations, "us-central1"), "mlinfra-chain-rescore")
    assert got.what.startswith(f"{H / 24 / 7:g} runs (0 6 * * 1) x ")
