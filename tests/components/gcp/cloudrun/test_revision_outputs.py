"""Revision names of Cloud Run servers whose template holds another resource's outputs (the
cache's host, port and CA): fingerprinted with the values those resolve to, so the name changes
exactly when the template does, and every other server keeps the name it had."""

from __future__ import annotations

import pulumi

from components.gcp.cloudrun.cloud_run_model_server import CloudRunModelServer, CloudRunModelServerArgs
from components.gcp.cloudrun.cloud_run_service_spec import CloudRunServiceSpec
from components.gcp.cloudrun.revisions import revision_name
from components.serving.cache_wiring import CacheConnection
from tests.conftest import BASE_CONFIG, assert_no_output_text, run_component, run_config

SERVICE = "scorer-dev"
CONTEXT = {"egress": "privateRangesOnly", "model_bucket": "art"}
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
IMAGE = "us-docker.pkg.dev/acme/serve/scorer"
SCORER = {"name": "scorer", "image": f"{IMAGE}:4", "cache": True}
TRITON = {"name": "scorer", "runtime": "triton", "cache": True, "image": f"{IMAGE}:24.10",
          "model": {"uri": "gs://art/models/scorer", "version": "3"}}


def planned_values(project: str = "acme-test", region: str = "us-central1", stack: str = "test") -> dict:
    """What a stack's cache server is fingerprinted with, as the mocks answer for the instance (its
    PSC address, port and managed CA) and for the stack's VPC (auto-named network and subnet)."""
    from infra.mocks import _hash, _pem, _private_ip

    path = f"projects/{project}/locations/{region}/instances/mlinfra-{stack}-cache"
    return {"cache_host": _private_ip(path), "cache_port": 6379, "cache_tls": True, "cache_ca_cert": _pem(path),
            "network": f"projects/{project}/global/networks/mlinfra-network-{_hash('mlinfra-network', 7)}",
            "subnetwork": f"projects/{project}/regions/{region}/subnetworks/"
                          f"mlinfra-network-subnet-{_hash('mlinfra-network-subnet', 7)}"}


def spec_of(service: dict, **keys) -> CloudRunServiceSpec:
    return CloudRunServiceSpec.model_validate({**service, **keys})


def serve(spec: CloudRunServiceSpec, host: str = "10.200.1.5", ca: str = CA, tls: bool = True, subnetwork: str = "sub"):
    """The server against a cache whose values are Outputs (as the Memorystore instance's are)."""
    from components.gcp.storage.bucket import Bucket, BucketArgs

    def program():
        cache = CacheConnection(host=pulumi.Output.from_input(host), port=pulumi.Output.from_input(6379),
                                ca_cert=pulumi.Output.from_input(ca if tls else ""), tls=tls)
        CloudRunModelServer("srv", CloudRunModelServerArgs(
            spec=spec, service_name=SERVICE, region="us-central1", project="acme-test", network_id="net",
            subnetwork_id=pulumi.Output.from_input(subnetwork), model_bucket=Bucket("art", BucketArgs(name="art", location="US")), cache=cache))
    rec = run_component(program)
    assert_no_output_text(rec)
    return rec.one("gcp:cloudrunv2/service:Service").inputs


def expected(spec: CloudRunServiceSpec, host: str, ca: str = CA, tls: bool = True, canary: bool = False,
             subnetwork: str = "sub", **context) -> str:
    values = {"cache_host": host, "cache_port": 6379, "cache_tls": tls} | ({"cache_ca_cert": ca} if tls else {}) | {
        "network": "net", "subnetwork": subnetwork}
    return revision_name(SERVICE, spec.variant(canary=canary), CONTEXT | context, resolved=values)


