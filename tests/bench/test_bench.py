"""The benchmark's pure parts and the engine pieces it made faster: the hand-written baseline
program's conversion of inputs, that program registering exactly what the plan does, the
generated stacks, the recording's tree order and the interpreter tuning. No timings here."""

from __future__ import annotations

import atexit
import gc
import sys
from pathlib import Path

import pulumi
import pytest

from bench import baseline, stacks
from infra import engine, runtime
from infra.stackfile import load_yaml, read_project, to_engine_config
from tests.conftest import PROJECT, STACKS, run_config, run_stack


def _kwargs(inputs, cls):
    """The generated keyword arguments, evaluated back into the provider's Args object."""
    source = baseline.to_kwargs(inputs, cls)
    return source, eval(f"{baseline._public_path(cls)}({source})", {"pulumi": pulumi, **sys.modules})


def test_camel_case_inputs_become_keyword_arguments_and_nested_args_classes():
    import pulumi_gcp as gcp

    source, args = _kwargs({
        "location": "EU",
        "uniformBucketLevelAccess": True,
        "lifecycleRules": [{"action": {"type": "Delete"}, "condition": {"age": 30, "matchesPrefixes": ["tmp/"]}}],
        "versioning": {"enabled": True},
    }, gcp.storage.BucketArgs)
    assert source.startswith("location='EU', uniform_bucket_level_access=True, "
                             "lifecycle_rules=[pulumi_gcp.storage.BucketLifecycleRuleArgs(")
    assert "matches_prefixes=['tmp/']" in source
    rule = args.lifecycle_rules[0]
    assert isinstance(rule, gcp.storage.BucketLifecycleRuleArgs)
    assert rule.action.type == "Delete" and rule.condition.age == 30
    assert args.versioning.enabled is True


