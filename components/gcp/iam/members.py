"""IAM member strings and service-account ids, as IAM checks them in setIamPolicy and
serviceAccounts.create.

Sources (checked 2026-12-01):
- https://cloud.google.com/iam/docs/principal-identifiers (every member form)
- https://cloud.google.com/iam/docs/service-account-overview and
  https://cloud.google.com/iam/docs/service-accounts-create (account id: 6-30 characters,
  `^[a-z]([-a-z0-9]*[a-z0-9])$`; emails `ID@PROJECT.iam.gserviceaccount.com`; default and
  Google-managed accounts under `developer.`, `appspot.`, `cloudbuild.gserviceaccount.com` and
  service agents `service-NUMBER@gcp-sa-*.iam.gserviceaccount.com`)
`allUsers` and `allAuthenticatedUsers` are valid but make a resource public: they are reported
unless the caller passes allow_public=True.
"""

from __future__ import annotations

import re

from components.core.issues import Issue, one_of

PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
EMAIL_KINDS = ("user", "group", "serviceAccount")
KINDS = EMAIL_KINDS + ("domain", "principal", "principalSet", "deleted", "projectOwner", "projectEditor",
                       "projectViewer")
ACCOUNT_ID = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])$")
ACCOUNT_ID_MIN, ACCOUNT_ID_MAX = 6, 30

_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_DOMAIN = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_PRINCIPAL_HOSTS = ("iam.googleapis.com/", "cloudresourcemanager.googleapis.com/")
_PROJECT_IN_PATH = re.compile(r"/projects/([^/]+)/")
_FORMS = ("user:EMAIL, group:EMAIL, serviceAccount:EMAIL, domain:DOMAIN, principal://iam.googleapis.com/..., "
          "principalSet://iam.googleapis.com/...")


def is_public_member(member: str) -> bool:
    return member in PUBLIC_MEMBERS


def service_account_id_issues(account_id: str, key: tuple = ("accountId",)) -> list[Issue]:
    """A service-account id (the part before @): 6-30 lowercase letters, digits and hyphens."""
    text = str(account_id)
    allowed = f"{ACCOUNT_ID_MIN}-{ACCOUNT_ID_MAX} lowercase letters, digits and -, starting with a letter, " \
              "not ending with -"
    if "@" in text:
        return [Issue(key, "is an email; a service-account id is the part before @", account_id, allowed=allowed,
                      fix=f"write {text.split('@', 1)[0]!r}")]
    issues = []
    if not ACCOUNT_ID_MIN <= len(text) <= ACCOUNT_ID_MAX:
        issues.append(Issue(key, f"service-account ids are {ACCOUNT_ID_MIN} to {ACCOUNT_ID_MAX} characters; this one "
                            f"has {len(text)}", account_id, allowed=allowed,
                            fix="shorten it" if len(text) > ACCOUNT_ID_MAX else "lengthen it, e.g. add -sa"))
    if not ACCOUNT_ID.match(text):
        clean = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
        clean = clean if clean[:1].isalpha() else f"sa-{clean}"
        issues.append(Issue(key, "is not a service-account id", account_id, allowed=allowed,
                            fix=f"rename it, e.g. {clean[:ACCOUNT_ID_MAX].rstrip('-')!r}"))
    return issues


