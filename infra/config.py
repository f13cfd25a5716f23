"""The stack file's contract: the `mlinfra:` keys, validated before anything is planned.

Read through `pulumi.Config`'s store, so `pulumi config set` works as users expect;
`gcp:project` and `gcp:region` are the provider's own keys. Validation runs in two passes:
pydantic checks every key and type (all errors at once); then one pass runs every rule once:
the pattern's (sections, platforms), every spec's own (declared beside the spec, run by
`components.core.spec.validate`) and the pattern's couplings between sections, each with the
key path as written in the file. `mlinfra validate` and the program both call `load`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Mapping, Optional

from pydantic import ValidationError, model_validator
from pydantic.alias_generators import to_snake

from components.core.issues import Issue, duplicate_names
from components.core.labels import default_labels, label_issues, override_issues
from components.core.names import stack_name_issues
from components.core.spec import Context, Spec, validate
from components.gcp.compute.regions import region_issues
from components.gcp.dataflow.pipeline_spec import PipelineSpec
from components.gcp.featurestore.feature_store_spec import FeatureStoreSpec
from components.gcp.functions.cloud_function_spec import CloudFunctionSpec
from components.gcp.gke.cluster_spec import ClusterSpec
from components.gcp.memorystore.cache_spec import CacheSpec
from components.gcp.monitoring.alerts_spec import AlertsSpec
from components.gcp.network.network_spec import NetworkSpec
from components.gcp.storage.storage_spec import BUCKET_ROLES, StorageSpec
from infra.cost.spec import CostSpec
from infra.config_keys import outside_keys_issues
from infra.errors import ConfigError, ProviderKey, _known_keys, issues_from_validation_error
from infra.patterns.registry import (OPTIONAL_SECTIONS, PATTERNS, pattern_for, patterns_allowing,
                                     patterns_running_jobs_on, patterns_serving_on)
from infra.platforms.registry import PLATFORMS, job_platforms
from infra.stack_config import NAMESPACE, StackConfig, parse_value  # noqa: F401 (re-exported)
from infra.sections import FALLBACK_JOB_PLATFORM, FALLBACK_PLATFORM, JobSpec, ServiceSpec, WaiverSpec, waiver_issues

_PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")


class MlinfraConfig(Spec):
    """Every `mlinfra:` key of a stack file."""

    cloud: Literal["gcp", "aws"] = "gcp"
    """The cloud the stack builds on: gcp or aws (AWS stacks have their own keys; see "On AWS: EKS"). Defaults to gcp."""
    pattern: Literal[tuple(PATTERNS)]
    """The architecture of this stack."""
    environment: Literal["dev", "staging", "prod"]
    """Drives the safety defaults: prod protects stateful resources and turns on deletion protection."""
    labels: dict[str, str] = {}
    """Labels added to every labelled resource, beside environment, stack, pattern and managed-by."""
    network: NetworkSpec = NetworkSpec()
    """The VPC."""
    storage: StorageSpec = StorageSpec()
    """The data lake and model-artifact buckets."""
    services: list[ServiceSpec] = []
    """Model servers: the real-time path. `platform` (cloudrun or gke) defaults to the pattern's."""
    triggers: list[CloudFunctionSpec] = []
    """Event-driven glue: Cloud Functions (gen2)."""
    cluster: Optional[ClusterSpec] = None
    """The GKE cluster and its node pools (kubernetes and hybrid patterns)."""
    jobs: list[JobSpec] = []
    """Training and batch-scoring jobs (kubernetes and hybrid patterns). `platform` (gke or
    cloudrun, hybrid only) defaults to the pattern's: gke."""
    alerts: AlertsSpec = AlertsSpec()
    """Where alerts go: notification channels and email addresses. Required in prod when the stack has services."""
    waivers: list[WaiverSpec] = []
    """Guardrail exceptions, each with a written reason."""
    cost: CostSpec = CostSpec()
    """Usage the plan's monthly cost estimate assumes (hours, scale, requests, GB stored)."""
    pipelines: list[PipelineSpec] = []
    """Dataflow pipelines, batch or streaming, from Flex Templates (dataflow pattern)."""
    feature_store: Optional[FeatureStoreSpec] = None
    """Feast's infrastructure: BigQuery offline store, registry bucket, online store (its own
    Memorystore, or Bigtable) and scheduled materialization (GCP patterns). Defaults to none."""
    cache: Optional[CacheSpec] = None
    """The prediction cache and pre-compute store: one Memorystore (Valkey or Redis) instance on
    the stack's VPC, for services and jobs with `cache: true` (hybrid, serverless and kubernetes
    patterns). Defaults to none."""

    @model_validator(mode="before")
    @classmethod
    def _default_platform(cls, data: Any) -> Any:
        """A service or job without `platform` runs on its pattern's default platform."""
        if not isinstance(data, dict):
            return data
        pattern = PATTERNS.get(data.get("pattern")) if isinstance(data.get("pattern"), str) else None
        for section, default in (("services", pattern.default_platform if pattern else FALLBACK_PLATFORM),
                                 ("jobs", (pattern.job_platforms or (FALLBACK_JOB_PLATFORM,))[0] if pattern
                                  else FALLBACK_JOB_PLATFORM)):
            if isinstance(data.get(section), list):
                data = {**data, section: [{"platform": default, **s} if isinstance(s, dict) and "platform" not in s
                                          else s for s in data[section]]}
        return data

    def issues(self, ctx: Context) -> list[Issue]:
        """The rules of the namespace's own keys: labels, unique names, known waiver rules."""
        issues = [i.under("labels") for i in label_issues(self.labels)]
        issues += [i.under("labels") for i in override_issues(self.labels, default_labels(ctx.environment, ctx.stack, self.pattern))]
        issues += duplicate_names("services", [s.name for s in self.services])
        issues += duplicate_names("jobs", [j.name for j in self.jobs])
        issues += duplicate_names("triggers", [t.name for t in self.triggers])
        issues += duplicate_names("pipelines", [p.name for p in self.pipelines])
        issues += waiver_issues(self.waivers)
        return issues