def test_the_cache_host_and_ca_name_the_revision_and_the_same_values_the_same_name():
    spec = spec_of(SCORER)
    first = serve(spec)
    assert first["template"]["revision"] == expected(spec, "10.200.1.5")
    assert first["template"]["revision"] != revision_name(SERVICE, spec.variant(canary=False), CONTEXT)
    assert serve(spec)["template"]["revision"] == first["template"]["revision"], "nothing changed: same name"
    # A replaced instance (a new address) is a new template: a new name.
    moved = serve(spec, host="10.201.7.9")
    env = {e["name"]: e.get("value") for e in moved["template"]["containers"][0]["envs"]}
    assert env["CACHE_HOST"] == "10.201.7.9"
    assert moved["template"]["revision"] == expected(spec, "10.201.7.9") != first["template"]["revision"]
    # So is a rotated CA (its PEM is in CACHE_CA_CERT), and plain text instead of TLS.
    rotated = serve(spec, ca=CA.replace("MIIB", "MIIC"))["template"]["revision"]
    plain = serve(spec, tls=False)["template"]["revision"]
    assert rotated == expected(spec, "10.200.1.5", ca=CA.replace("MIIB", "MIIC"))
    assert plain == expected(spec, "10.200.1.5", tls=False)
    # A server whose name follows deploy-time values follows its VPC's ids too (a replaced subnet).
    resubnetted = serve(spec, subnetwork="sub-2")["template"]["revision"]
    assert resubnetted == expected(spec, "10.200.1.5", subnetwork="sub-2")
    assert len({first["template"]["revision"], rotated, plain, resubnetted}) == 4


def test_a_canary_of_a_cached_server_splits_between_deploy_time_names():
    spec = spec_of(SCORER, rollout={"canary": {"image": f"{IMAGE}:5", "percent": 10}})
    svc = serve(spec)
    stable, canary = expected(spec, "10.200.1.5"), expected(spec, "10.200.1.5", canary=True)
    assert [(t["revision"], t["percent"], t["tag"]) for t in svc["traffics"]] == [
        (stable, 90, "stable"), (canary, 10, "canary")]
    assert svc["template"]["revision"] == canary != stable
    # A pinned stable revision and tagged ones are names already: they stay as written.
    pinned = spec_of(SCORER, rollout={"stableRevision": "scorer-dev-v4-0a1b2c", "canary": {"image": f"{IMAGE}:5", "percent": 10},
                                      "tags": [{"tag": "previous", "revision": "scorer-dev-v3-3d4e5f"}]})
    assert [(t["revision"], t["percent"], t["tag"]) for t in serve(pinned)["traffics"]] == [
        ("scorer-dev-v4-0a1b2c", 90, "stable"), (canary, 10, "canary"), ("scorer-dev-v3-3d4e5f", 0, "previous")]


def test_triton_response_cache_flags_hold_the_host_and_the_name_follows_them():
    spec = spec_of(TRITON)
    svc = serve(spec, host="10.210.3.4")
    [container] = svc["template"]["containers"]
    assert "redis,host=10.210.3.4" in container["args"]
    name = expected(spec, "10.210.3.4", response_cache={"tls": True})
    assert svc["template"]["revision"] == name
    assert serve(spec, host="10.210.3.5")["template"]["revision"] == expected(
        spec, "10.210.3.5", response_cache={"tls": True}) != name


def test_a_server_without_a_cache_keeps_its_plain_text_name():
    spec = spec_of({k: v for k, v in SCORER.items() if k != "cache"})
    assert serve(spec)["template"]["revision"] == revision_name(SERVICE, spec.variant(canary=False), CONTEXT)


def test_the_service_revisions_output_holds_the_names_the_traffic_split_uses():
    rec = run_config({**BASE_CONFIG, "mlinfra:cache": {}, "mlinfra:services": [
        {**SCORER, "rollout": {"canary": {"image": f"{IMAGE}:5", "percent": 10}}}]})
    [svc] = rec.of_type("gcp:cloudrunv2/service:Service")
    split = {t["tag"]: t["revision"] for t in svc.inputs["traffics"]}
    assert rec.outputs["service_revisions"]["scorer"] == split
    assert split["canary"] == svc.inputs["template"]["revision"]
    instance = planned_values()
    env = {e["name"]: e.get("value") for e in svc.inputs["template"]["containers"][0]["envs"]}
    assert (env["CACHE_HOST"], env["CACHE_PORT"]) == (instance["cache_host"], "6379")
    spec = spec_of(SCORER, rollout={"canary": {"image": f"{IMAGE}:5", "percent": 10}})
    context = {"egress": "privateRangesOnly", "model_bucket": "acme-test-test-artifacts"}
    assert split == {track: revision_name("scorer-test", spec.variant(canary=track == "canary"), context, resolved=instance)
                     for track in ("stable", "canary")}
