"""Runs for each object that lands in the data lake under the configured prefix.

The event arrives in one of two shapes, as the trigger's `on.storage.delivery` says:
- notification: the bucket notification publishes the object's metadata (JSON API v1) to
  Pub/Sub, and the function receives that message as a CloudEvent
  (`google.cloud.pubsub.topic.v1.messagePublished`, data `{"message": {...}}`);
- eventarc: Cloud Storage's own `google.cloud.storage.object.v1.finalized` CloudEvent, whose
  data is the object's metadata itself.
Either way it logs a structured record of the upload.
"""

import base64
import json

import functions_framework

STORAGE_FINALIZED = "google.cloud.storage.object.v1.finalized"


def describe(message: dict) -> dict:
    """The upload as a log record, from the Pub/Sub message the bucket notification sent."""
    attributes = message.get("attributes", {})
    payload = json.loads(base64.b64decode(message.get("data", "")) or b"{}")
    return {
        "severity": "INFO",
        "message": "object uploaded",
        "bucket": attributes.get("bucketId", payload.get("bucket")),
        "object": attributes.get("objectId", payload.get("name")),
        "event": attributes.get("eventType"),
        "size": int(payload.get("size", 0)),
        "contentType": payload.get("contentType"),
    }


def describe_object(event_type: str, data: dict) -> dict:
    """The upload as a log record, from a Cloud Storage CloudEvent (data: the object)."""
    return {
        "severity": "INFO",
        "message": "object uploaded",
        "bucket": data.get("bucket"),
        "object": data.get("name"),
        "event": event_type,
        "size": int(data.get("size", 0)),
        "contentType": data.get("contentType"),
    }


@functions_framework.cloud_event
def handle(event):
    if event["type"] == STORAGE_FINALIZED:
        print(json.dumps(describe_object(event["type"], event.data)))
    else:
        print(json.dumps(describe(event.data["message"])))
