"""Cron lines in both dialects, IANA time zones and RFC 5545 recurrences: each rule broken once."""

from __future__ import annotations

import zoneinfo

import pytest

from components.core.schedules import (CRON_MACROS, RRULE_KEYS, cron_issues, recurrence_issues, time_zone_issues,
                                       time_zones)


@pytest.mark.parametrize("expr", ["0 4 * * 1", "*/15 * * * *", "0 9-17/2 * * MON-FRI", "30 2 1,15 JAN,JUL *",
                                  "0 0 29 2 *", "5/10 * * * *", "0 0 * * 0,7", "every 5 minutes",
                                  "1st monday of month 09:00"])
def test_accepts_valid_scheduler_cron(expr):
    assert cron_issues(expr) == []


@pytest.mark.parametrize("expr", ["0 4 * * 1", "@daily", "@every 1h30m", "0 0 ? * MON", "*/5 * * * *",
                                  "0 0 1 jan mon"])
def test_accepts_valid_kubernetes_cron(expr):
    assert cron_issues(expr, "kubernetes") == []


def test_rejects_the_wrong_number_of_fields():
    [issue] = cron_issues("0 0 4 * * 1")
    assert issue.path == ("schedule",) and issue.value == "0 0 4 * * 1"
    assert "has 6 fields; cron needs 5" in issue.message and "no seconds or year field" in issue.fix


def test_rejects_a_value_outside_its_field():
    [issue] = cron_issues("0 24 * * *")
    assert "invalid hour field '24': '24' is outside 0-23" in issue.message
    assert issue.fix == "write the hour from 0 to 23"


def test_rejects_day_of_week_7_in_kubernetes_only():
    assert cron_issues("0 0 * * 7") == []
    [issue] = cron_issues("0 0 * * 7", "kubernetes")
    assert "day of week" in issue.message and "0-6" in issue.allowed


def test_rejects_a_zero_or_non_numeric_step():
    assert "the step '0' must be a positive whole number" in cron_issues("*/0 * * * *")[0].message
    assert "the step 'x' must be a positive whole number" in cron_issues("*/x * * * *")[0].message


def test_rejects_a_backwards_range():
    assert "the range 17-9 runs backwards" in cron_issues("0 17-9 * * *")[0].message


def test_rejects_an_unknown_name():
    [issue] = cron_issues("0 0 * FOO *")
    assert "invalid month field" in issue.message and "JAN-DEC" in issue.allowed


def test_rejects_garbage_in_a_field():
    assert "is not a number, range, list or step" in cron_issues("0 0 1-2-3 * *")[0].message


def test_rejects_question_mark_in_cloud_scheduler():
    assert "'?' is not unix-cron" in cron_issues("0 0 ? * MON")[0].message


def test_rejects_macros_in_cloud_scheduler_and_unknown_macros_in_kubernetes():
    [issue] = cron_issues("@daily")
    assert "@daily is not a schedule macro Cloud Scheduler accepts" in issue.message and "0 0 * * *" in issue.fix
    [issue] = cron_issues("@fortnightly", "kubernetes")
    assert "a Kubernetes CronJob accepts" in issue.message and CRON_MACROS[0] in issue.allowed


def test_rejects_a_time_zone_prefix():
    [issue] = cron_issues("CRON_TZ=Europe/Berlin 0 4 * * *", "kubernetes")
    assert "cannot carry a time zone" in issue.message and "timeZone" in issue.fix


def test_rejects_a_day_no_chosen_month_has():
    [issue] = cron_issues("0 0 31 2,4 *")
    assert "never runs" in issue.message


def test_time_zones_come_from_the_pinned_tzdata_and_zoneinfo_knows_them_all():
    zones = time_zones()
    assert {"Etc/UTC", "Europe/Berlin", "America/New_York"} <= zones
    assert zones <= zoneinfo.available_timezones()


def test_accepts_iana_time_zones():
    assert time_zone_issues("Europe/Berlin") == [] and time_zone_issues("Etc/UTC") == []