def iam_member_issues(member: str, key: tuple = ("member",), allow_public: bool = False) -> list[Issue]:
    """What IAM would reject in a member string, and public members unless `allow_public`."""
    text = str(member)
    if text in PUBLIC_MEMBERS:
        if allow_public:
            return []
        return [Issue(key, f"{text} makes the resource public: "
                      + ("anyone on the internet" if text == "allUsers" else "any signed-in Google account")
                      + " gets the role", member, allowed=_FORMS,
                      fix="grant the role to specific principals, or allow public access explicitly where it is meant")]
    if text.lower() in (m.lower() for m in PUBLIC_MEMBERS):
        right = next(m for m in PUBLIC_MEMBERS if m.lower() == text.lower())
        return [Issue(key, "member names are case-sensitive", member, allowed=one_of(PUBLIC_MEMBERS),
                      fix=f"write {right!r}")]
    if text.startswith(("principal://", "principalSet://")):
        return _principal_issues(text, key)
    kind, sep, rest = text.partition(":")
    if not sep:
        fix = "prefix it with user:, group: or serviceAccount:" if _EMAIL.match(text) else f"write one of: {_FORMS}"
        if text.endswith("gserviceaccount.com"):
            fix = f"write 'serviceAccount:{text}'"
        return [Issue(key, "has no member type prefix", member, allowed=_FORMS, fix=fix)]
    if kind not in KINDS:
        right = next((k for k in KINDS if k.lower() == kind.lower()), None)
        fix = f"write {right + ':' + rest!r}" if right else f"use one of the member types: {one_of(KINDS)}"
        return [Issue(key, f"{kind!r} is not an IAM member type (they are case-sensitive)", member, allowed=_FORMS,
                      fix=fix)]
    if kind in ("deleted", "projectOwner", "projectEditor", "projectViewer"):
        return []
    if kind == "domain":
        if not _DOMAIN.match(rest):
            return [Issue(key, "domain: takes a domain name", member, allowed="domain:example.com",
                          fix="write the Google Workspace or Cloud Identity domain, e.g. domain:example.com")]
        return []
    if not _EMAIL.match(rest):
        return [Issue(key, f"{kind}: takes an email address", member, allowed=f"{kind}:name@example.com",
                      fix=f"write {kind}:EMAIL")]
    domain = rest.split("@", 1)[1].lower()
    is_sa_email = domain.endswith(".gserviceaccount.com")
    if kind != "serviceAccount" and is_sa_email:
        return [Issue(key, f"{rest} is a service account, not a {kind}", member, allowed=_FORMS,
                      fix=f"write 'serviceAccount:{rest}'")]
    if kind == "serviceAccount":
        if not is_sa_email:
            return [Issue(key, "service-account emails end in .gserviceaccount.com", member,
                          allowed="serviceAccount:ID@PROJECT.iam.gserviceaccount.com",
                          fix="use the account's email, or user:/group: for a person or a group")]
        local = rest.split("@", 1)[0]
        if domain.endswith(".iam.gserviceaccount.com") and not domain.startswith("gcp-sa-") \
                and not local.startswith("service-") and service_account_id_issues(local):
            return [Issue(key, f"{local!r} is not a service-account id", member,
                          allowed="serviceAccount:ID@PROJECT.iam.gserviceaccount.com, ID 6-30 of [a-z0-9-]",
                          fix="check the account's email (`gcloud iam service-accounts list`)")]
    return []


def _principal_issues(text: str, key: tuple) -> list[Issue]:
    scheme, rest = text.split("://", 1)
    allowed = f"{scheme}://iam.googleapis.com/projects/PROJECT_NUMBER/locations/global/workloadIdentityPools/..."
    if not rest.startswith(_PRINCIPAL_HOSTS):
        return [Issue(key, f"{scheme} identifiers live under iam.googleapis.com", text, allowed=allowed,
                      fix=f"write {scheme}://iam.googleapis.com/...")]
    project = _PROJECT_IN_PATH.search("/" + rest.split("/", 1)[1] if "/" in rest else "")
    if project and not project.group(1).isdigit():
        return [Issue(key, f"names project {project.group(1)!r} by id; principal identifiers take the project number",
                      text, allowed=allowed,
                      fix=f"replace {project.group(1)} with its number (`gcloud projects describe {project.group(1)} "
                          "--format='value(projectNumber)'`)")]
    if scheme == "principal" and "/subject/" not in rest:
        return [Issue(key, "a principal:// identifier names one subject (.../subject/SUBJECT)", text,
                      allowed=allowed + "/subject/SUBJECT",
                      fix="add /subject/SUBJECT, or use principalSet:// for a group of identities")]
    if rest.endswith("/") or "//" in rest:
        return [Issue(key, "has an empty path segment", text, allowed=allowed, fix="remove the stray /")]
    return []
