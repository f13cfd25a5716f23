"""`mlinfra:cache`: the instance, its private connectivity, and how workloads with `cache: true`
reach it (GKE: a ConfigMap, env and the CA file, Triton's response cache; Cloud Run: env over
the VPC), dev against prod, and every rule broken once."""

from __future__ import annotations

import copy

import pytest

from tests.conftest import BASE_CONFIG, run_config, run_stack, stack_config
from infra.errors import ConfigError, key_path
from tests.infra.test_config import assert_one_error, load

VALKEY = "gcp:memorystore/instance:Instance"
REDIS = "gcp:redis/instance:Instance"
POLICY = "gcp:networkconnectivity/serviceConnectionPolicy:ServiceConnectionPolicy"
SECRET = "kubernetes:core/v1:ConfigMap"
ART = "gs://acme-test-test-artifacts/models/m"
EMBEDDER = {"name": "embedder", "platform": "cloudrun", "image": "us-docker.pkg.dev/acme/serve/embedder:4", "cache": True}
CA_FILE = "/etc/mlinfra/cache/ca.crt"


def hybrid(**keys):
    return {**BASE_CONFIG, "mlinfra:pattern": "hybrid", **{f"mlinfra:{k}": v for k, v in keys.items()}}


def hybrid_dev(**changes):
    """The hybrid-dev stack file, planned as stack `test` (its artifact bucket named as in hybrid-dev),
    without its feature store (whose own Memorystore instance tests/components/gcp/featurestore/ covers)."""
    values = stack_config("hybrid-dev")
    values.pop("mlinfra:featureStore", None)
    storage = copy.deepcopy(values["mlinfra:storage"])
    storage["artifacts"]["name"] = "acme-ml-dev-hybrid-dev-artifacts"
    values["mlinfra:storage"] = storage
    values.update({f"mlinfra:{k}": v for k, v in changes.items()})
    return values


def test_the_dev_stack_has_one_unprotected_valkey_instance_behind_a_psc_policy_on_its_subnet():
    rec = run_stack("hybrid-dev")
    inst = rec.one(VALKEY, "mlinfra-cache")
    assert {k: inst.inputs[k] for k in ("instanceId", "mode", "shardCount", "nodeType", "replicaCount",
                                        "transitEncryptionMode", "engineConfigs", "deletionProtectionEnabled")} == {
        "instanceId": "mlinfra-hybrid-dev-cache", "mode": "CLUSTER_DISABLED", "shardCount": 1,
        "nodeType": "SHARED_CORE_NANO", "replicaCount": 0, "transitEncryptionMode": "SERVER_AUTHENTICATION",
        "engineConfigs": {"maxmemory-policy": "allkeys-lru"}, "deletionProtectionEnabled": False}
    assert inst.protect is False and inst.delete_before_replace is True
    policy = rec.one(POLICY)
    subnet = rec.one("gcp:compute/subnetwork:Subnetwork", "mlinfra-network-subnet")
    assert policy.inputs["serviceClass"] == "gcp-memorystore"
    assert policy.inputs["pscConfig"] == {"subnetworks": [subnet.id]}
    assert inst.inputs["desiredAutoCreatedEndpoints"] == [{"network": policy.inputs["network"], "projectId": "acme-ml-dev"}]
    assert policy.urn in inst.dependencies  # the endpoints need the policy first
    apis = {r.inputs["service"] for r in rec.of_type("gcp:projects/service:Service")}
    assert {"memorystore.googleapis.com", "networkconnectivity.googleapis.com"} <= apis
    assert rec.of_type("gcp:servicenetworking/connection:Connection") == []
    assert rec.outputs["cache"]["instance"] == "mlinfra-hybrid-dev-cache"