def load(values: Mapping[str, Any], *, stack: str, file: str, root: Path) -> StackConfig:
    """Validate a stack's config (`namespace:key` -> value); raise ConfigError with every issue."""
    # The stack's name, as Pulumi takes it (it names every resource); a bad one fails on any cloud.
    named = stack_name_issues(stack, key=(ProviderKey("the stack name"),))
    if named:
        raise ConfigError(file, named)
    if parse_value(values.get(f"{NAMESPACE}:cloud")) == "aws":
        return _load_aws(values, stack=stack, file=file, root=root)
    if parse_value(values.get(f"{NAMESPACE}:pattern")) == "bootstrap":
        from infra import bootstrap_config  # the CI stacks' identities and GitHub settings

        return bootstrap_config.load(values, stack=stack, file=file, root=root)
    issues: list[Issue] = outside_keys_issues(values, "gcp")
    project = values.get("gcp:project")
    region = values.get("gcp:region")
    raw = {key.split(":", 1)[1]: parse_value(value) for key, value in values.items()
           if key.startswith(f"{NAMESPACE}:")}
    for key, what, example in (("project", project, "acme-ml-dev"), ("region", region, "us-central1")):
        if not what:
            issues.append(Issue((ProviderKey(f"gcp:{key}"),), "is required", fix=f"add `gcp:{key}: {example}` under config:"))
        elif not isinstance(what, str) or (key == "project" and not _PROJECT_ID.match(what)):
            issues.append(Issue((ProviderKey(f"gcp:{key}"),), f"is not a Google Cloud {key} ID", what,
                                allowed=f"e.g. {example}", fix=f"write the {key} ID, e.g. {example}"))
        elif key == "region":
            # A table, not a pattern: a typo in gcp:region is reported here, whatever else the file holds.
            issues += region_issues(what, key=(ProviderKey("gcp:region"),))

    raw, misplaced = _workloads_on_the_patterns_platforms(raw)
    issues += misplaced
    try:
        config = MlinfraConfig.model_validate(raw, by_alias=True, by_name=False)
    except ValidationError as error:
        raise ConfigError(file, issues + issues_from_validation_error(error, MlinfraConfig)) from None
    if issues:
        raise ConfigError(file, issues)

    issues = rules(config, project=str(project), region=str(region), stack=stack, root=root)
    if issues:
        raise ConfigError(file, issues)
    return StackConfig(stack=stack, file=file, project=str(project), region=str(region), root=root, mlinfra=config)


def _workloads_on_the_patterns_platforms(raw: dict[str, Any]) -> tuple[dict[str, Any], list[Issue]]:
    """A service or job on a platform its pattern lacks (`platform: cloudrun` in a kubernetes
    stack) is one mistake: report that, and read its other keys as the pattern's platform would,
    not as unknown keys of the platform named."""
    pattern = PATTERNS.get(raw.get("pattern")) if isinstance(raw.get("pattern"), str) else None
    if pattern is None:
        return raw, []
    issues: list[Issue] = []
    for section, platforms, known in (("services", pattern.platforms, PLATFORMS),
                                      ("jobs", pattern.job_platforms, job_platforms())):
        entries = raw.get(section)
        if not isinstance(entries, list) or not platforms or section not in pattern.sections:
            continue  # a section the pattern lacks is reported as that, whatever its platforms
        fixed = []
        for i, entry in enumerate(entries):
            platform = entry.get("platform") if isinstance(entry, dict) else None
            if isinstance(platform, str) and platform in known and platform not in platforms:
                issues += _shape_issues_of_platform(pattern, section, i, platform)
                entry = {**entry, "platform": platforms[0]}
            fixed.append(entry)
        raw = {**raw, section: fixed}
    return raw, issues


