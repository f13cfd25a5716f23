"""Cloud Run revisions of a model server: named from the model version and a fingerprint of
everything that shapes the revision template, and the traffic split between stable and canary.

Plain functions: the tests call them without any Pulumi machinery.
"""

from __future__ import annotations

import hashlib
import json
from typing import Optional

from components.core.naming import dns_name, revision_suffix
from components.gcp.cloudrun.cloud_run_service_spec import CloudRunServiceSpec

# Bump when the template this module builds changes shape, so new revisions get new names.
TEMPLATE_VERSION = 1


def revision_name(service_name: str, variant: CloudRunServiceSpec, context: Optional[dict] = None) -> str:
    """`<service>-v<version>-<fingerprint>`. The fingerprint covers everything that shapes the
    revision template (the spec, the resolved runtime launch, egress, the model bucket), so the
    same settings give the same name, and Cloud Run never sees one name with two templates."""
    # Only what shapes the revision template: names, traffic, access and objectives do not. A new
    # spec field changes every fingerprint (its default joins the dump), which would rename the
    # stable revision of a running canary: add fields that do not shape the template here (the
    # golden snapshots show any rename). `extraArgs` shapes it through the launch's args.
    settings = variant.model_dump(mode="json", exclude={"name", "rollout", "public", "invokers", "ingress", "slo",
                                                        "load_balancer", "extra_args", "cache", "service_name",
                                                        "service_account", "protocol", "logging"})
    if variant.service_account:  # the account shapes the template; its absence keeps the names revisions had
        settings["service_account"] = variant.service_account
    if variant.protocol != "http":  # HTTP/2 and its probes shape the template; http keeps the names it had
        settings["protocol"] = variant.protocol
    if variant.cache:  # the cache's variables shape the template; its absence keeps the names it had
        settings["cache"] = True
    if variant.logging:  # its variables shape the template (the drift job does not); its absence keeps the names
        settings["logging"] = {"sampleRate": variant.logging.sample_rate, "service": variant.name}
    if settings.get("model"):
        # Model keys at their defaults keep the names revisions had before the keys existed.
        settings["model"] = variant.model.model_dump(mode="json", exclude_defaults=True,
                                                     exclude={"uri", "version"}) | {
            "uri": variant.model.uri, "version": variant.model.version}
    run = variant.launch(gpu=variant.resources.gpu is not None)
    payload = {"spec": settings, "launch": run.__dict__, "context": context or {}, "template": TEMPLATE_VERSION}
    fingerprint = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:6]
    return dns_name(service_name, revision_suffix(variant.version), fingerprint, max_len=63)


def traffic_split(service_name: str, spec: CloudRunServiceSpec,
                  context: Optional[dict] = None) -> list[tuple[str, int, str]]:
    """[(revision, percent, tag)]: stable, then the canary (by its percent), then the extra tagged
    revisions of `rollout.tags`; stable gets what the others leave of 100.

    While a canary runs, change only the canary: any other edit changes the stable settings'
    revision name too, so pin the deployed one with `rollout.stableRevision`."""
    canary, tags = spec.rollout.canary, spec.rollout.tags
    stable = revision_name(service_name, spec.variant(canary=False), context)
    extra = [(t.revision, t.percent, t.tag) for t in tags]
    others = sum(t.percent for t in tags)
    if canary is None:
        return [(stable, 100 - others, "stable")] + extra
    stable = spec.rollout.stable_revision or stable
    return [(stable, 100 - canary.percent - others, "stable"),
            (revision_name(service_name, spec.variant(canary=True), context), canary.percent, "canary")] + extra


def template_revision(split: list[tuple[str, int, str]]) -> str:
    """The revision the service's template creates: the canary's while one runs, else stable's
    (tagged revisions exist already)."""
    tracks = {tag: rev for rev, _, tag in split}
    return tracks.get("canary", tracks["stable"])
