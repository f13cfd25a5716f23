"""The network, buckets and service accounts on their own, as any Pulumi program would use them."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from components.core import naming
from components.core.issues import InputError
from components.core.labels import labels_transformation
from components.core.units import cpu_string, memory_mib
from components.gcp.cloudrun.cloud_run_model_server import CloudRunModelServer, CloudRunModelServerArgs
from components.gcp.cloudrun.cloud_run_service_spec import CloudRunServiceSpec
from components.gcp.cloudrun.revisions import revision_name, traffic_split
from components.gcp.functions.cloud_function_spec import CloudFunctionSpec, source_digest
from components.gcp.functions.cloud_function_trigger import CloudFunctionTrigger, CloudFunctionTriggerArgs
from components.gcp.iam.service_account import ServiceAccount
from components.gcp.network.network import Network, NetworkArgs
from components.gcp.network.network_spec import NetworkSpec
from components.gcp.storage.bucket import Bucket, BucketArgs, LifecycleRule
from tests.conftest import ROOT, run_component


def make_network() -> Network:
    return Network("net", NetworkArgs(spec=NetworkSpec(), region="us-central1"))


def test_network_is_private_with_secondary_ranges_nat_and_two_firewall_rules():
    rec = run_component(make_network)
    net = rec.one("gcp:compute/network:Network")
    assert net.inputs["autoCreateSubnetworks"] is False
    subnet = rec.one("gcp:compute/subnetwork:Subnetwork")
    assert subnet.inputs["privateIpGoogleAccess"] is True
    assert subnet.inputs["ipCidrRange"] == "10.10.0.0/20"
    assert subnet.inputs["secondaryIpRanges"] == [
        {"rangeName": "pods", "ipCidrRange": "10.20.0.0/14"},
        {"rangeName": "services", "ipCidrRange": "10.24.0.0/20"}]
    assert "logConfig" not in subnet.inputs
    nat = rec.one("gcp:compute/routerNat:RouterNat")
    assert nat.inputs["natIpAllocateOption"] == "AUTO_ONLY"
    assert nat.inputs["logConfig"] == {"enable": True, "filter": "ERRORS_ONLY"}
    rules = {r.name: r.inputs for r in rec.of_type("gcp:compute/firewall:Firewall")}
    assert rules["net-allow-internal"]["sourceRanges"] == ["10.10.0.0/20", "10.20.0.0/14", "10.24.0.0/20"]
    assert rules["net-allow-health-checks"]["sourceRanges"] == ["35.191.0.0/16", "130.211.0.0/22"]
    assert all(r.parent.endswith("mlinfra:gcp:Network::net") for r in rec.custom())


def test_fails_if_a_component_gets_overlapping_ranges_from_any_program():
    with pytest.raises(InputError, match="servicesCidr: overlaps subnetCidr"):
        run_component(lambda: Network("net", NetworkArgs(spec=NetworkSpec(services_cidr="10.10.1.0/24"), region="us-central1")))


def test_bucket_always_has_uniform_access_and_public_access_prevention():
    rec = run_component(lambda: Bucket("b", BucketArgs(name="acme-b", location="EU", versioning=True,
                                                      lifecycle=[LifecycleRule(noncurrent_versions=3)], protect=True)))
    b = rec.one("gcp:storage/bucket:Bucket")
    assert b.inputs["uniformBucketLevelAccess"] is True
    assert b.inputs["publicAccessPrevention"] == "enforced"
    assert b.inputs["versioning"] == {"enabled": True}
    assert b.inputs["forceDestroy"] is False
    assert b.inputs["lifecycleRules"] == [{"action": {"type": "Delete"},
                                           "condition": {"numNewerVersions": 3, "withState": "ARCHIVED"}}]
    assert b.protect and b.retain_on_delete


def test_bucket_grants_are_intent_level_roles_for_the_principal():
    def program():
        bucket = Bucket("b", BucketArgs(name="acme-b", location="EU"))
        sa = ServiceAccount("reader")
        bucket.grant_read(sa)
        bucket.grant_write(sa)
        bucket.grant_read_write(sa)
    rec = run_component(program)
    grants = {g.name: g.inputs for g in rec.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")}
    assert {n: g["role"] for n, g in grants.items()} == {
        "b-reader-read": "roles/storage.objectViewer", "b-reader-write": "roles/storage.objectCreator",
        "b-reader-readwrite": "roles/storage.objectUser"}
    assert all(g["member"] == "serviceAccount:reader@acme-test.iam.gserviceaccount.com" for g in grants.values())


def test_rejects_basic_roles_on_a_service_account():
    with pytest.raises(InputError, match="basic roles grant far more"):
        run_component(lambda: ServiceAccount("x").grant_project_role("roles/editor"))


def test_service_account_ids_fit_google_rules():
    for parts in [("a",), ("mlinfra-fn-nightly-report-trigger",), ("9lives",), ("x" * 80,)]:
        account = naming.account_id(*parts)
        assert 6 <= len(account) <= 30 and account[0].isalpha() and account == account.lower()
    assert naming.account_id("mlinfra-fn-nightly-report-trigger") != naming.account_id("mlinfra-fn-nightly-report-trigger2")
