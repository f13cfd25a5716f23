"""Cloud Storage bucket names, as the API checks them when the bucket is created.

Source: https://cloud.google.com/storage/docs/buckets#naming ("Bucket naming requirements"),
checked 2026-12-01: lowercase letters, digits, `-`, `_` and `.`; start and end with a letter or
digit; 3 to 63 characters, or up to 222 with dots, each dot-separated part at most 63; not an
IP address in dotted-decimal notation; no `goog` prefix; no `google` or close misspellings
(Google's example: `g00gle`). Bucket names are global: one taken by anyone fails at apply time,
which no local check can see. A dotted name needs the domain verified (`needs_domain_verification`).
"""

from __future__ import annotations

import ipaddress
import re

from components.core.issues import Issue

_CHARS = re.compile(r"^[a-z0-9._-]+$")
# google with digits for letters or doubled letters: g00gle, googgle, gooogle, g0og1e.
_GOOGLE = re.compile(r"g[o0]{2,3}g{1,2}[l1i]{1,2}[e3]")
MAX, MAX_DOTTED, MAX_PART = 63, 222, 63


def needs_domain_verification(name: str) -> bool:
    """A bucket name with dots must be a domain the caller has verified with Google."""
    return "." in name


def bucket_name_issues(name: str, key: tuple = ("name",)) -> list[Issue]:
    """Every Cloud Storage naming rule the name breaks (the first per kind)."""
    text = str(name)
    allowed = ("3-63 lowercase letters, digits, -, _ and . (up to 222 with dots, each part at most 63), "
               "starting and ending with a letter or digit")
    suggestion = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-_.") or "my-bucket"
    if not _CHARS.match(text):
        bad = sorted(set(re.sub(r"[a-z0-9._-]", "", text)))
        return [Issue(key, f"bucket names may not contain {' '.join(repr(c) for c in bad) or 'nothing'}", name,
                      allowed=allowed, fix=f"rename it, e.g. {suggestion!r}")]
    issues = []
    dotted = "." in text
    limit = MAX_DOTTED if dotted else MAX
    if not 3 <= len(text) <= limit:
        issues.append(Issue(key, f"bucket names are 3 to {limit} characters{' with dots' if dotted else ''}; "
                            f"this one has {len(text)}", name, allowed=allowed,
                            fix="shorten it" if len(text) > limit else "lengthen it to at least 3 characters"))
    if not (text[:1].isalnum() and text[-1:].isalnum()):
        issues.append(Issue(key, "bucket names start and end with a letter or digit", name, allowed=allowed,
                            fix=f"rename it, e.g. {text.strip('-_.')!r}"))
    long_parts = [p for p in text.split(".") if len(p) > MAX_PART]
    if dotted and long_parts:
        issues.append(Issue(key, f"each dot-separated part of a bucket name is at most {MAX_PART} characters; "
                            f"{long_parts[0][:20]}... has {len(long_parts[0])}", name, allowed=allowed,
                            fix="split the long part with dots or shorten it"))
    if dotted and not all(text.split(".")):
        issues.append(Issue(key, "bucket names may not have empty parts between dots", name, allowed=allowed,
                            fix=f"write {re.sub(r'[.]{2,}', '.', text)!r}"))
    try:
        ipaddress.IPv4Address(text)
        issues.append(Issue(key, "bucket names may not be an IP address in dotted-decimal notation", name,
                            allowed=allowed, fix="use a name with letters in it"))
    except ValueError:
        pass
    if text.startswith("goog"):
        issues.append(Issue(key, "bucket names may not start with 'goog'", name, allowed=allowed,
                            fix="choose a name without the goog prefix"))
    elif _GOOGLE.search(text):
        issues.append(Issue(key, "bucket names may not contain 'google' or a close misspelling of it", name,
                            allowed=allowed, fix=f"remove {_GOOGLE.search(text).group(0)!r} from the name"))
    return issues
