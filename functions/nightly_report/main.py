"""Called by Cloud Scheduler every night (OIDC-authenticated POST): logs a heartbeat record
that a log-based metric or alert can count; replace the body with the report you need."""

import datetime
import json

import functions_framework


@functions_framework.http
def handle(request):
    record = {"severity": "INFO", "message": "nightly report",
              "at": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    print(json.dumps(record))
    return record, 200