def test_the_ranker_gets_the_address_from_a_config_map_the_ca_file_and_tritons_redis_response_cache():
    rec = run_stack("hybrid-dev")
    secret = rec.one(SECRET, "mlinfra-svc-ranker-cache")
    assert secret.inputs["metadata"]["namespace"] == "ml-ranker" and secret.inputs["metadata"]["name"] == "mlinfra-cache"
    data = secret.inputs["data"]
    data = data.get("value", data)  # the SDK marks stringData secret
    assert data["port"] == "6379" and data["host"].startswith("10.")
    assert data["ca.crt"].startswith("-----BEGIN CERTIFICATE-----")
    # Nothing of it is secret (no password; a public certificate), and checkov's CKV_K8S_35
    # flags secrets read into the environment.
    assert not rec.of_type("kubernetes:core/v1:Secret")
    for track in ("stable", "canary"):
        pod = rec.one("kubernetes:apps/v1:Deployment", f"mlinfra-svc-ranker-{track}").inputs["spec"]["template"]["spec"]
        [c] = pod["containers"]
        assert c["args"][-8:] == ["--cache-config", "redis,host=$(CACHE_HOST)", "--cache-config", "redis,port=$(CACHE_PORT)",
                                  "--cache-config", "redis,tls_enabled=true", "--cache-config", f"redis,cacert={CA_FILE}"]
        env = {e["name"]: e for e in c["env"]}
        assert env["CACHE_HOST"]["valueFrom"] == {"configMapKeyRef": {"name": "mlinfra-cache", "key": "host"}}
        assert env["CACHE_PORT"]["valueFrom"] == {"configMapKeyRef": {"name": "mlinfra-cache", "key": "port"}}
        assert env["CACHE_TLS"]["value"] == "true" and env["CACHE_CA_FILE"]["value"] == CA_FILE
        assert {"name": "cache-ca", "mountPath": "/etc/mlinfra/cache", "readOnly": True} in c["volumeMounts"]
        assert {"name": "cache-ca", "configMap": {"name": "mlinfra-cache", "defaultMode": 0o444,
                                               "items": [{"key": "ca.crt", "path": "ca.crt"}]}} in pod["volumes"]
    # The embedder did not ask for the cache: nothing of it reaches it.
    run = rec.one("gcp:cloudrunv2/service:Service")
    assert not any(e["name"].startswith("CACHE_") for e in run.inputs["template"]["containers"][0].get("envs", []))


def test_without_tls_there_is_no_ca_and_triton_connects_in_plain_text():
    rec = run_config(hybrid_dev(cache={"tls": False}))
    assert rec.one(VALKEY).inputs["transitEncryptionMode"] == "TRANSIT_ENCRYPTION_DISABLED"
    [c] = rec.one("kubernetes:apps/v1:Deployment", "mlinfra-svc-ranker-stable").inputs["spec"]["template"]["spec"]["containers"]
    assert c["args"][-4:] == ["--cache-config", "redis,host=$(CACHE_HOST)", "--cache-config", "redis,port=$(CACHE_PORT)"]
    assert "CACHE_CA_FILE" not in {e["name"] for e in c["env"]}
    assert not any(m["name"] == "cache-ca" for m in c["volumeMounts"])


def as_prod(values):
    values["mlinfra:environment"] = "prod"
    values["mlinfra:alerts"] = {"emails": ["oncall@acme.example"]}
    cluster = copy.deepcopy(values["mlinfra:cluster"])
    del cluster["zone"]  # prod clusters are regional
    values["mlinfra:cluster"] = cluster
    return values


def test_prod_has_a_replica_a_node_type_with_an_sla_deletion_protection_and_protect():
    values = as_prod(hybrid_dev(cache={}))
    rec = run_config(values)
    inst = rec.one(VALKEY)
    assert (inst.inputs["replicaCount"], inst.inputs["nodeType"], inst.inputs["deletionProtectionEnabled"]) == (
        1, "STANDARD_SMALL", True)
    assert inst.protect is True


