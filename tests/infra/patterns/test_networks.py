"""Where a stack's network comes from: one it creates, an existing VPC or Shared VPC it only
refers to, or none at all for serverless services that need no private egress."""

from __future__ import annotations

import copy

import pytest

from infra.errors import ConfigError, key_path
from infra import config
from infra.stackfile import to_engine_config
from tests.conftest import BASE_CONFIG, PROJECT, run_config, stack_config

SHARED = {"hostProject": "acme-net-host", "network": "shared-vpc", "subnet": "ml-us-central1",
          "podsRange": "ml-pods", "servicesRange": "ml-services", "proxyOnlySubnet": True}
COMPUTE = ("gcp:compute/network:Network", "gcp:compute/subnetwork:Subnetwork", "gcp:compute/router:Router",
           "gcp:compute/routerNat:RouterNat")


def k8s_on_shared_vpc(**existing) -> dict:
    values = stack_config("k8s-dev")
    values["mlinfra:network"] = {"existing": {**SHARED, **existing}}
    return values


def errors(values, stack: str = "k8s-dev") -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        config.load(to_engine_config(values)[0], stack=stack, file=f"stacks/Pulumi.{stack}.yaml", root=PROJECT.root)
    return [(key_path(i.path), i.message) for i in caught.value.issues]


def test_a_cluster_on_a_shared_vpc_uses_the_host_projects_paths_and_ranges_and_creates_no_network():
    rec = run_config(k8s_on_shared_vpc(), stack="k8s-dev")
    assert [r for r in rec if r.type in COMPUTE] == []
    cluster = rec.one("gcp:container/cluster:Cluster")
    assert cluster.inputs["network"] == "projects/acme-net-host/global/networks/shared-vpc"
    assert cluster.inputs["subnetwork"] == "projects/acme-net-host/regions/us-central1/subnetworks/ml-us-central1"
    assert cluster.inputs["ipAllocationPolicy"] == {"clusterSecondaryRangeName": "ml-pods",
                                                    "servicesSecondaryRangeName": "ml-services"}
    firewall = rec.one("gcp:compute/firewall:Firewall", "mlinfra-control-plane-to-metrics-adapter")
    assert firewall.inputs["project"] == "acme-net-host", "a Shared VPC's firewall rules live in its host project"
    assert any("creates no network, subnet, router, NAT or firewall rule" in message for _, message in rec.log)


def test_a_serverless_service_on_an_existing_vpc_egresses_through_its_subnet():
    values = stack_config("dev")
    values["mlinfra:network"] = {"existing": {"network": "corp", "subnet": "serverless"}}
    rec = run_config(values, stack="dev")
    assert [r for r in rec if r.type in COMPUTE] == []
    svc = rec.one("gcp:cloudrunv2/service:Service", "mlinfra-svc-churn")
    assert svc.inputs["template"]["vpcAccess"]["networkInterfaces"] == [{
        "network": "projects/acme-ml-dev/global/networks/corp",
        "subnetwork": "projects/acme-ml-dev/regions/us-central1/subnetworks/serverless"}]


def test_moving_a_service_to_another_existing_subnet_is_a_new_revision_name():
    """The template's VPC interface changes, so the name must: Cloud Run refuses a second
    template under one revision name."""
    def revision(subnet: str) -> str:
        values = stack_config("dev")
        values["mlinfra:network"] = {"existing": {"network": "corp", "subnet": subnet}}
        return run_config(values, stack="dev").one("gcp:cloudrunv2/service:Service",
                                                   "mlinfra-svc-churn").inputs["template"]["revision"]
    assert revision("serverless") == revision("serverless")
    assert revision("serverless") != revision("serverless-b")


def test_a_serverless_stack_without_private_egress_creates_no_vpc_and_no_egress():
    values = stack_config("dev")
    values["mlinfra:network"] = {"egress": "none"}
    rec = run_config(values, stack="dev")
    # The summarizer's load balancer is Compute Engine too, but neither VPC nor egress.
    assert [r for r in rec if r.type.startswith("gcp:compute/")
            and "mlinfra:gcp:CloudRunLoadBalancer" not in (r.parent or "")] == []
    for svc in rec.of_type("gcp:cloudrunv2/service:Service"):
        assert "vpcAccess" not in svc.inputs["template"]
    for fn in rec.of_type("gcp:cloudfunctionsv2/function:Function"):
        assert "directVpcEgress" not in fn.inputs["serviceConfig"]
        assert "directVpcNetworkInterfaces" not in fn.inputs["serviceConfig"]
    assert rec.outputs.get("network") is None


@pytest.mark.parametrize("values, key, fragment", [
    (k8s_on_shared_vpc(podsRange=None), "mlinfra:network.existing.podsRange", "secondary ranges"),
    (k8s_on_shared_vpc(proxyOnlySubnet=False), "mlinfra:network.existing.proxyOnlySubnet", "proxy-only subnet"),
    ({**k8s_on_shared_vpc(), "mlinfra:network": {"existing": SHARED, "subnetCidr": "10.9.0.0/20"}},
     "mlinfra:network.subnetCidr", "belongs to the VPC the stack creates"),
    ({**stack_config("k8s-dev"), "mlinfra:network": {"egress": "none"}}, "mlinfra:network.egress",
     "leaves the cluster without a VPC"),
    ({**BASE_CONFIG, "mlinfra:network": {"existing": {"network": "Corp VPC", "subnet": "a"}}},
     "mlinfra:network.existing.network", "has a form that is not allowed"),
    ({**stack_config("dataflow-dev"), "mlinfra:network": {"egress": "none"}}, "mlinfra:network.egress",
     "without a subnet"),
], ids=["no pods range", "no proxy-only subnet", "a range beside an existing VPC", "a cluster without a VPC",
        "a network name Compute Engine rejects", "pipelines without a VPC"])
def test_rejects_network_settings_that_cannot_work_naming_the_key(values, key, fragment):
    stack = "dataflow-dev" if values.get("mlinfra:pattern") == "dataflow" else "k8s-dev"
    found = errors(copy.deepcopy(values), stack)
    assert [k for k, _ in found] == [key]
    assert fragment in found[0][1]


def test_the_plan_says_what_it_does_not_create_for_an_existing_vpc():
    from infra.plan import Plan, render_tree

    values = stack_config("dev")
    values["mlinfra:network"] = {"existing": {"network": "corp", "subnet": "serverless"}}
    text = render_tree(Plan("dev", "stacks/Pulumi.dev.yaml", values, run_config(values, stack="dev"), 1.0, []))
    assert "note: the stack uses the existing VPC corp (subnet serverless) of project acme-ml-dev: it creates no " \
           "network, subnet, router, NAT or firewall rule there" in text
