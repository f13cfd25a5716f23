"""OCI image references (`[host[:port]/]path[:tag][@digest]`), as container runtimes and the
Cloud Run / GKE APIs parse them. A space, `$VAR` or an uppercase path component fails only when
a node or revision tries to pull the image.

Source: the OCI distribution reference grammar,
https://github.com/distribution/reference/blob/main/reference.go (doc comment), and
https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests, checked 2026-12-01.
The rules are written from the grammar, not copied: path components are lowercase
alphanumerics joined by `.`, `_`, `__` or dashes; a tag is `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`;
a digest is `algorithm:hex` (sha256: 64 hex digits, sha512: 128); the name is at most 255.
"""

from __future__ import annotations

import re

from components.core.issues import Issue

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
                   r"|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^(?P<alg>[a-z0-9]+(?:[+._-][a-z0-9]+)*):(?P<hex>[A-Za-z0-9=_-]+)$")
_HEX_LENGTHS = {"sha256": 64, "sha512": 128}
_SHELL = re.compile(r"[\s$`;|&<>(){}\\\"'*?!]")
MAX_NAME = 255
_ALLOWED = "[HOST[:PORT]/]lowercase/path[:TAG][@sha256:64-hex-digits], e.g. us-docker.pkg.dev/acme/ml/server:1.4.2"


def split_reference(ref: str) -> tuple[str | None, str, str | None, str | None]:
    """(registry host or None, repository path, tag or None, digest or None)."""
    rest, _, digest = ref.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    tag = None
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return first, remainder, tag, digest or None
    return None, rest, tag, digest or None


def has_tag_or_digest(ref: str) -> bool:
    """Whether the reference pins a tag or a digest (without either, runtimes pull :latest)."""
    _, _, tag, digest = split_reference(str(ref).strip())
    return bool(tag or digest)


def image_issues(ref: str, key: tuple = ("image",)) -> list[Issue]:
    """What a registry or runtime would reject about an image reference."""
    text = str(ref)
    def bad(message: str, fix: str) -> list[Issue]:
        return [Issue(key, message, ref, allowed=_ALLOWED, fix=fix)]
    if not text.strip():
        return bad("is empty", "name the image, e.g. us-docker.pkg.dev/acme/ml/server:1.4.2")
    shell = _SHELL.search(text)
    if shell:
        what = "a space" if shell.group(0).isspace() else repr(shell.group(0))
        return bad(f"contains {what}: image references have no spaces or shell syntax, and nothing expands $VARS",
                   "write the literal reference; put variable parts in the stack file, not in the image string")
    scheme = re.match(r"^[a-z]+://", text)
    if scheme:
        return bad(f"starts with {scheme.group(0)}; image references have no scheme",
                   f"write {text[len(scheme.group(0)):]!r}")
    host, path, tag, digest = split_reference(text)
    if host is not None and not _HOST.match(host):
        return bad(f"registry host {host!r} is not a host name or host:port",
                   "fix the registry host, e.g. us-docker.pkg.dev")
    if not path:
        return bad("has no repository path", "add the repository, e.g. HOST/project/repo/image")
    for component in path.split("/"):
        if not component:
            return bad("has an empty path component (//)", f"write {re.sub('/{2,}', '/', text)!r}")
        if not _COMPONENT.match(component):
            lower = component.lower()
            fix = f"write the path in lowercase ({lower!r})" if _COMPONENT.match(lower) else \
                "use lowercase letters and digits, joined by ., _, __ or -"
            return bad(f"path component {component!r} is not lowercase alphanumerics joined by ., _, __ or -", fix)
    name = f"{host}/{path}" if host else path
    if len(name) > MAX_NAME:
        return bad(f"the repository name has {len(name)} characters; at most {MAX_NAME}", "shorten the repository path")
    if tag is not None and not _TAG.match(tag):
        return bad(f"tag {tag!r} is not valid: up to 128 of letters, digits, _, . and -, not starting with . or -",
                   "use a tag such as 1.4.2 or v20261201")
    if digest is not None:
        match = _DIGEST.match(digest)
        if not match:
            return bad(f"digest {digest!r} is not ALGORITHM:HEX", "write @sha256: followed by 64 hex digits")
        want = _HEX_LENGTHS.get(match.group("alg"))
        hexpart = match.group("hex")
        if want and (len(hexpart) != want or not re.fullmatch(r"[0-9a-f]+", hexpart)):
            return bad(f"a {match.group('alg')} digest is {want} lowercase hex digits; this one has {len(hexpart)} "
                       "characters", "copy the full digest (`gcloud artifacts docker images describe IMAGE`)")
    return []
