"""Schedules: cron lines for Cloud Scheduler and Kubernetes CronJobs, IANA time zones, and the
RFC 5545 recurrence rules of GKE maintenance windows.

Sources (checked 2026-12-01):
- Cloud Scheduler unix-cron: https://cloud.google.com/scheduler/docs/configuring/cron-job-schedules
  (5 fields; `*`, lists, ranges, steps; month and weekday names as three uppercase letters;
  day of week 0-6 or 7 for Sunday; no `L`, no macros, no `?`). The page's "alternative job
  format" (App Engine style, `every 5 minutes`, `1st monday of month 09:00`) is accepted as is.
- Kubernetes CronJob: https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/
  (5 fields or @yearly/@annually/@monthly/@weekly/@daily/@midnight/@hourly; `?` means `*`;
  TZ= / CRON_TZ= in the schedule are rejected: use spec.timeZone). The controller parses with
  robfig/cron, whose day of week is 0-6: `7` is an error there, unlike unix-cron.
- Time zones: the IANA database of the pinned `tzdata` package (requirements.txt), so every
  machine sees the same table.
- Recurrence: RFC 5545 section 3.3.10 (RECUR), as GKE's RecurringTimeWindow.recurrence takes it
  (https://cloud.google.com/kubernetes-engine/docs/reference/rest/v1/projects.locations.clusters,
  whose examples are FREQ=DAILY, FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR and
  FREQ=MONTHLY;BYSETPOS=1;BYDAY=SA,SU); the rule alone, without the `RRULE:` property name.
"""

from __future__ import annotations

import calendar
import difflib
import re
from functools import lru_cache
from importlib import resources
from typing import Literal

from components.core.issues import Issue, one_of

Dialect = Literal["scheduler", "kubernetes"]
CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (field, low, high, names for low..): day-of-week high is per dialect.
_FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day of month", 1, 31, ()), ("month", 1, 12, MONTHS),
           ("day of week", 0, 6, WEEKDAYS))
_DOW_HIGH = {"scheduler": 7, "kubernetes": 6}
_PART = re.compile(r"^(?P<base>\*|\?|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:/(?P<step>[^/]*))?$")
_GO_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
_EXAMPLE = '"0 4 * * 1" (04:00 every Monday), "*/15 * * * *" (every 15 minutes)'
# Cloud Scheduler's App Engine style schedules start with `every` or an ordinal.
_ALTERNATIVE = re.compile(r"^(every|\d+(st|nd|rd|th)|first|second|third|fourth|fifth)\b", re.IGNORECASE)


def cron_issues(expr: str, dialect: Dialect = "scheduler", key: tuple = ("schedule",)) -> list[Issue]:
    """A cron line as Cloud Scheduler (`scheduler`) or the CronJob controller (`kubernetes`) reads it."""
    text = str(expr).strip()
    where = "Cloud Scheduler" if dialect == "scheduler" else "a Kubernetes CronJob"
    if text.startswith(("TZ=", "CRON_TZ=")):
        field = "timeZone" if dialect == "kubernetes" else "timeZone (the job's time_zone)"
        return [Issue(key, f"{where} schedule cannot carry a time zone", expr, allowed=_EXAMPLE,
                      fix=f"move the zone to {field} and keep 5 fields")]
    if dialect == "scheduler" and _ALTERNATIVE.match(text):
        return []
    if text.startswith("@"):
        if dialect == "kubernetes" and (text in CRON_MACROS or
                                        (text.startswith("@every ") and _GO_DURATION.match(text[7:].strip()))):
            return []
        allowed = one_of(CRON_MACROS) if dialect == "kubernetes" else "5 fields only (no macros)"
        fix = "write the 5-field equivalent, e.g. \"0 0 * * *\" for @daily" if dialect == "scheduler" \
            else f"use one of {one_of(CRON_MACROS)} or 5 fields"
        return [Issue(key, f"{text.split()[0]} is not a schedule macro {where} accepts", expr, allowed=allowed,
                      fix=fix)]
    fields = text.split()
    if len(fields) != 5:
        return [Issue(key, f"has {len(fields)} fields; cron needs 5 (minute hour day-of-month month day-of-week)",
                      expr, allowed=_EXAMPLE + (f", or {one_of(CRON_MACROS)}" if dialect == "kubernetes" else ""),
                      fix="write 5 space-separated fields" + (" (no seconds or year field)" if len(fields) > 5 else ""))]
    values: list[set[int]] = []
    for value, (what, low, high, names) in zip(fields, _FIELDS):
        if what == "day of week":
            high = _DOW_HIGH[dialect]
        found, problem = _field(value, low, high, names, dialect)
        if problem:
            named = f" or {names[0]}-{names[-1]}" if names else ""
            return [Issue(key, f"has an invalid {what} field {value!r}: {problem}", expr,
                          allowed=f"{what}: *, {low}-{high}{named}, lists (1,5), ranges (1-5), steps (*/15)",
                          fix=f"write the {what} from {low} to {high}")]
        values.append(found)
    dom, months = values[2], values[3]
    if fields[4] in ("*", "?") and fields[2] not in ("*", "?") and all(
            d > max(calendar.monthrange(2024, m)[1] for m in months) for d in dom):
        return [Issue(key, "never runs: no chosen month has the chosen day of month", expr,
                      allowed="days that exist in the chosen months (February has 29 at most)",
                      fix="pick a day of month that the months have, or other months")]
    return []


