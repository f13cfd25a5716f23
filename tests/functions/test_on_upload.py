"""functions/on_upload served by the Functions Framework (as Cloud Functions runs it), called with
both event shapes a storage trigger can deliver: the bucket notification's Pub/Sub message and
Cloud Storage's own finalized CloudEvent (`on.storage.delivery: eventarc`)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

functions_framework = pytest.importorskip("functions_framework", reason="functions-framework is not installed: run `make install`")

OBJECT = {"bucket": "acme-ml-dev-dev-data-lake", "name": "uploads/day/a.csv", "size": "1234", "contentType": "text/csv"}


def call(event_type: str, source: str, data: dict, capsys) -> dict:
    app = functions_framework.create_app(target="handle", source=str(ROOT / "functions/on_upload/main.py"),
                                         signature_type="cloudevent")
    headers = {"ce-specversion": "1.0", "ce-id": "1", "ce-source": source, "ce-type": event_type,
               "Content-Type": "application/json"}
    response = app.test_client().post("/", headers=headers, data=json.dumps(data))
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_a_notification_through_pubsub_is_logged_from_the_message(capsys):
    message = {"attributes": {"bucketId": OBJECT["bucket"], "objectId": OBJECT["name"], "eventType": "OBJECT_FINALIZE"},
               "data": base64.b64encode(json.dumps(OBJECT).encode()).decode()}
    record = call("google.cloud.pubsub.topic.v1.messagePublished", "//pubsub.googleapis.com/projects/p/topics/t",
                  {"message": message, "subscription": "projects/p/subscriptions/s"}, capsys)
    assert record == {"severity": "INFO", "message": "object uploaded", "bucket": OBJECT["bucket"],
                      "object": OBJECT["name"], "event": "OBJECT_FINALIZE", "size": 1234, "contentType": "text/csv"}


def test_cloud_storages_finalized_event_is_logged_from_the_object(capsys):
    record = call("google.cloud.storage.object.v1.finalized",
                  f"//storage.googleapis.com/projects/_/buckets/{OBJECT['bucket']}", OBJECT, capsys)
    assert record == {"severity": "INFO", "message": "object uploaded", "bucket": OBJECT["bucket"],
                      "object": OBJECT["name"], "event": "google.cloud.storage.object.v1.finalized", "size": 1234,
                      "contentType": "text/csv"}
