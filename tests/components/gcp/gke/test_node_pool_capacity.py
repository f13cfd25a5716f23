"""Scarce GPUs and pool identity: flex-start pools, local SSDs, network tags and a pool's own
node account, as the plan records them, and the settings GKE would refuse."""

from __future__ import annotations

import copy

import pytest

from infra import config
from infra.errors import ConfigError, key_path
from infra.stackfile import to_engine_config
from tests.conftest import PROJECT, run_config, stack_config

POOL = "gcp:container/nodePool:NodePool"
FLEX = {"name": "flex-l4", "machineType": "g2-standard-8", "gpu": {"type": "nvidia-l4", "count": 1},
        "flexStart": True, "maxRunHours": 24, "autoscaling": {"min": 0, "max": 4, "perZone": False}}


def with_pool(**pool) -> dict:
    values = copy.deepcopy(stack_config("k8s-dev"))
    values["mlinfra:cluster"]["nodePools"].append(pool)
    return values


def planned_pool(rec, name: str):
    return rec.one(POOL, f"mlinfra-gke-{name}")


def test_a_flex_start_pool_waits_for_capacity_on_no_reservation_without_auto_repair():
    rec = run_config(with_pool(**FLEX), stack="k8s-dev")
    pool = planned_pool(rec, "flex-l4").inputs
    node = pool["nodeConfig"]
    assert node["flexStart"] is True
    assert node["maxRunDuration"] == "86400s"
    assert node["reservationAffinity"] == {"consumeReservationType": "NO_RESERVATION"}
    assert "spot" not in node or node["spot"] is False
    assert pool["management"] == {"autoRepair": False, "autoUpgrade": True}
    assert "upgradeSettings" not in pool  # GKE upgrades flex-start nodes with short-lived upgrades
    assert pool["autoscaling"]["locationPolicy"] == "ANY"
    assert pool["autoscaling"]["totalMinNodeCount"] == 0


def test_local_ssds_hold_ephemeral_storage_or_raw_blocks():
    rec = run_config(with_pool(name="ssd", machineType="n2-standard-8", localSsd={"count": 2}), stack="k8s-dev")
    assert planned_pool(rec, "ssd").inputs["nodeConfig"]["ephemeralStorageLocalSsdConfig"] == {"localSsdCount": 2}
    rec = run_config(with_pool(name="ssd", machineType="n2-standard-8", localSsd={"count": 1, "use": "block"}),
                     stack="k8s-dev")
    node = planned_pool(rec, "ssd").inputs["nodeConfig"]
    assert node["localNvmeSsdBlockConfig"] == {"localSsdCount": 1}
    assert "ephemeralStorageLocalSsdConfig" not in node


def test_a_dedicated_pool_account_holds_only_the_node_roles_and_the_adapter_firewall_reaches_it():
    values = with_pool(name="tagged", machineType="n2-standard-8", serviceAccount="dedicated",
                       networkTags=["ml-egress", "allow-metrics"])
    values["mlinfra:services"][0]["scaling"].update(metric="queueDepth", target=5)  # the metrics adapter
    rec = run_config(values, stack="k8s-dev")
    pool = planned_pool(rec, "tagged").inputs["nodeConfig"]
    assert pool["tags"] == ["ml-egress", "allow-metrics"]
    account = rec.one("gcp:serviceaccount/account:Account", "mlinfra-gke-tagged-nodes")
    email = f"{account.inputs['accountId']}@acme-ml-dev.iam.gserviceaccount.com"
    assert pool["serviceAccount"] == email
    from components.gcp.gke.cluster_spec import NODE_ROLES

    roles = {r.inputs["role"] for r in rec.of_type("gcp:projects/iAMMember:IAMMember")
             if r.inputs["member"] == f"serviceAccount:{email}"}
    assert roles == set(NODE_ROLES)
    shared = planned_pool(rec, "general").inputs["nodeConfig"]["serviceAccount"]
    assert shared != email
    [firewall] = [r for r in rec.of_type("gcp:compute/firewall:Firewall") if "metrics-adapter" in r.name]
    assert set(firewall.inputs["targetServiceAccounts"]) == {shared, email}


def test_an_existing_account_is_used_as_it_is():
    rec = run_config(with_pool(name="own", machineType="n2-standard-8",
                               serviceAccount="gke-nodes@acme-ml-dev.iam.gserviceaccount.com"), stack="k8s-dev")
    assert planned_pool(rec, "own").inputs["nodeConfig"]["serviceAccount"] == \
        "gke-nodes@acme-ml-dev.iam.gserviceaccount.com"
    assert not [r for r in rec.of_type("gcp:serviceaccount/account:Account") if r.name == "mlinfra-gke-own-nodes"]


@pytest.mark.parametrize("pool, key, fragment", [
    ({**FLEX, "gpu": None}, "flexStart", "this pool has no GPU"),
    ({**FLEX, "spot": True}, "flexStart", "two provisioning models"),
    ({**FLEX, "autoscaling": {"min": 1, "max": 4}}, "autoscaling.min", "must be 0 on a flex-start pool"),
    ({"name": "x", "machineType": "n2-standard-8", "maxRunHours": 4}, "maxRunHours", "applies to flex-start"),
    ({"name": "x", "machineType": "e2-standard-4", "localSsd": {"count": 1}}, "localSsd", "take no local SSD"),
    ({"name": "x", "networkTags": ["Bad_Tag"]}, "networkTags[0]", "is not a network tag"),
    ({"name": "x", "serviceAccount": "nodes"}, "serviceAccount", "neither `dedicated`"),
])
def test_each_bad_capacity_setting_fails_naming_its_key(pool, key, fragment):
    values = with_pool(**{k: v for k, v in pool.items() if v is not None})
    engine_values, _ = to_engine_config(values)
    with pytest.raises(ConfigError) as caught:
        config.load(engine_values, stack="k8s-dev", file="stacks/Pulumi.k8s-dev.yaml", root=PROJECT.root)
    keys = [key_path(i.path) for i in caught.value.issues]
    assert keys == [f"mlinfra:cluster.nodePools[2].{key}"], keys
    assert fragment in str(caught.value)