def _field(value: str, low: int, high: int, names: tuple[str, ...], dialect: str) -> tuple[set[int], str]:
    found: set[int] = set()
    for part in value.split(","):
        match = _PART.match(part)
        if not match:
            return found, f"{part!r} is not a number, range, list or step"
        base, step = match.group("base"), match.group("step")
        if base == "?" and dialect == "scheduler":
            return found, "'?' is not unix-cron; use *"
        if step is not None and (not step.isdigit() or int(step) < 1):
            return found, f"the step {step!r} must be a positive whole number"
        if base in ("*", "?"):
            start, end = low, high
        else:
            bounds = []
            for b in base.split("-"):
                if dialect == "scheduler" and not b.isdigit() and b.upper() in names and b != b.upper():
                    return found, f"{b!r}: Cloud Scheduler takes names in uppercase ({b.upper()})"
                n = _number(b, low, names)
                if n is None or not low <= n <= high:
                    return found, f"{b!r} is outside {low}-{high}" + (f" or not one of {names[0]}..{names[-1]}"
                                                                      if names else "")
                bounds.append(n)
            start, end = bounds[0], bounds[-1] if len(bounds) > 1 else (high if step else bounds[0])
            if start > end:
                return found, f"the range {base} runs backwards"
        found.update(range(start, end + 1, int(step) if step else 1))
    return found, ""


def _number(text: str, low: int, names: tuple[str, ...]) -> int | None:
    if text.isdigit():
        return int(text)
    upper = text.upper()
    return names.index(upper) + low if upper in names else None


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    """Every IANA time-zone name in the pinned tzdata package."""
    return frozenset(resources.files("tzdata").joinpath("zones").read_text().split())


def time_zone_issues(tz: str, key: tuple = ("timeZone",)) -> list[Issue]:
    """The name must be an IANA time zone (case-sensitive, e.g. Europe/Berlin, Etc/UTC)."""
    text = str(tz)
    zones = time_zones()
    if text in zones:
        return []
    by_lower = {z.lower(): z for z in zones}
    if text.strip().lower() in by_lower:
        right = by_lower[text.strip().lower()]
        return [Issue(key, "time-zone names are case-sensitive", tz, allowed="IANA names such as Europe/Berlin",
                      fix=f"write {right}")]
    close = difflib.get_close_matches(text, sorted(zones), n=3, cutoff=0.6)
    if not close:
        close = [z for z in sorted(zones) if z.rsplit("/", 1)[-1].lower() == text.strip().replace(" ", "_").lower()]
    mean = f"did you mean {' or '.join(close)}? " if close else ""
    offset = " (UTC offsets like +02:00 are not zone names)" if re.match(r"^(UTC|GMT)?[+-]\d", text) else ""
    return [Issue(key, f"is not an IANA time zone{offset}", tz,
                  allowed="Area/Location names such as Etc/UTC, Europe/Berlin, America/New_York",
                  fix=f"{mean}use a name from the IANA time-zone database")]


# RFC 5545 RECUR: key -> (low, high) for numeric lists; FREQ, UNTIL, COUNT, INTERVAL, BYDAY, WKST apart.
FREQS = ("SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")
RRULE_DAYS = ("SU", "MO", "TU", "WE", "TH", "FR", "SA")
_RRULE_LISTS = {"BYSECOND": (0, 60, False), "BYMINUTE": (0, 59, False), "BYHOUR": (0, 23, False),
                "BYMONTHDAY": (1, 31, True), "BYYEARDAY": (1, 366, True), "BYWEEKNO": (1, 53, True),
                "BYMONTH": (1, 12, False), "BYSETPOS": (1, 366, True)}