def test_keys_of_map_valued_inputs_are_left_as_written():
    import pulumi_gcp as gcp
    import pulumi_kubernetes as k8s

    labels = {"cost-center": "4711", "someKey": "x", "managed_by": "mlinfra"}
    _, bucket = _kwargs({"location": "EU", "labels": labels}, gcp.storage.BucketArgs)
    assert bucket.labels == labels

    source, deployment = _kwargs({
        "metadata": {"name": "ranker", "labels": {"app.kubernetes.io/name": "ranker"},
                     "annotations": {"prometheus.io/scrapePort": "8002"}},
        "spec": {"selector": {"matchLabels": {"appName": "ranker"}},
                 "template": {"spec": {"containers": [{"name": "server", "image": "x",
                                                       "env": [{"name": "MODEL_DIR", "value": "/models"}],
                                                       "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}},
    }, k8s.apps.v1.DeploymentArgs)
    assert deployment.metadata.annotations == {"prometheus.io/scrapePort": "8002"}
    assert deployment.spec.selector.match_labels == {"appName": "ranker"}
    container = deployment.spec.template.spec.containers[0]
    assert isinstance(container, k8s.core.v1.ContainerArgs)
    assert container.env[0].name == "MODEL_DIR" and container.resources.limits == {"nvidia.com/gpu": "1"}
    assert "pulumi_kubernetes.meta.v1.ObjectMetaArgs(" in source  # the public name, not ._inputs


def test_secrets_and_archives_are_written_as_the_sdk_objects():
    import pulumi_gcp as gcp

    secret = {baseline.SECRET_SIG: baseline.SECRET_VALUE, "value": "s3cret"}
    source = baseline.to_kwargs({"secretData": secret}, gcp.secretmanager.SecretVersionArgs)
    assert source == "secret_data=pulumi.Output.secret('s3cret')"
    source = baseline.to_kwargs({"source": pulumi.FileArchive("functions/on_upload"), "bucket": "b", "name": "o"},
                                gcp.storage.BucketObjectArgs)
    assert source.startswith("source=pulumi.FileArchive('functions/on_upload'), bucket='b'")


def test_an_input_the_class_does_not_have_is_refused():
    import pulumi_gcp as gcp

    with pytest.raises(baseline.NotConvertible, match="no field 'notAField'"):
        baseline.to_kwargs({"notAField": 1}, gcp.storage.BucketArgs)


def test_type_tokens_find_the_typed_classes():
    import pulumi_gcp as gcp
    import pulumi_kubernetes as k8s

    assert baseline.resource_class("gcp:storage/bucket:Bucket") is gcp.storage.Bucket
    assert baseline.resource_class("kubernetes:apps/v1:Deployment") is k8s.apps.v1.Deployment
    assert baseline.resource_class("pulumi:providers:kubernetes") is k8s.Provider
    # A custom resource's kind has no class of its own: the provider's generic one.
    assert baseline.resource_class("kubernetes:gateway.networking.k8s.io/v1:Gateway") is k8s.apiextensions.CustomResource


def test_a_resource_whose_args_name_is_taken_gets_its_own_init_args():
    import pulumi_aws as aws

    # pulumi-aws 7's split S3 resource: its module star-imports the legacy Bucket's nested
    # BucketServerSideEncryptionConfigurationArgs, so its keyword arguments are ...InitArgs.
    found = baseline.args_class(aws.s3.BucketServerSideEncryptionConfiguration)
    assert found is aws.s3.BucketServerSideEncryptionConfigurationInitArgs
    assert "rules" in baseline.fields_of(found).by_wire_name
    # A resource whose module defines only <Class>Args keeps it.
    assert baseline.args_class(aws.s3.Bucket) is aws.s3.BucketArgs


def _run_baseline(tmp_path: Path, registrations, stack: str, config, secret_keys) -> engine.Recording:
    main = baseline.write_program(tmp_path / "program", registrations, stack, False, PROJECT.root)
    try:
        return engine.run(main, project=PROJECT.name, stack=stack, config=config,
                          secret_keys=secret_keys, cwd=PROJECT.root)
    finally:
        sys.modules.pop("baseline_resources", None)  # each generated program has its own
        sys.path.remove(str(main.parent))


def _comparable(recording: engine.Recording) -> dict:
    def plain(value):
        if isinstance(value, (pulumi.Asset, pulumi.Archive)):
            return (type(value).__name__, str(getattr(value, "path", None)))
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return [plain(v) for v in value] if isinstance(value, list) else value
    return {r.urn: (plain(r.inputs), r.protect, r.parent, sorted(set(r.dependencies)))
            for r in recording.registrations}


@pytest.mark.parametrize("stack", [s for s in STACKS if s in ("dev", "k8s-prod", "eks-dev")])
def test_the_hand_written_program_registers_exactly_what_the_plan_does(stack, tmp_path):
    from tests.conftest import stack_config

    plan = run_stack(stack)
    config, secrets = to_engine_config(stack_config(stack))
    program = _run_baseline(tmp_path, plan.registrations, stack, config, secrets)
    assert _comparable(program) == _comparable(plan)


def test_generated_stacks_plan_six_registrations_per_model_server(tmp_path):
    project = read_project(stacks.write_project(tmp_path, {"gen-3": 3, "gen-6": 6}))
    assert project.stacks() == ["gen-3", "gen-6"]
    counts = {}
    for name in project.stacks():
        written = load_yaml(project.stack_file(name).read_text())["config"]
        counts[name] = len(run_config(written, stack=name).registrations)
    assert counts["gen-6"] - counts["gen-3"] == 18


def _registration(urn: str, type_: str, name: str, parent=None) -> engine.Registration:
    return engine.Registration(urn=urn, type=type_, name=name, custom=True, parent=parent, inputs={},
                               outputs={}, dependencies=[], property_dependencies={}, protect=False,
                               retain_on_delete=False, delete_before_replace=False, ignore_changes=[],
                               provider="")


def test_tree_order_puts_parents_first_and_siblings_by_type_then_name():
    regs = [_registration("c2", "b:x", "z", "root"), _registration("root", "s:stack", "s"),
            _registration("c1", "b:x", "a", "root"), _registration("g1", "a:y", "q", "c2"),
            _registration("c0", "a:x", "m", "root"), _registration("other", "a:x", "r")]
    rec = engine.Recording(project="p", stack="s", registrations=regs)
    assert [r.urn for r in rec.tree_order()] == ["other", "root", "c0", "c1", "c2", "g1"]
    assert [r.urn for r in rec.descendants_of("root")] == ["c2", "c1", "c0", "g1"]


def test_tree_order_walks_a_deep_tree_without_recursion():
    depth = 5 * sys.getrecursionlimit()
    regs = [_registration(f"u{i}", "t:t", f"n{i}", f"u{i - 1}" if i else None) for i in range(depth)]
    assert [r.urn for r in engine.Recording("p", "s", list(reversed(regs))).tree_order()] == [r.urn for r in regs]


def test_tune_raises_the_thresholds_and_registers_its_exit_handler_once():
    before = gc.get_threshold()
    try:
        runtime.tune()
        handlers = atexit._ncallbacks()
        runtime.tune()
        assert atexit._ncallbacks() == handlers
        assert gc.get_threshold() == runtime.THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        gc.set_threshold(*before)


def test_each_registration_keeps_its_own_inputs_when_many_register_at_once():
    """The recording reuses the inputs the mock monitor decoded, per thread: registrations
    answered concurrently by the SDK's thread pool must not swap them."""
    import pulumi_gcp as gcp

    def program():
        for i in range(60):
            gcp.storage.Bucket(f"b{i}", location="EU", labels={"index": str(i)}, force_destroy=i % 2 == 0)

    rec = engine.run(program, config={"gcp:project": "acme-test"})
    buckets = rec.of_type("gcp:storage/bucket:Bucket")
    assert len(buckets) == 60
    for r in buckets:
        i = int(r.name[1:])
        assert r.inputs == {"location": "EU", "labels": {"index": str(i)}, "forceDestroy": i % 2 == 0}
