"""Every validation rule, broken once: the error names the key as written and says the fix."""

from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from infra import config, reference
from infra.errors import ConfigError, key_path
from tests.conftest import BASE_CONFIG, PROJECT, STACKS, run_config, stack_config
from infra.engine import Recording

ART = "gs://acme-test-test-artifacts/models/m"
CPU_SVC = {"name": "svc", "image": "us-docker.pkg.dev/acme/serve/svc:1"}
GPU_SVC = {"name": "llm", "runtime": "vllm", "model": {"uri": ART, "version": "1"},
           "resources": {"cpu": 8, "memory": "32Gi", "gpu": {"type": "nvidia-l4"}}, "scaling": {"maxReplicas": 2}}
TRIGGER = {"name": "t", "source": "functions/on_upload", "on": {"storage": {"bucket": "dataLake"}}}
PIPELINE = {"name": "p", "mode": "streaming", "source": {"pubsub": {"topic": "events"}},
            "sink": {"bigquery": {"dataset": "d", "table": "t", "schema": [{"name": "k", "type": "STRING"}]}},
            "template": {"source": "pipelines/streaming_features",
                         "image": "us-central1-docker.pkg.dev/acme-test/mlinfra-test/pipelines/streaming_features:1"}}


def load(values: dict[str, Any]) -> config.StackConfig:
    from infra.stackfile import to_engine_config

    engine_values, _ = to_engine_config(values)
    return config.load(engine_values, stack="test", file="stacks/Pulumi.test.yaml", root=PROJECT.root)


