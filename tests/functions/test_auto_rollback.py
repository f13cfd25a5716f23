"""functions/auto_rollback against the real Pub/Sub emulator (gcloud's) and a stand-in for GitHub's
REST API on loopback: a Cloud Monitoring incident (notification schema 1.2) is published to the
rollback topic, pulled from a subscription, and delivered to the function as Eventarc delivers a
Pub/Sub message (a CloudEvent through the Functions Framework); the stand-in records the dispatch.

The function's configuration is the one the stack generates (auto_rollback_spec.function_spec),
so the format the component writes and the one the function reads cannot drift apart.

Without gcloud (or Java) these tests skip; MLINFRA_REQUIRE_PUBSUB_EMULATOR=1 (CI, .ci/run) makes
that a failure.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from components.gcp.monitoring.auto_rollback_spec import RollbackTarget, function_spec, policy_labels, topic_name

ROOT = Path(__file__).resolve().parents[2]
INCIDENT = json.loads((ROOT / "tests/data/monitoring_incident_v1_2.json").read_text())
PROJECT, STACK = "acme-ml-prod", "hybrid-prod"
REQUIRED = os.environ.get("MLINFRA_REQUIRE_PUBSUB_EMULATOR") == "1"

functions_framework = pytest.importorskip("functions_framework", reason="functions-framework is not installed: run `make install`")


def unavailable(why: str):
    if REQUIRED:
        pytest.fail(f"{why}; MLINFRA_REQUIRE_PUBSUB_EMULATOR=1 forbids skipping the emulator tests")
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, method: str = "POST", body: dict | None = None) -> dict:
    request = urllib.request.Request(url, method=method, data=json.dumps(body or {}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


@pytest.fixture(scope="module")
def emulator():
    """The Pub/Sub emulator on a free loopback port, in its own process group (gcloud starts Java)."""
    if shutil.which("gcloud") is None:
        unavailable("gcloud is not installed (the Pub/Sub emulator ships with it)")
    if shutil.which("java") is None:
        unavailable("java is not installed (the Pub/Sub emulator needs a JRE)")
    port = free_port()
    process = subprocess.Popen(["gcloud", "beta", "emulators", "pubsub", "start", f"--host-port=127.0.0.1:{port}",
                                f"--project={PROJECT}", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}/v1/projects/{PROJECT}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                call(f"{base}/topics", method="GET")
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode(errors="replace")[-2000:] if process.poll() is not None else ""
                    unavailable(f"the Pub/Sub emulator did not start: {output or 'timed out'}")
                time.sleep(0.5)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


class GitHub(BaseHTTPRequestHandler):
    """Records each request; answers with the status at the head of `statuses` (then 204)."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append({"method": "POST", "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                     "body": json.loads(body)})
        status = self.server.statuses.pop(0) if self.server.statuses else 204
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def github():
    server = ThreadingHTTPServer(("127.0.0.1", 0), GitHub)
    server.requests, server.statuses = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def subscription(emulator):
    """A fresh topic (the rollback topic's name, made unique per test) and a pull subscription on it."""
    topic = f"{topic_name(STACK)}-{uuid.uuid4().hex[:8]}"
    call(f"{emulator}/topics/{topic}", method="PUT")
    name = f"{topic}-sub"
    call(f"{emulator}/subscriptions/{name}", method="PUT",
         body={"topic": f"projects/{PROJECT}/topics/{topic}", "ackDeadlineSeconds": 10})
    return emulator, topic, name


@pytest.fixture
def configured(github, monkeypatch):
    """The function's environment as the stack sets it, the token arriving from Secret Manager."""
    spec = function_spec([RollbackTarget("ranker", "acme/ml-platform", "propose-rollout.yml", "main",
                                         "mlinfra-github-dispatch-token")], STACK)
    for key, value in spec.env.items():
        monkeypatch.setenv(key, value)
    (secret,) = spec.secrets
    monkeypatch.setenv(secret.env, "github_pat_fine_grained_test")
    monkeypatch.setenv("GITHUB_API", f"http://127.0.0.1:{github.server_address[1]}")
    return spec


def publish_and_pull(subscription, incident: dict) -> list[dict]:
    base, topic, name = subscription
    data = base64.b64encode(json.dumps(incident).encode()).decode()
    call(f"{base}/topics/{topic}:publish", body={"messages": [{"data": data}]})
    for _ in range(20):
        received = call(f"{base}/subscriptions/{name}:pull", body={"maxMessages": 10}).get("receivedMessages", [])
        if received:
            return received
        time.sleep(0.25)
    raise AssertionError("the emulator delivered nothing")