def _shape_issues_of_platform(pattern: Any, section: str, i: int, platform: str) -> list[Issue]:
    platforms = pattern.platforms if section == "services" else pattern.job_platforms
    others = patterns_serving_on(platform) if section == "services" else patterns_running_jobs_on(platform)
    return [Issue((section, i, "platform"), f"the {pattern.name} pattern runs {section} on "
                  f"{' or '.join(platforms)}", platform, allowed=", ".join(platforms),
                  fix="remove the key" + (f", or use the {' or '.join(others)} pattern for {platform}" if others else ""))]


def _load_aws(values: Mapping[str, Any], *, stack: str, file: str, root: Path) -> StackConfig:
    from infra.aws_config import AwsMlinfraConfig, provider_issues

    issues = provider_issues(values) + outside_keys_issues(values, "aws")
    raw = {key.split(":", 1)[1]: parse_value(value) for key, value in values.items() if key.startswith(f"{NAMESPACE}:")}
    try:
        config = AwsMlinfraConfig.model_validate(raw, by_alias=True, by_name=False)
    except ValidationError as error:
        found = issues_from_validation_error(error, AwsMlinfraConfig)
        raise ConfigError(file, issues + gcp_only(found, AwsMlinfraConfig)) from None
    if issues:
        raise ConfigError(file, issues)
    region = str(values["aws:region"])
    issues = rules(config, project="", region=region, stack=stack, root=root)
    if issues:
        raise ConfigError(file, issues)
    return StackConfig(stack=stack, file=file, project="", region=region, root=root, mlinfra=config)


def gcp_only(issues: list[Issue], aws_schema: type) -> list[Issue]:
    """Unknown keys of an AWS stack that the Google Cloud schema has at the same place are named
    as Google Cloud's."""
    out = []
    for issue in issues:
        if issue.message == "unknown key" and issue.path:
            parent, key = issue.path[:-1], issue.path[-1]
            if key in _known_keys(MlinfraConfig, parent) and key not in _known_keys(aws_schema, parent):
                issue = Issue(issue.path, "is a Google Cloud key; an AWS stack (mlinfra:cloud: aws) does not have it",
                              allowed=issue.allowed, fix="remove it; the README's reference lists the keys of AWS stacks")
        out.append(issue)
    return out


def rules(config: Any, *, project: str, region: str, stack: str, root: Path) -> list[Issue]:
    """The second pass: the pattern's shape first; when it holds, every spec's rules and the
    pattern's couplings, each run once."""
    pattern = pattern_for(config.cloud, config.pattern)
    issues = _shape_issues(config, pattern)
    if issues:
        return issues  # a section or platform the pattern does not have: its keys' rules would be noise
    ctx = Context(project=project or Context.project, region=region, stack=stack, environment=config.environment,
                  root=root, extra={"bucket_roles": BUCKET_ROLES})
    issues = validate(config, ctx)
    for coupling in pattern.couplings:
        issues += coupling(config, ctx, pattern)
    return issues


def _shape_issues(config: MlinfraConfig, pattern: Any) -> list[Issue]:
    issues: list[Issue] = []
    if not pattern.built:
        built = [p.name for p in PATTERNS.values() if p.built]
        issues.append(Issue(("pattern",), f"the {pattern.name} pattern is not built yet (planned in {pattern.tracking_issue})",
                            pattern.name, allowed=", ".join(built), fix=f"use one of: {', '.join(built)}"))
    for section in OPTIONAL_SECTIONS:
        if to_snake(section) in config.model_fields_set and section not in pattern.sections:
            allowing = patterns_allowing(section)
            issues.append(Issue((section,), f"the {config.pattern} pattern has no {section}",
                                allowed=f"patterns {', '.join(allowing)}",
                                fix=f"remove mlinfra:{section}, or set mlinfra:pattern to {' or '.join(allowing)}"))
    for i, service in enumerate(config.services):
        if "services" in pattern.sections and service.platform not in pattern.platforms:
            issues += _shape_issues_of_platform(pattern, "services", i, service.platform)
    for i, job in enumerate(config.jobs):  # an AWS stack's jobs have no platform
        if hasattr(job, "platform") and "jobs" in pattern.sections and job.platform not in pattern.job_platforms:
            issues += _shape_issues_of_platform(pattern, "jobs", i, job.platform)
    return issues


def from_pulumi() -> StackConfig:
    """The running program's stack config, from the store the language host fills."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    from infra.stackfile import read_project

    root = Path.cwd()
    # pulumi.Config reads single keys; validation needs every key of the namespace to reject
    # typos, so read the same store it reads.
    values = dict(runtime_config.CONFIG.get())
    stack = pulumi.get_stack()
    try:
        project = read_project(root)
        file = project.display(project.stack_file(stack))
    except OSError:
        file = f"Pulumi.{stack}.yaml"
    return load(values, stack=stack, file=file, root=root)