def errors(values: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        load(values)
    return [(key_path(i.path), str(caught.value)) for i in caught.value.issues]


def assert_one_error(values: dict[str, Any], key: str, fragment: str) -> None:
    """The file fails with exactly one error, at `key`, whose message holds `fragment`."""
    found = errors(values)
    keyed = [message for path, message in found if path == key]
    assert keyed, f"no error on {key}; got {[p for p, _ in found]}"
    assert fragment in keyed[0]
    assert len(found) == 1, f"expected one error, got {[p for p, _ in found]}"


def with_keys(**keys: Any) -> dict[str, Any]:
    values = copy.deepcopy(BASE_CONFIG)
    values.update({(k if ":" in k else f"mlinfra:{k}"): v for k, v in keys.items()})
    return values


def edited(base: dict, **changes: Any) -> dict[str, Any]:
    """A copy of `base` with `a__b=value` set at a.b (or removed, for `_DROP`)."""
    out = copy.deepcopy(base)
    for dotted, value in changes.items():
        target = out
        *parents, last = dotted.split("__")
        for p in parents:
            target = target.setdefault(p, {})
        if value is _DROP:
            target.pop(last, None)
        else:
            target[last] = value
    return out


def service(base: dict, **changes: Any) -> dict[str, Any]:
    return with_keys(services=[edited(base, **changes)])


def trigger(**changes: Any) -> dict[str, Any]:
    trig = copy.deepcopy(TRIGGER)
    trig.update(changes)
    return with_keys(triggers=[trig])


_DROP = object()

CASES: list[tuple[str, dict[str, Any], str, str]] = [
    # Keys and types (first pass).
    ("unknown top-level key", with_keys(servcies=[]), "mlinfra:servcies", "did you mean mlinfra:services?"),
    ("unknown nested key", service(CPU_SVC, resorces={"cpu": 1}), "mlinfra:services[0].resorces",
     "did you mean mlinfra:services[0].resources?"),
    ("snake_case key", service(CPU_SVC, scaling={"max_replicas": 3}), "mlinfra:services[0].scaling.max_replicas",
     "did you mean mlinfra:services[0].scaling.maxReplicas?"),
    ("unknown pattern", with_keys(pattern="severless"), "mlinfra:pattern", "allowed: serverless, kubernetes, dataflow, hybrid"),
    ("missing environment", {k: v for k, v in BASE_CONFIG.items() if k != "mlinfra:environment"},
     "mlinfra:environment", "is required"),
    ("canary of 150 percent", service(GPU_SVC, rollout={"canary": {"percent": 150, "version": "2"}}),
     "mlinfra:services[0].rollout.canary.percent", "allowed: at most 100"),
    ("text for a number", service(CPU_SVC, scaling={"maxReplicas": "many"}), "mlinfra:services[0].scaling.maxReplicas",
     "write a whole number"),
    ("bad service name", service(CPU_SVC, name="My_Service"), "mlinfra:services[0].name", "has a form that is not allowed"),
    ("GPU type Cloud Run lacks", service(GPU_SVC, resources__gpu={"type": "nvidia-a100"}),
     "mlinfra:services[0].resources.gpu.type", "allowed: nvidia-l4"),
    ("two GPUs", service(GPU_SVC, resources__gpu={"type": "nvidia-l4", "count": 2}),
     "mlinfra:services[0].resources.gpu.count", "allowed: 1"),
    ("labels not a mapping", with_keys(labels=["team"]), "mlinfra:labels", "must be a mapping"),
    ("services not a list", with_keys(services={"name": "x"}), "mlinfra:services", "must be a list"),
    # Provider keys and the pattern.
    ("missing gcp:project", {k: v for k, v in BASE_CONFIG.items() if k != "gcp:project"}, "gcp:project", "is required"),
    ("missing gcp:region", {k: v for k, v in BASE_CONFIG.items() if k != "gcp:region"}, "gcp:region", "is required"),
    ("project that is no project ID", {**BASE_CONFIG, "gcp:project": "Acme ML"}, "gcp:project",
     "is not a Google Cloud project ID"),
    ("region that is a list", {**BASE_CONFIG, "gcp:region": ["us-central1"]}, "gcp:region",
     "is not a Google Cloud region"),
    ("region typo", {**BASE_CONFIG, "gcp:region": "us-centrl1"}, "gcp:region", "did you mean us-central1"),
    ("a zone for a region", {**BASE_CONFIG, "gcp:region": "us-central1-a"}, "gcp:region", "is a zone, not a region"),
    ("bucket location typo", with_keys(storage={"dataLake": {"location": "eurpe-west4"}}),
     "mlinfra:storage.dataLake.location", "did you mean EUROPE-WEST4"),
    ("one name for both buckets", with_keys(storage={"dataLake": {"name": "acme-ml-data"}, "artifacts": {"name": "acme-ml-data"}}),
     "mlinfra:storage.artifacts.name", "bucket names are global and unique"),
    ("bucket name with an uppercase letter", with_keys(storage={"artifacts": {"name": "Acme-models"}}),
     "mlinfra:storage.artifacts.name", "lowercase"),
    ("schedule time zone typo", trigger(on={"schedule": {"cron": "0 3 * * *", "timeZone": "Europe/Berln"}}),
     "mlinfra:triggers[0].on.schedule.timeZone", "Europe/Berlin"),
    ("cron minute out of range", trigger(on={"schedule": {"cron": "61 3 * * *"}}),
     "mlinfra:triggers[0].on.schedule.cron", "outside 0-59"),
    ("cron step of zero", trigger(on={"schedule": {"cron": "*/0 * * * *"}}), "mlinfra:triggers[0].on.schedule.cron",
     "step"),
    ("topic starting with goog", trigger(on={"pubsub": {"topic": "google-events"}}), "mlinfra:triggers[0].on.pubsub.topic",
     "goog"),
    ("service account id too short", service(CPU_SVC, invokers=["serviceAccount:ci@acme-test.iam.gserviceaccount.com"]),
     "mlinfra:services[0].invokers[0]", "is not a service-account id"),
    ("a trigger named like a service", with_keys(services=[CPU_SVC], triggers=[{**TRIGGER, "name": "svc"}]),
     "mlinfra:triggers[0].name", "share one namespace per region"),
    ("image with a space", service(CPU_SVC, image="us-docker.pkg.dev/acme/serve/svc:1 --debug"),
     "mlinfra:services[0].image", "contains a space"),
    ("canary image with shell syntax", service(CPU_SVC, rollout={"canary": {"percent": 5, "image": "svc:$TAG"}}),
     "mlinfra:services[0].rollout.canary.image", "nothing expands $VARS"),
    ("an mlinfra key named like a provider key", with_keys(**{"gcp:project": "acme-test", "mlinfra:gcp:project": "x"}),
     "mlinfra:gcp:project", "unknown key"),
    ("section the pattern lacks", with_keys(cluster={"releaseChannel": "REGULAR"}), "mlinfra:cluster",
     "allowed: patterns kubernetes, hybrid"),
    ("pipelines in serverless", with_keys(pipelines=[PIPELINE]), "mlinfra:pipelines", "allowed: patterns dataflow"),
    # Labels.
    ("label key", with_keys(labels={"Team": "ml"}), "mlinfra:labels.Team", "label key is not valid"),
    ("label value", with_keys(labels={"team": "ML Platform"}), "mlinfra:labels.team", "label value is not valid"),
    # Network.
    ("CIDR with host bits", with_keys(network={"subnetCidr": "10.10.0.1/20"}), "mlinfra:network.subnetCidr",
     "fix: write the network address, e.g. 10.10.0.0/20"),
    ("public CIDR", with_keys(network={"subnetCidr": "8.8.0.0/20"}), "mlinfra:network.subnetCidr", "is not a private IPv4 range"),
    ("too small pods range", with_keys(network={"podsCidr": "10.20.0.0/24"}), "mlinfra:network.podsCidr", "at least a /21"),
    ("overlapping ranges", with_keys(network={"servicesCidr": "10.10.4.0/24"}), "mlinfra:network.servicesCidr",
     "overlaps subnetCidr"),
    # Storage.
    ("coldline before nearline", with_keys(storage={"dataLake": {"nearlineAfterDays": 60, "coldlineAfterDays": 30}}),
     "mlinfra:storage.dataLake.coldlineAfterDays", "later than nearlineAfterDays"),
    ("delete before retention", with_keys(storage={"dataLake": {"retentionDays": 365, "deleteAfterDays": 30}}),
     "mlinfra:storage.dataLake.deleteAfterDays", "shorter than retentionDays"),
    ("bucket name with google", with_keys(storage={"artifacts": {"name": "my-google-models"}}),
     "mlinfra:storage.artifacts.name", "bucket names may not contain"),
    # Services.
    ("duplicate service", with_keys(services=[CPU_SVC, CPU_SVC]), "mlinfra:services[1].name", "is already used by services[0]"),
    ("gke service in serverless", service(CPU_SVC, platform="gke"), "mlinfra:services[0].platform",
     "the serverless pattern runs services on cloudrun"),
    ("neither image nor runtime", service(CPU_SVC, image=_DROP), "mlinfra:services[0].image", "needs an image"),
    ("runtime without model", service(GPU_SVC, model=_DROP), "mlinfra:services[0].model", "loads a model, but none is given"),
    ("custom runtime without image", service(CPU_SVC, image=_DROP, runtime="custom"), "mlinfra:services[0].image",
     "runtime custom needs an image"),
    ("model without runtime", service(CPU_SVC, model={"uri": ART, "version": "1"}), "mlinfra:services[0].runtime",
     "needs a runtime"),
    ("triton from nvcr.io", service(GPU_SVC, runtime="triton"), "mlinfra:services[0].image", "cannot pull the triton image"),
    ("vllm on CPU", service(GPU_SVC, resources={"cpu": 4, "memory": "16Gi"}), "mlinfra:services[0].resources.gpu",
     "runtime vllm needs a GPU"),
    ("CPU count Cloud Run lacks", service(CPU_SVC, resources={"cpu": 3, "memory": "4Gi"}), "mlinfra:services[0].resources.cpu",
     "allowed: 1, 2, 4, 6, 8"),
    ("memory that is not a quantity", service(CPU_SVC, resources={"memory": "lots"}), "mlinfra:services[0].resources.memory",
     "is not a memory quantity"),
    ("memory above 32Gi", service(CPU_SVC, resources={"cpu": 8, "memory": "64Gi"}), "mlinfra:services[0].resources.memory",
     "allowed: 512Mi to 32Gi"),
    ("memory too large for the CPUs", service(CPU_SVC, resources={"cpu": 2, "memory": "12Gi"}),
     "mlinfra:services[0].resources.cpu", "memory above 8Gi needs at least 4 CPUs"),
    ("6 CPUs with 2Gi", service(CPU_SVC, resources={"cpu": 6, "memory": "2Gi"}), "mlinfra:services[0].resources.memory",
     "6 CPUs need at least 4Gi"),
    ("4 CPUs with 1Gi", service(CPU_SVC, resources={"cpu": 4, "memory": "1Gi"}), "mlinfra:services[0].resources.memory",
     "4 CPUs need at least 2Gi"),
    ("L4 with 2 CPUs", service(GPU_SVC, resources={"cpu": 2, "memory": "16Gi", "gpu": {"type": "nvidia-l4"}}),
     "mlinfra:services[0].resources.cpu", "an nvidia-l4 GPU needs at least 4 CPUs"),
    # One message naming the fewest CPUs for both the GPU and the memory (following it is enough).
    ("L4 with 2 CPUs and 32Gi", service(GPU_SVC, resources={"cpu": 2, "memory": "32Gi", "gpu": {"type": "nvidia-l4"}}),
     "mlinfra:services[0].resources.cpu", "needs at least 4 CPUs (8 with 32Gi) (got 2)\n    allowed: 8\n    fix: set cpu to 8\n"),
    ("L4 with 8Gi", service(GPU_SVC, resources={"cpu": 4, "memory": "8Gi", "gpu": {"type": "nvidia-l4"}}),
     "mlinfra:services[0].resources.memory", "needs at least 16Gi"),
    ("GPU with CPU throttled", service(GPU_SVC, resources__cpuAlwaysAllocated=False),
     "mlinfra:services[0].resources.cpuAlwaysAllocated", "must keep CPU always allocated"),
    ("GPU in a region without", {**service(GPU_SVC), "gcp:region": "us-west1"}, "mlinfra:services[0].resources.gpu.type",
     "Cloud Run offers no nvidia-l4 GPU in region us-west1"),
    ("GPU minReplicas above quota", service(GPU_SVC, scaling={"minReplicas": 5}), "mlinfra:services[0].scaling.minReplicas",
     "is above the GPU quota (3 instances)"),
    ("GPU replicas above quota", service(GPU_SVC, scaling={"maxReplicas": 8}), "mlinfra:services[0].scaling.maxReplicas",
     "is above the GPU quota (3 instances)"),
    ("probe timeout over period", service(CPU_SVC, probes={"startup": {"timeoutSeconds": 20, "periodSeconds": 10}}),
     "mlinfra:services[0].probes.startup.timeoutSeconds", "is longer than periodSeconds (10)"),
    ("stable revision without canary", service(CPU_SVC, rollout={"stableRevision": "svc-test-v1-abcdef"}),
     "mlinfra:services[0].rollout.stableRevision", "only applies while a canary runs"),
    ("soft delete of 3 days", with_keys(storage={"dataLake": {"softDeleteDays": 3}}),
     "mlinfra:storage.dataLake.softDeleteDays", "allowed: 0, or 7 to 90"),
    ("max below min", service(CPU_SVC, scaling={"minReplicas": 5, "maxReplicas": 2}), "mlinfra:services[0].scaling.maxReplicas",
     "is below minReplicas (5)"),
    ("allUsers as invoker", service(CPU_SVC, invokers=["allUsers"]), "mlinfra:services[0].invokers[0]", "set `public: true`"),
    ("invoker without a kind", service(CPU_SVC, invokers=["bob@acme.example"]), "mlinfra:services[0].invokers[0]",
     "has no member type prefix"),
    ("canary without version", service(GPU_SVC, rollout={"canary": {"percent": 10}}),
     "mlinfra:services[0].rollout.canary.version", "needs the new model version"),
    ("canary of the stable version", service(GPU_SVC, rollout={"canary": {"percent": 10, "version": "1"}}),
     "mlinfra:services[0].rollout.canary.version", "is the stable version itself"),
    ("image on a model-loading canary", service(GPU_SVC, rollout={"canary": {"percent": 10, "version": "2", "image": "x:2"}}),
     "mlinfra:services[0].rollout.canary.image", "changes the version, not the image"),
    ("model-in-image canary without image", service(CPU_SVC, rollout={"canary": {"percent": 10}}),
     "mlinfra:services[0].rollout.canary.image", "needs the new image"),
    ("model-in-image canary of the same image", service(CPU_SVC, rollout={"canary": {"percent": 10, "image": CPU_SVC["image"]}}),
     "mlinfra:services[0].rollout.canary.image", "is the stable image itself"),
    ("version on a model-in-image canary", service(CPU_SVC, rollout={"canary": {"percent": 10, "image": "x:2", "version": "2"}}),
     "mlinfra:services[0].rollout.canary.version", "changes the image, not a model version"),
    ("model outside the artifact bucket", service(GPU_SVC, model={"uri": "gs://elsewhere/models/m", "version": "1"}),
     "mlinfra:services[0].model.uri", "allowed: gs://acme-test-test-artifacts/<path>"),
    # Triggers.
    ("duplicate trigger", with_keys(triggers=[TRIGGER, TRIGGER]), "mlinfra:triggers[1].name", "is already used by triggers[0]"),
    ("trigger without an event", trigger(on={}), "mlinfra:triggers[0].on", "needs exactly one event, got 0"),
    ("trigger with two events", trigger(on={"http": {}, "pubsub": {"topic": "abc"}}), "mlinfra:triggers[0].on",
     "needs exactly one event, got 2 (http, pubsub)"),
    ("trigger on a bucket the stack lacks", trigger(on={"storage": {"bucket": "models"}}),
     "mlinfra:triggers[0].on.storage.bucket", "allowed: dataLake, artifacts"),
    ("cron with 4 fields", trigger(on={"schedule": {"cron": "0 3 * *"}}), "mlinfra:triggers[0].on.schedule.cron",
     "has 4 fields; cron needs 5"),
    ("http invoker without a kind", trigger(on={"http": {"invokers": ["ops@acme.example"]}}),
     "mlinfra:triggers[0].on.http.invokers[0]", "has no member type prefix"),
    ("event function over 540 s", trigger(timeoutSeconds=900), "mlinfra:triggers[0].timeoutSeconds", "at most 540 seconds"),
    ("instances max below min", trigger(minInstances=3, maxInstances=1), "mlinfra:triggers[0].maxInstances",
     "is below minInstances (3)"),
    ("function memory out of range", trigger(memory="64Gi"), "mlinfra:triggers[0].memory", "allowed: 128Mi to 32Gi"),
    ("function memory not a quantity", trigger(memory="big"), "mlinfra:triggers[0].memory", "is not a memory quantity"),
    ("missing source directory", trigger(source="functions/nope"), "mlinfra:triggers[0].source", "is not a directory"),
    ("source without main.py", trigger(source="stacks"), "mlinfra:triggers[0].source", "allowed: main.py"),
    ("unknown runtime", trigger(runtime="python27"), "mlinfra:triggers[0].runtime", "allowed: python311"),
    # What Cloud Run and Cloud Functions refuse at deploy time, or deploy but never run.
    ("PORT set by hand", service(CPU_SVC, env={"PORT": "9000"}), "mlinfra:services[0].env.PORT",
     "Cloud Run sets PORT itself"),
    ("K_SERVICE set by hand", service(CPU_SVC, env={"K_SERVICE": "svc"}), "mlinfra:services[0].env.K_SERVICE",
     "allowed: any name but PORT, K_SERVICE, K_REVISION, K_CONFIGURATION"),
    ("a variable plain and secret", service(CPU_SVC, env={"API_KEY": "x"}, secrets=[{"env": "API_KEY", "secret": "api-key"}]),
     "mlinfra:services[0].secrets[0].env", "is also set by env.API_KEY"),
    ("MODEL_DIR over the mounted model", service(GPU_SVC, env={"MODEL_DIR": "/m"}), "mlinfra:services[0].env.MODEL_DIR",
     "is set by mlinfra for the model it mounts"),
    ("function secret twice", trigger(env={"TOKEN": "x"}, secrets=[{"env": "TOKEN", "secret": "token"}]),
     "mlinfra:triggers[0].secrets[0].env", "Cloud Functions refuses a variable set both plainly and from a secret"),
    ("function reserved prefix", trigger(env={"X_GOOGLE_DEBUG": "1"}), "mlinfra:triggers[0].env.X_GOOGLE_DEBUG",
     "keeps the X_GOOGLE_ prefix for itself"),
    ("function FUNCTION_TARGET", trigger(env={"FUNCTION_TARGET": "main"}), "mlinfra:triggers[0].env.FUNCTION_TARGET",
     "sets FUNCTION_TARGET itself"),
    ("entry point main.py lacks", trigger(entryPoint="main"), "mlinfra:triggers[0].entryPoint",
     "allowed: functions main.py defines: describe, describe_object, handle"),
    ("entry point typo", trigger(entryPoint="handler"), "mlinfra:triggers[0].entryPoint", "is not defined in functions/on_upload/main.py"),
    ("storage prefix as a URL", trigger(on={"storage": {"bucket": "dataLake", "prefix": "gs://acme-test-test-data-lake/uploads/"}}),
     "mlinfra:triggers[0].on.storage.prefix", "fix: write 'uploads/'"),
    ("environment label on a prod stack", with_keys(environment="prod", labels={"environment": "dev"}),
     "mlinfra:labels.environment", "is set by mlinfra to 'prod'"),
    ("managed-by label", with_keys(labels={"managed-by": "terraform"}), "mlinfra:labels.managed-by", "is set by mlinfra to 'mlinfra'"),
    ("pattern label", with_keys(labels={"pattern": "kubernetes"}), "mlinfra:labels.pattern", "allowed: 'serverless'"),
]


@pytest.mark.parametrize("values,key,fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rejects_each_broken_rule_with_one_message_naming_the_key(values, key, fragment):
    assert_one_error(values, key, fragment)


def test_reports_every_error_of_a_file_together():
    values = service(GPU_SVC, scaling={"minReplicas": 1, "maxReplicas": "x"}, resorces={})
    values["mlinfra:servcies"] = []
    paths = [p for p, _ in errors(values)]
    assert sorted(paths) == ["mlinfra:servcies", "mlinfra:services[0].resorces", "mlinfra:services[0].scaling.maxReplicas"]


def test_error_text_names_the_stack_file_the_value_and_the_fix():
    (_, text), = errors(service(CPU_SVC, scaling={"minReplicas": 5, "maxReplicas": 2}))
    assert text.startswith("stacks/Pulumi.test.yaml: 1 error in the stack file")
    assert "mlinfra:services[0].scaling.maxReplicas: is below minReplicas (5) (got 2)" in text
    assert "fix: set maxReplicas to at least 5" in text
    assert "Nothing was planned or created" in text


def test_config_error_is_a_pulumi_run_error_so_pulumi_up_prints_no_traceback():
    import pulumi

    assert issubclass(ConfigError, pulumi.RunError)


def test_nothing_is_registered_from_a_config_that_failed_validation():
    recording = Recording(project="mlinfra", stack="test")
    with pytest.raises(ConfigError):
        run_config(service(GPU_SVC, resources={"cpu": 2, "memory": "16Gi", "gpu": {"type": "nvidia-l4"}}),
                   recording=recording)
    assert [r.type for r in recording] == ["pulumi:pulumi:Stack"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_validates(stack):
    from infra.stackfile import to_engine_config

    values, _ = to_engine_config(stack_config(stack))
    loaded = config.load(values, stack=stack, file=f"stacks/Pulumi.{stack}.yaml", root=PROJECT.root)
    assert loaded.mlinfra.pattern == stack_config(stack)["mlinfra:pattern"]


def test_a_gpu_service_without_max_replicas_gets_its_gpu_quota_as_maximum():
    assert load(service(GPU_SVC, scaling=_DROP)).mlinfra.services[0].max_replicas == 3
    assert load(service(GPU_SVC, scaling=_DROP, resources__gpu={"type": "nvidia-l4", "quota": 20})).mlinfra.services[0].max_replicas == 10
    assert load(service(CPU_SVC)).mlinfra.services[0].max_replicas == 10


def test_a_gpu_service_without_cpu_or_memory_gets_cloud_runs_gpu_minimums():
    resources = load(service(GPU_SVC, resources={"gpu": {"type": "nvidia-l4"}})).mlinfra.services[0].resources
    assert (resources.cpu, resources.memory) == (4, "16Gi")
    resources = load(service(GPU_SVC, resources={"cpu": 8, "gpu": {"type": "nvidia-l4"}})).mlinfra.services[0].resources
    assert (resources.cpu, resources.memory) == (8, "16Gi")


def test_labels_that_repeat_mlinfras_own_values_stay_valid():
    assert load(with_keys(labels={"environment": "dev", "managed-by": "mlinfra"})).mlinfra.labels["environment"] == "dev"


def test_entry_points_defined_conditionally_or_imported_are_accepted(tmp_path):
    from components.gcp.functions.cloud_function_spec import entry_point_issues

    main = tmp_path / "main.py"
    main.write_text("from app import serve as handle\ntry:\n    def other(e): ...\nexcept ImportError:\n    pass\n")
    assert entry_point_issues(main, "handle", "f") == [] and entry_point_issues(main, "other", "f") == []
    main.write_text("def handle(:\n")
    assert "does not parse" in entry_point_issues(main, "handle", "f")[0].message


def test_on_stays_a_key_as_in_pulumis_yaml_reader():
    from infra.stackfile import load_yaml

    assert load_yaml("on: {http: {}}\nflag: yes\nreal: true") == {"on": {"http": {}}, "flag": "yes", "real": True}


def test_schema_lists_every_key_for_editors():
    schema = reference.json_schema()
    keys = schema["properties"]["config"]["properties"]
    assert {"mlinfra:pattern", "mlinfra:services", "mlinfra:triggers", "gcp:project", "gcp:region"} <= set(keys)
    assert schema["$defs"]["CloudRunServiceSpec"]["additionalProperties"] is False


def test_rejects_a_stack_name_pulumi_would_not_take():
    from infra.stackfile import to_engine_config

    with pytest.raises(ConfigError) as caught:
        config.load(to_engine_config(BASE_CONFIG)[0], stack="ml prod", file="stacks/Pulumi.ml prod.yaml",
                    root=PROJECT.root)
    [issue] = caught.value.issues
    assert key_path(issue.path) == "the stack name" and "is not a Pulumi name" in issue.message


@pytest.mark.parametrize("key, fragment", [
    ("mlinfar:labels", "is in no namespace the program reads | did you mean mlinfra:labels?"),
    ("aws:region", "is an AWS key; this stack's cloud is gcp | set `mlinfra:cloud: aws`"),
    ("gcp:regoin", "is not a key of the Google Cloud provider (pulumi_gcp) | did you mean gcp:region?"),
    ("kubernetes:context", "is in no namespace the program reads (it reads mlinfra:, gcp:, pulumi: keys)"),
], ids=["a typo of mlinfra:", "another cloud's key", "a misspelt provider key", "a namespace nothing reads"])
def test_a_key_the_program_would_silently_ignore_is_refused(key, fragment):
    """Pulumi passes every key of the file; one no code reads would plan as if it were absent."""
    with pytest.raises(ConfigError) as caught:
        load({**BASE_CONFIG, key: "x"})
    found = {key_path(i.path): f"{i.message} | {i.hint or i.fix}" for i in caught.value.issues}
    message, _, detail = fragment.partition(" | ")
    assert message in found[key] and detail in found[key]


def test_provider_keys_come_from_the_installed_sdk_and_pulumis_own_are_left_alone():
    from infra.config_keys import provider_keys

    assert {"project", "region", "zone", "defaultLabels", "impersonateServiceAccount"} <= provider_keys("gcp")
    assert {"region", "profile", "defaultTags", "assumeRoles"} <= provider_keys("aws")
    load({**BASE_CONFIG, "gcp:zone": "us-central1-a", "pulumi:disable-default-providers": '["*"]'})


@pytest.mark.parametrize("base, svc, key, message", [
    (BASE_CONFIG, {**CPU_SVC, "placement": {"spot": "never"}}, "mlinfra:services[0].placement",
     "is a key of gke services; this one runs on cloudrun"),
    ({**BASE_CONFIG, "mlinfra:pattern": "kubernetes"}, {**CPU_SVC, "public": True}, "mlinfra:services[0].public",
     "is a key of cloudrun services; this one runs on gke"),
    (BASE_CONFIG, {**CPU_SVC, "certificateArn": "arn:aws:acm:x"}, "mlinfra:services[0].certificateArn",
     "is a key of eks services, in aws stacks; this one runs on cloudrun"),
], ids=["a GKE key on Cloud Run", "a Cloud Run key on GKE", "an EKS key on Cloud Run"])
def test_a_key_of_another_platform_says_whose_it_is(base, svc, key, message):
    with pytest.raises(ConfigError) as caught:
        load({**base, "mlinfra:services": [svc]})
    assert {key_path(i.path): i.message for i in caught.value.issues} == {key: message}


def test_a_long_form_of_an_allowed_value_gets_its_short_form_suggested():
    with pytest.raises(ConfigError) as caught:
        load({**BASE_CONFIG, "mlinfra:environment": "production"})
    [issue] = caught.value.issues
    assert (key_path(issue.path), issue.hint, issue.fix) == (
        "mlinfra:environment", "did you mean prod?", "set it to prod")
