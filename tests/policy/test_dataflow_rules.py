"""The Dataflow worker guardrails (MLI-DFL-001, MLI-DFL-002) judge Dataflow jobs and scheduled
Flex Template launches only: a stack whose scheduler jobs run a function or a Cloud Run job has
no Dataflow workers, so the rules do not apply to it (n/a, not "ok")."""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import pytest

from infra.guardrails import judge, resources_of
from policy import dataflow
from tests.conftest import run_config, stack_config
from tests.policy.test_rules import findings, launch_env, resources

WORKER_RULES = ("MLI-DFL-001", "MLI-DFL-002")
LAUNCH = "mlinfra-df-batch-scoring-launch"


def worker_verdicts(resources_) -> dict[str, str]:
    return {v.rule: v.status for v in judge(resources_) if v.rule in WORKER_RULES}


@pytest.mark.parametrize("stack", ["dev", "prod", "hybrid-dev", "hybrid-prod", "k8s-dev", "k8s-prod", "llm-dev"])
def test_the_worker_rules_do_not_apply_to_a_stack_without_dataflow(stack):
    # dev schedules a function and hybrid-dev Cloud Run jobs: scheduler jobs, but no Dataflow launch.
    assert worker_verdicts(resources(stack)) == {rule: "n/a" for rule in WORKER_RULES}


def test_on_the_serverless_dev_stack_a_functions_schedule_is_not_a_dataflow_launch():
    schedules = [r for r in resources("dev") if r.type == dataflow.SCHEDULER_JOB]
    assert schedules and not any(dataflow.launches_dataflow(r) for r in schedules)
    assert worker_verdicts(resources("dev")) == {"MLI-DFL-001": "n/a", "MLI-DFL-002": "n/a"}


@pytest.mark.parametrize("stack", ["dataflow-dev", "dataflow-prod"])
def test_the_worker_rules_hold_on_the_dataflow_stacks(stack):
    assert worker_verdicts(resources(stack)) == {rule: "holds" for rule in WORKER_RULES}


def test_a_scheduled_launch_alone_makes_the_worker_rules_apply():
    # Only the batch pipeline's launch: no FlexTemplateJob in the stack.
    launch_only = [r for r in resources("dataflow-dev")
                   if r.type not in (dataflow.FLEX_JOB, dataflow.CLASSIC_JOB) or r.name == LAUNCH]
    assert worker_verdicts(launch_only) == {rule: "holds" for rule in WORKER_RULES}
    [launch] = [r for r in launch_only if r.name == LAUNCH]
    elsewhere = dataclasses.replace(launch, inputs={**launch.inputs, "httpTarget": {
        **launch.inputs["httpTarget"], "uri": "https://run.googleapis.com/v2/projects/p/locations/r/jobs/j:run"}})
    assert worker_verdicts([elsewhere if r is launch else r for r in launch_only]) == \
        {rule: "n/a" for rule in WORKER_RULES}


@lru_cache(maxsize=None)
def hybrid_with_a_pipeline():
    """hybrid-dev with dataflow-dev's nightly batch pipeline, its image and model in hybrid-dev's repository and bucket."""
    values = stack_config("hybrid-dev")
    [batch] = [p for p in stack_config("dataflow-dev")["mlinfra:pipelines"] if p["name"] == "batch-scoring"]
    values["mlinfra:pipelines"] = [{
        **batch, "parameters": {},
        "model": {"uri": "gs://acme-ml-dev-hybrid-dev-artifacts/models/churn", "version": "3"},
        "template": {**batch["template"], "image": batch["template"]["image"].replace("dataflow-dev", "hybrid-dev")}}]
    return resources_of(run_config(values, stack="hybrid-dev"))


def test_the_worker_rules_apply_to_a_hybrid_stack_that_launches_dataflow():
    planned = hybrid_with_a_pipeline()
    assert worker_verdicts(planned) == {rule: "holds" for rule in WORKER_RULES}
    change = launch_env(ipConfiguration="WORKER_IP_PUBLIC", serviceAccountEmail=None)
    broken = []
    for r in planned:
        if r.name == LAUNCH:
            inputs = {**r.inputs, "httpTarget": dict(r.inputs["httpTarget"])}
            change(inputs)
            r = dataclasses.replace(r, inputs=inputs)
        broken.append(r)
    assert [(rule, name) for rule, name, _ in findings(broken)] == [("MLI-DFL-001", LAUNCH), ("MLI-DFL-002", LAUNCH)]