def deliver(received: dict, subscription) -> int:
    """Call the function as Eventarc delivers a Pub/Sub message: a messagePublished CloudEvent."""
    base, topic, name = subscription
    app = functions_framework.create_app(target="handle", source=str(ROOT / "functions/auto_rollback/main.py"),
                                         signature_type="cloudevent")
    headers = {"ce-specversion": "1.0", "ce-id": received["message"]["messageId"],
               "ce-source": f"//pubsub.googleapis.com/projects/{PROJECT}/topics/{topic}",
               "ce-type": "google.cloud.pubsub.topic.v1.messagePublished", "Content-Type": "application/json"}
    data = {"message": received["message"], "subscription": f"projects/{PROJECT}/subscriptions/{name}"}
    return app.test_client().post("/", headers=headers, data=json.dumps(data)).status_code


def ack(subscription, received: list[dict]) -> None:
    base, _, name = subscription
    call(f"{base}/subscriptions/{name}:acknowledge", body={"ackIds": [r["ackId"] for r in received]})


def incident(**changes) -> dict:
    payload = copy.deepcopy(INCIDENT)
    payload["incident"].update(changes)
    return payload


def test_the_fixture_is_labelled_as_the_stack_labels_a_fast_burn_policy():
    labels = INCIDENT["incident"]["policy_user_labels"]
    assert policy_labels("ranker").items() <= labels.items()


def test_an_opened_incident_of_a_labelled_policy_dispatches_the_abort(subscription, github, configured, capsys):
    received = publish_and_pull(subscription, INCIDENT)
    assert deliver(received[0], subscription) == 200
    ack(subscription, received)
    (request,) = github.requests
    assert request["path"] == "/repos/acme/ml-platform/actions/workflows/propose-rollout.yml/dispatches"
    assert request["headers"]["authorization"] == "Bearer github_pat_fine_grained_test"
    assert request["headers"]["accept"] == "application/vnd.github+json"
    assert request["headers"]["x-github-api-version"] == "2022-11-28"
    incident_ = INCIDENT["incident"]
    assert request["body"] == {"ref": "main", "inputs": {
        "stack": STACK, "service": "ranker", "action": "abort",
        "reason": f"Cloud Monitoring incident 0.opqiw61fsv7p opened: policy \"{incident_['policy_name']}\" "
                  f"(burn rate above 14.4x over 3600s). {incident_['summary']} {incident_['url']}"}}
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record == {"severity": "NOTICE", "message": "canary rollback dispatched", "dispatched": True, "status": 204,
                      "stack": STACK, "service": "ranker", "repository": "acme/ml-platform",
                      "workflow": "propose-rollout.yml", "incident": "0.opqiw61fsv7p"}


@pytest.mark.parametrize("changes, why", [
    ({"state": "closed", "ended_at": 1764652800}, "incident 0.opqiw61fsv7p is 'closed', not open"),
    ({"policy_user_labels": {"managed-by": "mlinfra"}, "policy_name": "ranker: latency error budget burning slow (6x)"},
     "policy 'ranker: latency error budget burning slow (6x)' is not labelled mlinfra-auto-rollback: canary"),
    ({"policy_user_labels": {"mlinfra-auto-rollback": "canary", "mlinfra-service": "embedder"}},
     "service 'embedder' is not one this stack rolls back (ranker)"),
], ids=["closed", "unlabelled policy", "service not guarded"])
def test_anything_else_dispatches_nothing_and_is_acknowledged(subscription, github, configured, capsys, changes, why):
    received = publish_and_pull(subscription, incident(**changes))
    assert deliver(received[0], subscription) == 200
    assert github.requests == []
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == \
        {"severity": "INFO", "message": "no rollback", "reason": why}


def test_a_github_outage_is_retried_by_redelivery_and_dispatches_once_it_answers(subscription, github, configured):
    github.statuses = [503]
    received = publish_and_pull(subscription, INCIDENT)
    assert deliver(received[0], subscription) == 500, "an error: Eventarc nacks, Pub/Sub delivers again"
    base, _, name = subscription
    call(f"{base}/subscriptions/{name}:modifyAckDeadline",
         body={"ackIds": [received[0]["ackId"]], "ackDeadlineSeconds": 0})
    redelivered = call(f"{base}/subscriptions/{name}:pull", body={"maxMessages": 10})["receivedMessages"]
    assert [m["message"]["messageId"] for m in redelivered] == [received[0]["message"]["messageId"]]
    assert deliver(redelivered[0], subscription) == 200
    assert [r["body"]["inputs"]["action"] for r in github.requests] == ["abort", "abort"]


def test_github_refusing_for_good_is_logged_not_retried(subscription, github, configured, capsys):
    github.statuses = [422]  # e.g. the workflow file has no workflow_dispatch, or the input is unknown
    received = publish_and_pull(subscription, INCIDENT)
    assert deliver(received[0], subscription) == 200
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (record["severity"], record["message"], record["status"], record["dispatched"]) == \
        ("ERROR", "GitHub refused the rollback dispatch", 422, False)
