"""Names the clouds accept, derived deterministically from the stack's own names.

Plain functions: the tests call them without any Pulumi machinery.
"""

from __future__ import annotations

import hashlib
import re

_NOT_DNS = re.compile(r"[^a-z0-9-]+")
DNS_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def dns_name(*parts: str, max_len: int = 63) -> str:
    """Join parts into a lowercase DNS-style name; if too long, keep a hash of the whole.

    `dns_name("acme-ml-prod", "data-lake")` -> `acme-ml-prod-data-lake`. A name over `max_len`
    is cut and ends in 6 hex digits of the full name's hash, so two long names never collide.
    """
    full = "-".join(p for p in parts if p)
    name = _NOT_DNS.sub("-", full.lower()).strip("-")
    name = re.sub(r"-{2,}", "-", name)
    if len(name) <= max_len:
        return name
    head = name[: max_len - 7].rstrip("-")
    return f"{head}-{_digest(full, 6)}"


def account_id(*parts: str) -> str:
    """A service account ID: 6 to 30 characters, starting with a letter."""
    name = dns_name(*parts, max_len=30)
    if not name[:1].isalpha():
        name = dns_name("sa", name, max_len=30)
    if len(name) < 6:
        name = dns_name(name, "sa", _digest(name, 4), max_len=30)
    return name


def revision_suffix(version: str) -> str:
    """A Cloud Run revision suffix from a model version or image tag: `12` -> `v12`."""
    cleaned = _NOT_DNS.sub("-", version.lower()).strip("-")
    return dns_name(f"v{cleaned}", max_len=24)


def image_tag(image: str) -> str:
    """The tag (or short digest) of an image reference, `latest` when it has neither."""
    if "@" in image:
        return image.rsplit("@", 1)[1].split(":")[-1][:12]
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"