RRULE_KEYS = ("FREQ", "UNTIL", "COUNT", "INTERVAL", "BYDAY", "WKST") + tuple(_RRULE_LISTS)
_BYDAY = re.compile(r"^(?P<n>[+-]?\d{1,2})?(?P<day>[A-Z]{2})$")
_UNTIL = re.compile(r"^\d{8}(T\d{6}Z?)?$")
_RR_EXAMPLE = "FREQ=WEEKLY;BYDAY=SA,SU or FREQ=DAILY or FREQ=MONTHLY;BYMONTHDAY=1"


def recurrence_issues(rrule: str, key: tuple = ("recurrence",)) -> list[Issue]:
    """An RFC 5545 RRULE value (no `RRULE:` prefix), as GKE maintenance windows take it."""
    text = str(rrule).strip()
    def bad(message: str, fix: str, allowed: str = _RR_EXAMPLE) -> list[Issue]:
        return [Issue(key, message, rrule, allowed=allowed, fix=fix)]
    if text.upper().startswith("RRULE:"):
        return bad("carries the RRULE: property name; GKE takes the rule alone", f"write {text[6:]!r}")
    parts: dict[str, str] = {}
    for item in filter(None, text.split(";")):
        name, sep, value = item.partition("=")
        name = name.strip().upper()
        if not sep or not value:
            return bad(f"{item!r} is not KEY=VALUE", "separate KEY=VALUE pairs with ;")
        if name not in RRULE_KEYS:
            close = difflib.get_close_matches(name, RRULE_KEYS, n=1)
            return bad(f"{name} is not an RFC 5545 recurrence key", (f"did you mean {close[0]}? " if close else "")
                       + "use only the allowed keys", allowed=one_of(RRULE_KEYS))
        if name in parts:
            return bad(f"{name} appears twice", f"keep one {name}")
        parts[name] = value.strip().upper()
    freq = parts.get("FREQ")
    if freq is None:
        return bad("has no FREQ; every recurrence rule needs one", "start with FREQ=DAILY, FREQ=WEEKLY or FREQ=MONTHLY")
    if freq not in FREQS:
        return bad(f"FREQ={freq} is not a frequency", "use FREQ=DAILY, WEEKLY or MONTHLY", allowed=one_of(FREQS))
    if "UNTIL" in parts and "COUNT" in parts:
        return bad("has both UNTIL and COUNT; RFC 5545 allows one", "keep UNTIL or COUNT, not both")
    if "UNTIL" in parts and not _UNTIL.match(parts["UNTIL"]):
        return bad(f"UNTIL={parts['UNTIL']} is not a date (YYYYMMDD) or UTC time (YYYYMMDDTHHMMSSZ)",
                   "write UNTIL=20271231T235959Z")
    for name in ("COUNT", "INTERVAL"):
        if name in parts and (not parts[name].isdigit() or int(parts[name]) < 1):
            return bad(f"{name}={parts[name]} must be a positive whole number", f"write {name}=1 or more")
    if "WKST" in parts and parts["WKST"] not in RRULE_DAYS:
        return bad(f"WKST={parts['WKST']} is not a weekday", "write WKST=MO", allowed=one_of(RRULE_DAYS))
    if "BYDAY" in parts:
        for day in parts["BYDAY"].split(","):
            match = _BYDAY.match(day)
            if not match or match.group("day") not in RRULE_DAYS:
                return bad(f"BYDAY has {day!r}, which is not a weekday", "use two-letter weekdays: BYDAY=SA,SU",
                           allowed=one_of(RRULE_DAYS))
            n = match.group("n")
            if n and freq not in ("MONTHLY", "YEARLY"):
                return bad(f"BYDAY={day} numbers a weekday, which only FREQ=MONTHLY or YEARLY allows",
                           f"drop the number ({match.group('day')}) or use FREQ=MONTHLY")
            if n and not 1 <= abs(int(n)) <= 53:
                return bad(f"BYDAY={day}: the week number must be 1 to 53 (or -53 to -1)", "write e.g. BYDAY=1SA")
    for name, (low, high, signed) in _RRULE_LISTS.items():
        for item in parts.get(name, "").split(",") if name in parts else ():
            number = item[1:] if signed and item[:1] in "+-" else item
            if not number.isdigit() or not low <= int(number) <= high:
                span = f"{low} to {high}" + (f" or -{high} to -1" if signed else "")
                return bad(f"{name} has {item!r}, outside {span}", f"write {name} values from {span}")
    if "BYWEEKNO" in parts and freq != "YEARLY":
        return bad("BYWEEKNO is only allowed with FREQ=YEARLY", "drop BYWEEKNO or use FREQ=YEARLY")
    if "BYSETPOS" in parts and not any(k.startswith("BY") and k != "BYSETPOS" for k in parts):
        return bad("BYSETPOS needs another BY... key to select from", "add e.g. BYDAY, or drop BYSETPOS")
    return []