def test_redis_gets_a_private_services_range_and_peering_and_a_standard_ha_instance_in_prod():
    values = as_prod(hybrid_dev(cache={"engine": "redis", "memoryGb": 5, "replicas": 2}))
    rec = run_config(values)
    assert rec.of_type(POLICY) == [] and rec.of_type(VALKEY) == []
    address = rec.one("gcp:compute/globalAddress:GlobalAddress")
    assert {k: address.inputs[k] for k in ("purpose", "addressType", "address", "prefixLength")} == {
        "purpose": "VPC_PEERING", "addressType": "INTERNAL", "address": "10.12.0.0", "prefixLength": 20}
    peering = rec.one("gcp:servicenetworking/connection:Connection")
    assert peering.inputs["service"] == "servicenetworking.googleapis.com"
    assert peering.inputs["reservedPeeringRanges"] == [address.outputs["name"]]
    inst = rec.one(REDIS)
    assert {k: inst.inputs[k] for k in ("tier", "memorySizeGb", "replicaCount", "readReplicasMode", "connectMode",
                                        "transitEncryptionMode", "deletionProtection", "reservedIpRange")} == {
        "tier": "STANDARD_HA", "memorySizeGb": 5, "replicaCount": 2, "readReplicasMode": "READ_REPLICAS_ENABLED",
        "connectMode": "PRIVATE_SERVICE_ACCESS", "transitEncryptionMode": "SERVER_AUTHENTICATION",
        "deletionProtection": True, "reservedIpRange": address.outputs["name"]}
    assert inst.protect is True and peering.urn in inst.dependencies
    secret = rec.one(SECRET, "mlinfra-svc-ranker-cache").inputs["data"]
    assert secret.get("value", secret)["port"] == "6378"  # Redis serves TLS on 6378
    apis = {r.inputs["service"] for r in rec.of_type("gcp:projects/service:Service")}
    assert {"redis.googleapis.com", "servicenetworking.googleapis.com"} <= apis


def test_a_cloud_run_service_gets_the_address_and_ca_as_env_over_its_vpc_egress():
    rec = run_config(hybrid(services=[EMBEDDER], cache={}))
    template = rec.one("gcp:cloudrunv2/service:Service").inputs["template"]
    env = {e["name"]: e.get("value") for e in template["containers"][0]["envs"]}
    assert env["CACHE_HOST"].startswith("10.") and env["CACHE_PORT"] == "6379" and env["CACHE_TLS"] == "true"
    assert env["CACHE_CA_CERT"].startswith("-----BEGIN CERTIFICATE-----")
    assert template["vpcAccess"]["egress"] == "PRIVATE_RANGES_ONLY"


TRITON = {"name": "scorer", "platform": "cloudrun", "runtime": "triton", "cache": True,
          "image": "us-central1-docker.pkg.dev/acme-test/serve/tritonserver:24.10-py3",
          "model": {"uri": ART, "version": "3"}}
CR_SECRET, CR_VERSION = "gcp:secretmanager/secret:Secret", "gcp:secretmanager/secretVersion:SecretVersion"
CR_READ = "gcp:secretmanager/secretIamMember:SecretIamMember"


def test_triton_on_cloud_run_keeps_its_response_cache_there_with_the_ca_mounted_from_a_secret_it_alone_reads():
    rec = run_config(hybrid(services=[TRITON, EMBEDDER], cache={}))
    [scorer] = [s for s in rec.of_type("gcp:cloudrunv2/service:Service") if s.inputs["name"] == "scorer-test"]
    template = scorer.inputs["template"]
    [c] = template["containers"]
    host = {e["name"]: e.get("value") for e in c["envs"]}["CACHE_HOST"]  # the instance's address
    assert host.startswith("10.")
    # Cloud Run does not expand $(VAR) in args: the instance's host and port are written in.
    assert c["args"][-8:] == ["--cache-config", f"redis,host={host}", "--cache-config", "redis,port=6379",
                              "--cache-config", "redis,tls_enabled=true", "--cache-config", f"redis,cacert={CA_FILE}"]
    assert {e["name"]: e.get("value") for e in c["envs"]}["CACHE_CA_FILE"] == CA_FILE
    assert {"name": "cache-ca", "mountPath": "/etc/mlinfra/cache"} in c["volumeMounts"]
    assert {"name": "cache-ca", "secret": {"secret": "scorer-test-cache-ca", "defaultMode": 0o444,
                                           "items": [{"path": "ca.crt", "version": "latest"}]}} in template["volumes"]
    secret = rec.one(CR_SECRET)
    assert (secret.inputs["secretId"], secret.inputs["project"], secret.inputs["replication"]) == (
        "scorer-test-cache-ca", "acme-test", {"userManaged": {"replicas": [{"location": "us-central1"}]}})
    assert secret.delete_before_replace is True
    version = rec.one(CR_VERSION)
    data = version.inputs["secretData"]
    assert data.get("value", data).startswith("-----BEGIN CERTIFICATE-----")  # the instance's own CA
    [read] = rec.of_type(CR_READ)
    account = rec.one("gcp:serviceaccount/account:Account", "mlinfra-svc-scorer-sa")
    assert (read.inputs["secretId"], read.inputs["role"], read.inputs["member"]) == (
        "scorer-test-cache-ca", "roles/secretmanager.secretAccessor",
        f"serviceAccount:{account.inputs['accountId']}@acme-test.iam.gserviceaccount.com")
    assert {version.urn, read.urn} <= set(scorer.dependencies)  # Cloud Run checks access at deploy
    # The embedder runs no Triton: the variables only, no flags, no file, no secret of its own.
    [embedder] = [s for s in rec.of_type("gcp:cloudrunv2/service:Service") if s.inputs["name"] == "embedder-test"]
    [e] = embedder.inputs["template"]["containers"]
    assert "CACHE_CA_FILE" not in {v["name"] for v in e["envs"]} and "volumes" not in embedder.inputs["template"]


