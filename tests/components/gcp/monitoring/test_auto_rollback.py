"""`rollout.autoRollback`: the rollback topic and its `pubsub` channel (the Monitoring notification
agent may publish on that topic and nothing else), the channel on the fast-burn policies only and
only while a canary takes traffic, the labels the function acts on, the function on the topic with
an account that reads the token secret alone; and every rule broken once."""

from __future__ import annotations

import copy
import json

import pytest

from components.gcp.monitoring.auto_rollback_spec import FUNCTION, LABEL, SERVICE_LABEL
from infra.mocks import project_number
from tests.conftest import BASE_CONFIG, run_config
from tests.infra.test_config import assert_one_error

POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
TOPIC_IAM = "gcp:pubsub/topicIAMMember:TopicIAMMember"
FUNCTION_TYPE = "gcp:cloudfunctionsv2/function:Function"
ARTIFACTS = "gs://acme-test-test-artifacts/models/ranker"
AGENT = f"serviceAccount:service-{project_number('acme-test')}@gcp-sa-monitoring-notification.iam.gserviceaccount.com"


def ranker(**rollout) -> dict:
    return {"name": "ranker", "runtime": "torchserve", "model": {"uri": ARTIFACTS, "version": "12"},
            "slo": {"availability": 99.9, "latency": {"thresholdMs": 200, "percent": 99}},
            "rollout": {"autoRollback": True, "canary": {"version": "13", "percent": 5}, **rollout}}


PROPOSE = {"name": "on-new-ranker", "on": {"storage": {"bucket": "artifacts", "prefix": "models/ranker/"}},
           "run": {"proposeRollout": {"service": "ranker", "repository": "acme/ml-platform"}}}


def stack(*services, triggers=(PROPOSE,), **keys) -> dict:
    values = copy.deepcopy(BASE_CONFIG)
    values.update({"mlinfra:services": list(services), "mlinfra:triggers": list(triggers),
                   "mlinfra:alerts": {"emails": ["oncall@acme.example"]}, **{f"mlinfra:{k}": v for k, v in keys.items()}})
    return values


@pytest.fixture(scope="module")
def rec():
    return run_config(stack(ranker(), {"name": "embedder", "image": "us-docker.pkg.dev/acme/serve/embedder:4",
                                       "slo": {"availability": 99.5}}))


def policies(rec) -> dict[str, dict]:
    return {r.name: r.inputs for r in rec.of_type(POLICY)}


def test_the_topic_and_its_pubsub_channel_which_only_monitoring_may_publish_to(rec):
    topic = rec.one("gcp:pubsub/topic:Topic", "mlinfra-rollback-topic")
    assert {k: topic.inputs[k] for k in ("name", "project", "messageRetentionDuration")} == \
        {"name": "mlinfra-rollback-test", "project": "acme-test", "messageRetentionDuration": "86400s"}
    channel = rec.one(CHANNEL, "mlinfra-rollback-channel")
    assert (channel.inputs["type"], channel.inputs["labels"]) == ("pubsub", {"topic": "projects/acme-test/topics/mlinfra-rollback-test"})
    (grant,) = [r for r in rec.of_type(TOPIC_IAM) if r.inputs["member"] == AGENT]
    assert {k: grant.inputs[k] for k in ("topic", "role", "project")} == \
        {"topic": "mlinfra-rollback-test", "role": "roles/pubsub.publisher", "project": "acme-test"}
    assert grant.urn in channel.dependencies
    # Nothing else grants the agent anything: no project role, no other topic.
    granted = [r for r in rec if r.inputs.get("member") == AGENT]
    assert granted == [grant]


def test_only_the_fast_burn_policies_of_the_canary_service_notify_it_and_carry_the_labels(rec):
    channel = rec.one(CHANNEL, "mlinfra-rollback-channel").outputs["name"]
    (email,) = [r.outputs["name"] for r in rec.of_type(CHANNEL) if r.inputs["type"] == "email"]
    found = policies(rec)
    notified = {name: inputs["notificationChannels"] for name, inputs in found.items()}
    assert notified == {
        "mlinfra-slo-ranker-availability-fast-burn": [email, channel],
        "mlinfra-slo-ranker-availability-slow-burn": [email],
        "mlinfra-slo-ranker-latency-fast-burn": [email, channel],
        "mlinfra-slo-ranker-latency-slow-burn": [email],
        "mlinfra-slo-embedder-availability-fast-burn": [email],
        "mlinfra-slo-embedder-availability-slow-burn": [email],
        "mlinfra-chain-on-new-ranker-failed": [email]}
    labelled = {name for name, inputs in found.items() if inputs.get("userLabels", {}).get(LABEL) == "canary"}
    assert labelled == {"mlinfra-slo-ranker-availability-fast-burn", "mlinfra-slo-ranker-latency-fast-burn"}
    assert found["mlinfra-slo-ranker-latency-fast-burn"]["userLabels"][SERVICE_LABEL] == "ranker"
    assert "rolls it back" in found["mlinfra-slo-ranker-availability-fast-burn"]["documentation"]["content"]


