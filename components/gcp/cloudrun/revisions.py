"""Cloud Run revisions of a model server: named from the model version and a fingerprint of
everything that shapes the revision template, and the traffic split between stable and canary.

Plain functions: the tests call them without any Pulumi machinery. What the template takes from
another resource's outputs (the cache's host, port and CA) is known only at deploy time: a server
with such values gets its names as Outputs (`revision_outputs`), fingerprinted with the values.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Optional

import pulumi

from components.core.naming import dns_name, revision_suffix
from components.gcp.cloudrun.cloud_run_service_spec import CloudRunServiceSpec

# Bump when the template this module builds changes shape, so new revisions get new names.
TEMPLATE_VERSION = 1


def revision_name(service_name: str, variant: CloudRunServiceSpec, context: Optional[dict] = None,
                  resolved: Optional[Mapping[str, Any]] = None) -> str:
    """`<service>-v<version>-<fingerprint>`. The fingerprint covers everything that shapes the
    revision template (the spec, the resolved runtime launch, egress, the model bucket and, in
    `resolved`, the deploy-time values of other resources' outputs the template holds), so the
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
    if resolved:  # only servers whose template holds such values: the others keep the names they had
        payload["resolved"] = dict(resolved)
    fingerprint = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:6]
    return dns_name(service_name, revision_suffix(variant.version), fingerprint, max_len=63)


def revision_output(service_name: str, variant: CloudRunServiceSpec, context: Optional[dict] = None,
                    outputs: Optional[Mapping[str, pulumi.Input[Any]]] = None) -> pulumi.Input[str]:
    """`revision_name`, fingerprinted with the values `outputs` resolve to: an Output of the name
    (never formatted into text before it resolves); the plain name without outputs."""
    if not outputs:
        return revision_name(service_name, variant, context)
    return pulumi.Output.all(**dict(outputs)).apply(
        lambda values: revision_name(service_name, variant, context, resolved=values))


def traffic_split(service_name: str, spec: CloudRunServiceSpec, context: Optional[dict] = None,
                  outputs: Optional[Mapping[str, pulumi.Input[Any]]] = None) -> list[tuple[pulumi.Input[str], int, str]]:
    """[(revision, percent, tag)]: stable, then the canary (by its percent), then the extra tagged
    revisions of `rollout.tags`; stable gets what the others leave of 100. With `outputs` (see
    `revision_output`) the names mlinfra derives are Outputs; pinned and tagged ones stay text.

    While a canary runs, change only the canary: any other edit changes the stable settings'
    revision name too, so pin the deployed one with `rollout.stableRevision`."""
    canary, tags = spec.rollout.canary, spec.rollout.tags
    extra = [(t.revision, t.percent, t.tag) for t in tags]
    others = sum(t.percent for t in tags)
    if canary is None:
        return [(revision_output(service_name, spec.variant(canary=False), context, outputs),
                 100 - others, "stable")] + extra
    stable = spec.rollout.stable_revision or revision_output(service_name, spec.variant(canary=False), context, outputs)
    return [(stable, 100 - canary.percent - others, "stable"),
            (revision_output(service_name, spec.variant(canary=True), context, outputs), canary.percent, "canary")] + extra


def template_revision(split: list[tuple[pulumi.Input[str], int, str]]) -> pulumi.Input[str]:
    """The revision the service's template creates: the canary's while one runs, else stable's
    (tagged revisions exist already)."""
    tracks = {tag: rev for rev, _, tag in split}
    return tracks.get("canary", tracks["stable"])