def test_the_response_cache_renames_only_the_revisions_it_changes():
    from components.gcp.cloudrun.cloud_run_service_spec import CloudRunServiceSpec
    from components.gcp.cloudrun.revisions import revision_name

    def revisions(services):
        rec = run_config(hybrid(services=services, cache={}))
        return rec, {s.inputs["name"]: s.inputs["template"]["revision"] for s in rec.of_type("gcp:cloudrunv2/service:Service")}

    from tests.components.gcp.cloudrun.test_revision_outputs import planned_values

    instance = planned_values()  # the cache's and the VPC's values, as the mocks answer for them

    def name_of(service, **context):
        spec = CloudRunServiceSpec.model_validate(service).variant(canary=False)
        return revision_name(f"{service['name']}-test", spec, {
            "egress": "privateRangesOnly", "model_bucket": "acme-test-test-artifacts", **context}, resolved=instance)

    _, names = revisions([TRITON, EMBEDDER])
    assert names["embedder-test"] == name_of(EMBEDDER)  # no response cache: the variables' values only
    assert names["scorer-test"] == name_of(TRITON, response_cache={"tls": True}) != name_of(TRITON)
    # With its own args the whole list is the spec's: no flags, no secret, the variables' values only.
    own = {**TRITON, "args": ["--model-repository=/models"]}
    rec, names = revisions([own])
    assert names["scorer-test"] == name_of(own)
    assert rec.of_type(CR_SECRET) == []
    assert rec.one("gcp:cloudrunv2/service:Service").inputs["template"]["containers"][0]["args"] == own["args"]


def test_triton_on_cloud_run_without_tls_connects_in_plain_text_and_mounts_nothing():
    rec = run_config(hybrid(services=[TRITON], cache={"tls": False}))
    [c] = rec.one("gcp:cloudrunv2/service:Service").inputs["template"]["containers"]
    host = {e["name"]: e.get("value") for e in c["envs"]}["CACHE_HOST"]
    assert c["args"][-4:] == ["--cache-config", f"redis,host={host}", "--cache-config", "redis,port=6379"]
    assert rec.of_type(CR_SECRET) == [] and all(m["name"] != "cache-ca" for m in c["volumeMounts"])


