"""Every rule's issue names the bad value, what is allowed and the fix."""

from __future__ import annotations

import pytest

from components.core import images, names, schedules
from components.gcp.compute import disk_types, machine_types, regions
from components.gcp.iam import members
from components.gcp.pubsub import names as pubsub
from components.gcp.storage import locations, names as buckets

BROKEN = [
    lambda: regions.region_issues("us-centrl1"), lambda: regions.zone_issues("us-central1-z"),
    lambda: machine_types.machine_type_issues("n2-standard-6"), lambda: machine_types.machine_type_issues("x9-a-1"),
    lambda: machine_types.machine_type_issues("n2-custom-3-4096"),
    lambda: disk_types.disk_type_issues("pd-ssd", "c4-standard-8"), lambda: disk_types.disk_type_issues("nvme"),
    lambda: locations.location_issues("mars1"), lambda: locations.location_issues("US", ["us-east1"]),
    lambda: buckets.bucket_name_issues("Bad Bucket"), lambda: buckets.bucket_name_issues("google-data"),
    lambda: pubsub.topic_name_issues("1x"), lambda: members.iam_member_issues("alice"),
    lambda: members.iam_member_issues("allUsers"), lambda: members.service_account_id_issues("SA"),
    lambda: schedules.cron_issues("61 * * * *"), lambda: schedules.cron_issues("@weekly"),
    lambda: schedules.time_zone_issues("Mars/Olympus"), lambda: schedules.recurrence_issues("FREQ=WEEKLY;BYDAY=XX"),
    lambda: images.image_issues("Acme/Model"), lambda: names.label_key_issues("Key"),
    lambda: names.label_value_issues("Value"), lambda: names.labels_issues({str(i): "" for i in range(65)}),
    lambda: names.stack_name_issues("a b"), lambda: names.gke_cluster_name_issues("-x"),
    lambda: names.run_service_name_issues("A"), lambda: names.function_name_issues("_f"),
    lambda: names.serverless_name_clashes([("a", "r")], [("A", "r")]),
]


@pytest.mark.parametrize("broken", BROKEN, ids=range(len(BROKEN)))
def test_every_issue_names_the_value_what_is_allowed_and_the_fix(broken):
    issues = broken()
    assert issues
    for issue in issues:
        assert issue.has_value and issue.allowed and issue.fix and issue.path