def test_rejects_a_time_zone_in_the_wrong_case():
    [issue] = time_zone_issues("europe/berlin")
    assert issue.path == ("timeZone",) and "case-sensitive" in issue.message and issue.fix == "write Europe/Berlin"


def test_rejects_a_misspelt_time_zone_with_a_did_you_mean():
    [issue] = time_zone_issues("Europe/Berlinn")
    assert "is not an IANA time zone" in issue.message and "did you mean Europe/Berlin" in issue.fix


def test_rejects_a_city_without_its_area_with_the_full_name():
    assert "did you mean Asia/Tokyo" in time_zone_issues("Tokyo")[0].fix


def test_rejects_a_utc_offset():
    assert "UTC offsets like +02:00 are not zone names" in time_zone_issues("UTC+02:00")[0].message


@pytest.mark.parametrize("rule", ["FREQ=WEEKLY;BYDAY=SA,SU", "FREQ=DAILY", "FREQ=MONTHLY;BYMONTHDAY=1",
                                  "FREQ=MONTHLY;BYDAY=1SA", "freq=weekly;interval=2;byday=mo",
                                  "FREQ=YEARLY;BYWEEKNO=-1;BYDAY=SU", "FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=-1",
                                  "FREQ=DAILY;UNTIL=20271231T235959Z", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
                                  "FREQ=MONTHLY;BYSETPOS=1;BYDAY=SA,SU"])
def test_accepts_valid_recurrences(rule):
    assert recurrence_issues(rule) == []


@pytest.mark.parametrize("rule,message", [
    ("RRULE:FREQ=DAILY", "carries the RRULE: property name"),
    ("FREQ=WEEKLY;BYDAY", "'BYDAY' is not KEY=VALUE"),
    ("FREQ=WEEKLY;BYDAYS=SA", "BYDAYS is not an RFC 5545 recurrence key"),
    ("FREQ=WEEKLY;FREQ=DAILY", "FREQ appears twice"),
    ("BYDAY=SA", "has no FREQ"),
    ("FREQ=FORTNIGHTLY", "FREQ=FORTNIGHTLY is not a frequency"),
    ("FREQ=DAILY;COUNT=3;UNTIL=20270101", "has both UNTIL and COUNT"),
    ("FREQ=DAILY;UNTIL=2027-01-01", "is not a date (YYYYMMDD)"),
    ("FREQ=DAILY;INTERVAL=0", "INTERVAL=0 must be a positive whole number"),
    ("FREQ=WEEKLY;WKST=XX", "WKST=XX is not a weekday"),
    ("FREQ=WEEKLY;BYDAY=SAT", "'SAT', which is not a weekday"),
    ("FREQ=WEEKLY;BYDAY=1SA", "only FREQ=MONTHLY or YEARLY allows"),
    ("FREQ=MONTHLY;BYDAY=60SA", "the week number must be 1 to 53"),
    ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY has '32', outside 1 to 31 or -31 to -1"),
    ("FREQ=DAILY;BYHOUR=-1", "BYHOUR has '-1', outside 0 to 23"),
    ("FREQ=MONTHLY;BYWEEKNO=1", "BYWEEKNO is only allowed with FREQ=YEARLY"),
    ("FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS needs another BY... key"),
])
def test_rejects_a_broken_recurrence(rule, message):
    [issue] = recurrence_issues(rule, key=("maintenance", "recurrence"))
    assert issue.path == ("maintenance", "recurrence") and issue.value == rule
    assert message in issue.message and issue.fix and issue.allowed


def test_suggests_the_closest_recurrence_key():
    assert "did you mean BYDAY" in recurrence_issues("FREQ=WEEKLY;BYDAYS=SA")[0].fix
    assert "FREQ" in RRULE_KEYS


def test_rejects_lowercase_names_in_cloud_scheduler():
    [issue] = cron_issues("0 0 * jan *")
    assert "Cloud Scheduler takes names in uppercase (JAN)" in issue.message


def test_rejects_last_day_of_month_l():
    assert "invalid day of month field 'L'" in cron_issues("0 0 L * *")[0].message