def test_a_job_with_cache_gets_its_own_config_map_env_and_ca_file_to_write_predictions():
    values = hybrid_dev()
    values["mlinfra:jobs"] = copy.deepcopy(values["mlinfra:jobs"]) + [{
        "name": "score-nightly", "image": "us-central1-docker.pkg.dev/acme-ml-dev/mlinfra-hybrid-dev/score:1",
        "schedule": "0 2 * * *", "cache": True}]
    rec = run_config(values)
    secret = rec.one(SECRET, "mlinfra-job-score-nightly-cache")
    assert secret.inputs["metadata"]["name"] == "score-nightly-cache"
    assert secret.inputs["metadata"]["namespace"] == "mlinfra-jobs"
    body = rec.one("kubernetes:batch/v1:CronJob", "mlinfra-job-score-nightly").inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    env = {e["name"]: e for e in body["containers"][0]["env"]}
    assert env["CACHE_HOST"]["valueFrom"]["configMapKeyRef"] == {"name": "score-nightly-cache", "key": "host"}
    assert env["CACHE_CA_FILE"]["value"] == CA_FILE
    assert any(v.get("configMap", {}).get("name") == "score-nightly-cache" for v in body["volumes"])
    # The retraining job did not ask: no Secret and no cache variables for it.
    assert {r.name for r in rec.of_type(SECRET)} == {"mlinfra-job-score-nightly-cache", "mlinfra-svc-ranker-cache"}
    retrain = rec.one("kubernetes:batch/v1:CronJob", "mlinfra-job-retrain-ranker").inputs["spec"]["jobTemplate"]["spec"]
    assert not any(e["name"].startswith("CACHE_") for e in retrain["template"]["spec"]["containers"][0]["env"])


def test_the_cache_is_priced_per_node_and_marked_unconfirmed():
    from infra.cost import prices
    from infra.cost.estimate import estimate

    rec = run_stack("hybrid-dev")
    e = estimate(rec.registrations, "us-central1")
    [line] = [x for x in e.lines if x.type == VALKEY and x.name == "mlinfra-cache"]
    assert line.what == "1 x shared-core-nano node"
    assert line.idle == round(prices.VALKEY_NODE[("us-central1", "SHARED_CORE_NANO")].usd * 730, 2)
    assert line.unconfirmed and not any(u.type == VALKEY for u in e.unpriced)


def test_the_serverless_and_kubernetes_patterns_have_a_cache_too():
    rec = run_config({**BASE_CONFIG, "mlinfra:services": [{k: v for k, v in EMBEDDER.items() if k != "platform"}],
                      "mlinfra:cache": {}})
    assert len(rec.of_type(VALKEY)) == 1 and len(rec.of_type(POLICY)) == 1


def test_a_stack_without_a_cache_creates_no_connectivity():
    rec = run_config(hybrid(services=[{k: v for k, v in EMBEDDER.items() if k != "cache"}]))
    assert rec.of_type(POLICY) == [] and rec.of_type(VALKEY) == []
    assert rec.of_type("gcp:compute/globalAddress:GlobalAddress") == []


@pytest.mark.parametrize("values, key, fragment", [
    (hybrid(services=[EMBEDDER]), "mlinfra:services[0].cache", "the stack has no mlinfra:cache"),
    (hybrid(services=[EMBEDDER], cache={}, network={"egress": "none"}), "mlinfra:network.egress",
     "reached only privately"),
    (hybrid(cache={"engine": "memcached"}), "mlinfra:cache.engine", "valkey"),
    (hybrid(cache={"nodeType": "HUGE"}), "mlinfra:cache.nodeType", "not a Memorystore for Valkey node type"),
    (hybrid(cache={"memoryGb": 4}), "mlinfra:cache.memoryGb", "Valkey is sized by node type"),
    (hybrid(cache={"replicas": 3}), "mlinfra:cache.replicas", "0 to 2 replicas"),
    (hybrid(cache={"engine": "redis", "nodeType": "STANDARD_SMALL"}), "mlinfra:cache.nodeType", "sized in GB"),
    (hybrid(cache={"engine": "redis", "memoryGb": 400}), "mlinfra:cache.memoryGb", "1 to 300 GB"),
    (hybrid(cache={"engine": "redis", "replicas": 2, "memoryGb": 2}), "mlinfra:cache.memoryGb", "read replicas"),
    (hybrid(cache={"engine": "redis", "replicas": 6}), "mlinfra:cache.replicas", "STANDARD_HA"),
    (hybrid(cache={"evictionPolicy": "lru"}), "mlinfra:cache.evictionPolicy", "not a maxmemory-policy"),
    (hybrid(cache={"name": "Bad_Name"}), "mlinfra:cache.name", "has a form that is not allowed"),
    (hybrid(cache={"engine": "redis"}, network={"privateServicesCidr": "10.10.0.0/24"}),
     "mlinfra:network.privateServicesCidr", "overlaps subnetCidr"),
    (hybrid(cache={"engine": "redis"}, network={"privateServicesCidr": "10.12.0.0/28"}),
     "mlinfra:network.privateServicesCidr", "at least a /24"),
    (hybrid(cache={}, network={"existing": {"network": "shared", "subnet": "ml"}}),
     "mlinfra:network.existing.memorystorePolicy", "service connection policy"),
    (hybrid(cache={"engine": "redis"}, network={"existing": {"network": "shared", "subnet": "ml"}}),
     "mlinfra:network.existing.privateServicesRange", "private services access range"),
    ({**BASE_CONFIG, "mlinfra:pattern": "dataflow", "mlinfra:cache": {}}, "mlinfra:cache", "has no cache"),
])
def test_each_bad_cache_fails_naming_its_key(values, key, fragment):
    assert_one_error(values, key, fragment)


