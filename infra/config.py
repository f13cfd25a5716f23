"""The stack file's contract: the `mlinfra:` keys, validated before anything is planned.

Read through `pulumi.Config`'s store, so `pulumi config set` works as users expect;
`gcp:project` and `gcp:region` are the provider's own keys. Validation runs in two passes:
pydantic checks every key and type (all errors at once), then the rules of each component
check what the cloud would reject at apply time, with the key path as written in the file.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, Optional, Union

from pydantic import Discriminator, Field, Tag, ValidationError, model_validator

from components.cloud_function import CloudFunctionSpec, function_issues
from components.cloud_run_service import CloudRunServiceSpec, cloud_run_issues
from components.gke_cluster import ClusterSpec, cluster_issues, offered_gpus, spot_pools
from components.gke_job import GkeJobSpec, gke_job_issues
from components.gke_model_server import GkeServiceSpec, gke_service_issues
from components.labels import label_issues
from components.network import NetworkSpec, network_issues
from components.storage import BUCKET_ROLES, StorageSpec, bucket_names, storage_issues
from components.validation import Issue, Spec
from infra.errors import ConfigError, ProviderKey, issues_from_validation_error
from infra.patterns import OPTIONAL_SECTIONS, PATTERNS, patterns_allowing
from policy.rules import RULE_IDS

NAMESPACE = "mlinfra"
_PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
# Where a service runs when its entry does not say: the pattern decides.
DEFAULT_PLATFORM = {"serverless": "cloudrun", "kubernetes": "gke", "hybrid": "gke", "dataflow": "cloudrun"}


def _platform(value: Any) -> str:
    platform = value.get("platform", "cloudrun") if isinstance(value, dict) else getattr(value, "platform", "cloudrun")
    # Anything but a known name (a list, a number) is reported by pydantic as a bad tag.
    return platform if isinstance(platform, str) else repr(platform)


ServiceSpec = Annotated[
    Union[Annotated[CloudRunServiceSpec, Tag("cloudrun")], Annotated[GkeServiceSpec, Tag("gke")]],
    Discriminator(_platform),
]


class WaiverSpec(Spec):
    """An exception to one guardrail, with the reason written down; the plan shows it."""

    rule: str
    """The rule's ID, e.g. MLI-K8S-007 (see the rules table)."""
    reason: str = Field(min_length=20)
    """Why the exception is acceptable (at least 20 characters)."""
    resources: list[str] = []
    """Resource names (as in the plan) it covers. Defaults to all of the rule's findings."""


class MlinfraConfig(Spec):
    """Every `mlinfra:` key of a stack file."""

    pattern: Literal["serverless", "kubernetes", "dataflow", "hybrid"]
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
    jobs: list[GkeJobSpec] = []
    """Training and batch-scoring jobs on GKE (kubernetes and hybrid patterns)."""
    waivers: list[WaiverSpec] = []
    """Guardrail exceptions, each with a written reason."""
    pipelines: Optional[list[dict[str, Any]]] = Field(None, json_schema_extra={"x-mlinfra-status": "planned"})
    """Dataflow pipelines (dataflow and hybrid patterns; not built yet)."""

    @model_validator(mode="before")
    @classmethod
    def _default_platform(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("services"), list):
            pattern = data.get("pattern")
            default = DEFAULT_PLATFORM.get(pattern, "cloudrun") if isinstance(pattern, str) else "cloudrun"
            data = {**data, "services": [{"platform": default, **s} if isinstance(s, dict) and "platform" not in s else s
                                         for s in data["services"]]}
        return data


@dataclass(frozen=True)
class StackConfig:
    """A validated stack: its name, where it is written, the provider keys and the mlinfra keys."""

    stack: str
    file: str
    project: str
    region: str
    root: Path
    mlinfra: MlinfraConfig

    @property
    def prod(self) -> bool:
        return self.mlinfra.environment == "prod"


def parse_value(value: Any) -> Any:
    """A config value as `pulumi.Config.get_object` reads it: JSON when it parses, else the string."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def load(values: Mapping[str, Any], *, stack: str, file: str, root: Path) -> StackConfig:
    """Validate a stack's config (`namespace:key` -> value); raise ConfigError with every issue."""
    issues: list[Issue] = []
    project = values.get("gcp:project")
    region = values.get("gcp:region")
    raw = {key.split(":", 1)[1]: parse_value(value) for key, value in values.items()
           if key.startswith(f"{NAMESPACE}:")}
    for key, what, form, example in (("project", project, _PROJECT_ID, "acme-ml-dev"),
                                     ("region", region, _REGION, "us-central1")):
        if not what:
            issues.append(Issue((ProviderKey(f"gcp:{key}"),), "is required", fix=f"add `gcp:{key}: {example}` under config:"))
        elif not isinstance(what, str) or not form.match(what):
            issues.append(Issue((ProviderKey(f"gcp:{key}"),), f"is not a Google Cloud {key} ID", what,
                                allowed=f"e.g. {example}", fix=f"write the {key} ID, e.g. {example}"))

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


