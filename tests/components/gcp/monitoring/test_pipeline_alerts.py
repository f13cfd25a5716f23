"""Dataflow pipelines' alerts: a failed job always, lag and freshness on streaming jobs, in prod
by default and in dev on request, each reading the job's own metrics with an aligner its kind takes."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from components.gcp.monitoring.metrics import aligner_issues
from infra.errors import ConfigError, key_path
from tests.conftest import run_config, run_stack
from tests.infra.patterns.test_dataflow import BATCH, STREAM, entry, pipelines
from tests.infra.test_config import errors, load

ALERT = "gcp:monitoring/alertPolicy:AlertPolicy"


def policies(rec) -> dict[str, dict]:
    return {r.name: r.inputs for r in rec.of_type(ALERT)}


def test_prod_pipelines_alert_on_failure_and_streaming_ones_on_lag_and_freshness():
    found = policies(run_stack("dataflow-prod"))
    assert sorted(found) == ["mlinfra-watch-batch-scoring-failed", "mlinfra-watch-streaming-features-failed",
                             "mlinfra-watch-streaming-features-freshness", "mlinfra-watch-streaming-features-lag"]
    lag = found["mlinfra-watch-streaming-features-lag"]["conditions"][0]["conditionThreshold"]
    assert lag["filter"] == ('metric.type="dataflow.googleapis.com/job/system_lag" resource.type="dataflow_job" '
                             'resource.label."job_name"="streaming-features-dataflow-prod"')
    assert (lag["thresholdValue"], lag["duration"], lag["comparison"]) == (300, "600s", "COMPARISON_GT")
    failed = found["mlinfra-watch-batch-scoring-failed"]
    assert failed["severity"] == "CRITICAL"
    assert failed["conditions"][0]["conditionThreshold"]["filter"].endswith('"batch-scoring-dataflow-prod"')


def test_the_alerts_watch_the_job_names_the_pipelines_run_under():
    rec = run_stack("dataflow-prod")
    job = rec.one("gcp:dataflow/flexTemplateJob:FlexTemplateJob")
    lag = policies(rec)["mlinfra-watch-streaming-features-lag"]["conditions"][0]["conditionThreshold"]
    assert lag["filter"].endswith(f'"job_name"="{job.inputs["name"]}"')
    launch = rec.one("gcp:cloudscheduler/job:Job")
    failed = policies(rec)["mlinfra-watch-batch-scoring-failed"]["conditions"][0]["conditionThreshold"]
    body = json.loads(base64.b64decode(launch.inputs["httpTarget"]["body"]))
    assert failed["filter"].endswith(f'"job_name"="{body["launchParameter"]["jobName"]}"')


def test_every_condition_uses_an_aligner_its_metrics_kind_accepts():
    for inputs in policies(run_stack("dataflow-prod")).values():
        for condition in inputs["conditions"]:
            threshold = condition["conditionThreshold"]
            metric = threshold["filter"].split('"')[1]
            [aggregation] = threshold["aggregations"]
            assert aligner_issues(metric, aggregation["perSeriesAligner"]) == [], metric


def test_the_alerts_notify_the_stacks_channels():
    rec = run_stack("dataflow-prod")
    channel = rec.one("gcp:monitoring/notificationChannel:NotificationChannel")
    assert channel.inputs["labels"] == {"email_address": "data-oncall@acme.example"}
    assert {tuple(p["notificationChannels"]) for p in policies(rec).values()} == {(channel.outputs["name"],)}


def test_dev_pipelines_alert_only_when_asked_with_their_own_thresholds():
    assert policies(run_stack("dataflow-dev")) == {}
    values = pipelines(BATCH, entry(STREAM, alerts={"maxLagMinutes": 2, "maxWatermarkAgeMinutes": 30}))
    found = policies(run_config(values))
    assert sorted(found) == ["mlinfra-watch-features-failed", "mlinfra-watch-features-freshness",
                             "mlinfra-watch-features-lag"]
    assert found["mlinfra-watch-features-lag"]["conditions"][0]["conditionThreshold"]["thresholdValue"] == 120
    assert found["mlinfra-watch-features-freshness"]["conditions"][0]["conditionThreshold"]["thresholdValue"] == 1800
    assert found["mlinfra-watch-features-lag"].get("notificationChannels") is None


def test_a_prod_dataflow_stack_without_a_channel_is_refused_naming_the_key():
    values = pipelines(BATCH, STREAM)
    values["mlinfra:environment"] = "prod"
    with pytest.raises(ConfigError) as caught:
        load(values)
    assert [key_path(i.path) for i in caught.value.issues] == ["mlinfra:alerts"]
    assert "services, pipelines and event chains alert" in str(caught.value)


@pytest.mark.parametrize("alerts, key", [({"maxLagMinutes": 0}, "mlinfra:pipelines[0].alerts.maxLagMinutes"),
                                         ({"maxLagMinute": 5}, "mlinfra:pipelines[0].alerts.maxLagMinute")])
def test_rejects_a_bad_threshold_naming_the_key(alerts, key):
    found = errors(pipelines(entry(copy.deepcopy(STREAM), alerts=alerts)))
    assert [path for path, _ in found] == [key]


def test_rejects_a_streaming_threshold_on_a_batch_pipeline():
    found = errors(pipelines(entry(BATCH, alerts={"maxLagMinutes": 10})))
    assert [path for path, _ in found] == ["mlinfra:pipelines[0].alerts.maxLagMinutes"]
    assert "a batch job is only watched for failure" in found[0][1]
    assert policies(run_config(pipelines(entry(BATCH, alerts={})))).keys() == {"mlinfra-watch-score-failed"}