@pytest.mark.parametrize("cache, key, fragment", [
    ({"replicas": 0}, "mlinfra:cache.replicas", "without a replica"),
    ({"nodeType": "SHARED_CORE_NANO"}, "mlinfra:cache.nodeType", "no SLA"),
])
def test_prod_refuses_a_cache_without_a_replica_or_an_sla(cache, key, fragment):
    values = hybrid(cache=cache, environment="prod", alerts={"emails": ["oncall@acme.example"]})
    assert_one_error(values, key, fragment)


def test_a_job_asking_for_a_cache_in_a_stack_without_one_fails_naming_the_job():
    values = hybrid_dev()
    del values["mlinfra:cache"]
    values["mlinfra:services"] = [{k: v for k, v in s.items() if k != "cache"} for s in values["mlinfra:services"]]
    values["mlinfra:jobs"] = [{**values["mlinfra:jobs"][0], "cache": True}]
    assert_one_error(values, "mlinfra:jobs[0].cache", "the stack has no mlinfra:cache")


def test_a_variable_mlinfra_sets_for_the_cache_is_refused_on_both_platforms():
    assert_one_error(hybrid(services=[{**EMBEDDER, "env": {"CACHE_HOST": "x"}}], cache={}),
                     "mlinfra:services[0].env.CACHE_HOST", "set by mlinfra")
    values = hybrid_dev()
    values["mlinfra:services"] = copy.deepcopy(values["mlinfra:services"])
    values["mlinfra:services"][0]["env"] = {"CACHE_PORT": "1"}
    assert_one_error(values, "mlinfra:services[0].env.CACHE_PORT", "set by mlinfra")


def test_an_eks_service_or_job_asking_for_a_cache_fails_naming_it():
    values = stack_config("eks-dev")
    values["mlinfra:services"] = copy.deepcopy(values["mlinfra:services"])
    values["mlinfra:services"][0]["cache"] = True
    values["mlinfra:jobs"] = [{**copy.deepcopy(values["mlinfra:jobs"][0]), "cache": True}]
    with pytest.raises(ConfigError) as caught:
        load(values)
    found = {key_path(i.path): i.fix for i in caught.value.issues}
    assert found["mlinfra:services[0].cache"] == found["mlinfra:jobs[0].cache"] == "remove `cache: true` (AWS stacks have no cache)"


def test_the_network_component_alone_adds_each_engines_connectivity_and_nothing_without_one():
    from components.gcp.network.network import Network, NetworkArgs
    from components.gcp.network.network_spec import NetworkSpec
    from tests.conftest import run_component

    def net(engines):
        return lambda: Network("net", NetworkArgs(spec=NetworkSpec(), region="us-central1", memorystore=engines))

    types = lambda rec: {r.type for r in rec.custom()}  # noqa: E731
    both = run_component(net(("valkey", "redis")))
    assert {POLICY, "gcp:compute/globalAddress:GlobalAddress", "gcp:servicenetworking/connection:Connection"} <= types(both)
    assert both.one(POLICY).delete_before_replace is True
    none = run_component(net(()))
    assert types(none).isdisjoint({POLICY, "gcp:compute/globalAddress:GlobalAddress",
                                   "gcp:servicenetworking/connection:Connection"})