def rules(config: MlinfraConfig, *, project: str, region: str, stack: str, root: Path) -> list[Issue]:
    """The second pass: what each component's rules and the pattern say about the whole file."""
    issues: list[Issue] = []
    pattern = PATTERNS[config.pattern]
    if not pattern.built:
        built = [p.name for p in PATTERNS.values() if p.built]
        issues.append(Issue(("pattern",), f"the {pattern.name} pattern is not built yet (planned in {pattern.tracking_issue})",
                            pattern.name, allowed=", ".join(built), fix=f"use one of: {', '.join(built)}"))
    for section in OPTIONAL_SECTIONS:
        if section in config.model_fields_set and section not in pattern.sections:
            allowing = patterns_allowing(section)
            issues.append(Issue((section,), f"the {config.pattern} pattern has no {section}",
                                allowed=f"patterns {', '.join(allowing)}",
                                fix=f"remove mlinfra:{section}, or set mlinfra:pattern to {' or '.join(allowing)}"))

    issues += [i.under("labels") for i in label_issues(config.labels)]
    issues += [i.under("network") for i in network_issues(config.network)]
    issues += [i.under("storage") for i in storage_issues(config.storage, project, stack)]

    names = bucket_names(config.storage, project, stack)
    cluster = config.cluster
    if cluster is not None and "cluster" in pattern.sections:
        issues += [i.under("cluster") for i in cluster_issues(cluster, region, config.environment)]
    needs_cluster = [s for s in config.services if s.platform == "gke"] + list(config.jobs)
    if cluster is None and (config.pattern == "kubernetes" or (needs_cluster and "cluster" in pattern.sections)):
        issues.append(Issue(("cluster",), f"the {config.pattern} pattern needs a cluster for its services on gke and jobs",
                            fix="add mlinfra:cluster with at least one entry in nodePools (see the README example)"))

    issues += _duplicates("services", [s.name for s in config.services])
    for i, service in enumerate(config.services):
        if service.platform == "gke":
            if config.pattern == "serverless":
                issues.append(Issue(("services", i, "platform"), "platform gke needs a cluster", service.platform,
                                    allowed="cloudrun", fix="remove the key (serverless runs services on cloudrun)"))
                continue
            issues += [x.under("services", i) for x in gke_service_issues(service)]
            issues += [x.under("services", i) for x in _placement_issues(service, cluster)]
        else:
            if config.pattern == "kubernetes":
                issues.append(Issue(("services", i, "platform"), "the kubernetes pattern runs services on gke",
                                    service.platform, allowed="gke",
                                    fix="remove the key, or use the hybrid pattern to mix Cloud Run and GKE"))
                continue
            issues += [x.under("services", i) for x in cloud_run_issues(service, region)]
        if service.model is not None:
            bucket = service.model.uri[len("gs://"):].split("/", 1)[0]
            if bucket != names["artifacts"]:
                issues.append(Issue(("services", i, "model", "uri"), "is not in the stack's artifact bucket", service.model.uri,
                                    allowed=f"gs://{names['artifacts']}/<path>",
                                    fix=f"upload the model there and set uri: gs://{names['artifacts']}/<path>"))
    issues += _duplicates("jobs", [j.name for j in config.jobs])
    for i, job in enumerate(config.jobs):
        issues += [x.under("jobs", i) for x in gke_job_issues(job)]
        issues += [x.under("jobs", i) for x in _placement_issues(job, cluster)]
    for i, waiver in enumerate(config.waivers):
        if waiver.rule not in RULE_IDS:
            close = difflib.get_close_matches(waiver.rule, sorted(RULE_IDS), n=1)
            issues.append(Issue(("waivers", i, "rule"), "is not a guardrail rule", waiver.rule,
                                hint=f"did you mean {close[0]}?" if close else None,
                                allowed="the IDs in the README's rules table", fix="use a rule ID the plan lists"))
    issues += _duplicates("triggers", [t.name for t in config.triggers])
    for i, trigger in enumerate(config.triggers):
        issues += [x.under("triggers", i) for x in function_issues(trigger, dict.fromkeys(BUCKET_ROLES), root)]
    return issues


def _placement_issues(workload: Any, cluster: Optional[ClusterSpec]) -> list[Issue]:
    """A GKE workload must fit some node: its GPU type offered, a spot pool when it requires one."""
    if cluster is None:
        return []
    issues = []
    gpu = workload.resources.gpu
    offered = offered_gpus(cluster)
    if gpu is not None and gpu.type not in offered:
        issues.append(Issue(("resources", "gpu", "type"), "no node pool (nor auto-provisioning) offers this GPU", gpu.type,
                            allowed=", ".join(sorted(offered)) or "no GPU at all",
                            fix=f"add a node pool with gpu: {{type: {gpu.type}}}, or use an offered type"))
    if workload.placement.spot == "require" and not spot_pools(cluster):
        issues.append(Issue(("placement", "spot"), "requires spot nodes, but no node pool is spot", "require",
                            allowed="never, prefer", fix="add a node pool with `spot: true`, or use prefer"))
    return issues


def _duplicates(section: str, names: list[str]) -> list[Issue]:
    seen: dict[str, int] = {}
    issues = []
    for i, name in enumerate(names):
        if name in seen:
            issues.append(Issue((section, i, "name"), f"is already used by {section}[{seen[name]}]", name,
                                fix="give each entry its own name"))
        seen.setdefault(name, i)
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


def json_schema() -> dict[str, Any]:
    """JSON Schema of the `config:` block of a stack file, for editor autocomplete."""
    inner = MlinfraConfig.model_json_schema(by_alias=True)
    defs = inner.pop("$defs", {})
    properties = {f"{NAMESPACE}:{k}": v for k, v in inner["properties"].items()}
    properties["gcp:project"] = {"type": "string", "description": "Google Cloud project ID."}
    properties["gcp:region"] = {"type": "string", "description": "Google Cloud region, e.g. us-central1."}
    required = [f"{NAMESPACE}:{k}" for k in inner.get("required", [])] + ["gcp:project", "gcp:region"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "mlinfra stack file",
        "type": "object",
        "properties": {
            "config": {"type": "object", "properties": properties, "required": required,
                       "additionalProperties": True},
            "environment": {"description": "Pulumi ESC environments (not resolved by the offline plan)."},
            "encryptionsalt": {"type": "string"},
            "secretsprovider": {"type": "string"},
        },
        "$defs": defs,
    }
