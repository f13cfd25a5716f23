"""Runs for each object that lands in the data lake under the configured prefix.

The bucket notification publishes the object's metadata (JSON API v1) to Pub/Sub; this
function receives that message as a CloudEvent and logs a structured record of the upload.
"""

import base64
import json

import functions_framework


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


@functions_framework.cloud_event
def handle(event):
    print(json.dumps(describe(event.data["message"])))
