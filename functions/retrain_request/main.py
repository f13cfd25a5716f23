"""Receives retraining requests published to the retrain-requests topic and logs them as
structured records (JSON body: {"model": ..., "reason": ...})."""

import base64
import json

import functions_framework


def parse(message: dict) -> dict:
    body = json.loads(base64.b64decode(message.get("data", "")) or b"{}")
    return {"severity": "NOTICE", "message": "retrain requested",
            "model": body.get("model"), "reason": body.get("reason", "unspecified")}


@functions_framework.cloud_event
def handle(event):
    print(json.dumps(parse(event.data["message"])))