def test_the_function_listens_on_the_topic_as_its_own_account_reading_only_the_token(rec):
    function = rec.one(FUNCTION_TYPE, f"mlinfra-fn-{FUNCTION}")
    topic = rec.one("gcp:pubsub/topic:Topic", "mlinfra-rollback-topic")
    trigger = function.inputs["eventTrigger"]
    assert (trigger["pubsubTopic"], trigger["eventType"], trigger["retryPolicy"]) == \
        (topic.id, "google.cloud.pubsub.topic.v1.messagePublished", "RETRY_POLICY_RETRY")
    service = function.inputs["serviceConfig"]
    account = service["serviceAccountEmail"]
    assert account == "mlinfra-fn-mlinfra-rollback-sa@acme-test.iam.gserviceaccount.com"
    assert service["ingressSettings"] == "ALLOW_INTERNAL_ONLY"
    assert json.loads(service["environmentVariables"]["ROLLBACK_TARGETS"]) == {"ranker": {
        "repository": "acme/ml-platform", "workflow": "propose-rollout.yml", "ref": "main", "token": "GITHUB_TOKEN_0"}}
    assert service["environmentVariables"]["ROLLBACK_STACK"] == "test"
    assert service["secretEnvironmentVariables"] == [{"key": "GITHUB_TOKEN_0", "projectId": "acme-test",
                                                      "secret": "mlinfra-github-dispatch-token", "version": "latest"}]
    member = f"serviceAccount:{account}"
    grants = [(r.type, r.inputs.get("secretId"), r.inputs["role"]) for r in rec if r.inputs.get("member") == member]
    assert grants == [("gcp:secretmanager/secretIamMember:SecretIamMember", "mlinfra-github-dispatch-token",
                       "roles/secretmanager.secretAccessor")]
    assert function.inputs["buildConfig"]["entryPoint"] == "handle"
    assert function.inputs["buildConfig"]["source"]["storageSource"]["object"].startswith(f"{FUNCTION}/")


@pytest.mark.parametrize("rollout", [{"canary": None}, {"canary": {"version": "13", "percent": 0}}],
                         ids=["no canary", "canary at 0 %"])
def test_without_a_canary_taking_traffic_no_policy_notifies_the_rollback_but_it_stays(rollout):
    service = ranker(**rollout)
    if rollout["canary"] is None:
        del service["rollout"]["canary"]
    rec = run_config(stack(service))
    assert rec.one(CHANNEL, "mlinfra-rollback-channel") and rec.one(FUNCTION_TYPE, f"mlinfra-fn-{FUNCTION}")
    channel = rec.one(CHANNEL, "mlinfra-rollback-channel").outputs["name"]
    assert all(channel not in inputs["notificationChannels"] and LABEL not in inputs.get("userLabels", {})
               for inputs in policies(rec).values())


def test_a_gke_service_is_guarded_the_same_way():
    values = stack({**ranker(), "platform": "gke"}, **{"pattern": "hybrid", "cluster": {
        "nodePools": [{"name": "general", "machineType": "n2-standard-8", "autoscaling": {"min": 1, "max": 3}}]}})
    rec = run_config(values)
    channel = rec.one(CHANNEL, "mlinfra-rollback-channel").outputs["name"]
    assert {n for n, i in policies(rec).items() if channel in i["notificationChannels"]} == \
        {"mlinfra-slo-ranker-availability-fast-burn", "mlinfra-slo-ranker-latency-fast-burn"}


KEY = "mlinfra:services[0].rollout.autoRollback"


def test_it_needs_objectives_outside_prod():
    service = ranker()
    del service["slo"]
    assert_one_error(stack(service), KEY, "add `slo: {availability: 99.9}`")


def test_it_needs_a_propose_rollout_trigger_of_the_service_for_the_repository_and_token():
    assert_one_error(stack(ranker(), triggers=()), KEY, "add a trigger with `run: {proposeRollout: {service: ranker")


def test_no_trigger_may_take_the_rollback_functions_name():
    clash = {"name": FUNCTION, "source": "functions/retrain_request", "on": {"pubsub": {"topic": "retrain-requests"}}}
    assert_one_error(stack(ranker(), triggers=(PROPOSE, clash)), "mlinfra:triggers[1].name",
                     "is the name of the stack's rollback function")


STACK_FILE = """config:
  gcp:project: acme-test
  gcp:region: us-central1
  mlinfra:pattern: serverless
  mlinfra:environment: dev
  mlinfra:services:
    - name: ranker
      runtime: torchserve
      model: {uri: gs://acme-test-test-artifacts/models/ranker, version: "12"}
      slo: {availability: 99.9}
      rollout:
        autoRollback: true   # keep rolling back the next canaries too
        canary: {version: "13", percent: 5}
  mlinfra:triggers:
    - name: on-new-ranker
      on:
        storage: {bucket: artifacts, prefix: models/ranker/}
      run:
        proposeRollout: {service: ranker, repository: acme/ml-platform}
"""


@pytest.mark.parametrize("command", ["abort", "promote"])
def test_abort_and_promote_remove_the_canary_and_keep_the_key_which_stays_valid(command):
    from infra import rollout
    from infra.stackfile import load_yaml
    from tests.infra.test_config import load

    change = getattr(rollout, command)(STACK_FILE, "stacks/Pulumi.test.yaml", "ranker")
    assert "        autoRollback: true   # keep rolling back the next canaries too\n" in change.text
    assert "canary" not in change.text.split("mlinfra:triggers")[0].split("rollout:")[1]
    values = load_yaml(change.text)["config"]
    assert load(values) is not None  # no canary, autoRollback set: valid
