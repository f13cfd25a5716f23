"""Labels, stack names, GKE, Cloud Run and Cloud Functions names: each rule, broken once."""

from __future__ import annotations

import pytest

from components.core.names import (function_name_issues, gke_cluster_name_issues, label_key_issues,
                                   label_value_issues, labels_issues, node_pool_name_issues, run_service_name_issues,
                                   run_service_of_function, serverless_name_clashes, stack_name_issues)


def test_accepts_valid_labels_including_international_lowercase():
    assert labels_issues({"team": "ml", "cost-center": "4711", "über": "grün", "env": ""}) == []


def test_rejects_a_label_key_that_starts_badly_or_has_uppercase():
    [issue] = label_key_issues("Team")
    assert issue.path == ("Team",) and "is not a label key" in issue.message and "'team'" in issue.fix
    assert "'l-1st'" in label_key_issues("1st")[0].fix


def test_rejects_label_keys_of_the_wrong_length():
    assert "1 to 63 characters; this one has 0" in label_key_issues("")[0].message
    assert "this one has 64" in label_key_issues("k" * 64)[0].message


def test_rejects_label_values_that_are_not_strings_too_long_or_bad():
    assert "label values are strings, not int" in label_value_issues(4711)[0].message
    assert "at most 63 characters" in label_value_issues("v" * 64)[0].message
    [issue] = label_value_issues("Prod Env")
    assert "is not a label value" in issue.message and issue.fix == "use 'prod-env'"


def test_rejects_too_many_labels_counting_the_ones_mlinfra_adds():
    [issue] = labels_issues({f"k{i}": "v" for i in range(61)}, reserved=4)
    assert issue.path == ("labels",) and "has 61 labels; Google Cloud allows 64 and mlinfra adds 4" in issue.message
    assert issue.fix == "remove labels until at most 60 remain"


def test_paths_label_issues_under_the_labels_key():
    [issue] = labels_issues({"Bad": "x"})
    assert issue.path == ("labels", "Bad")


@pytest.mark.parametrize("name", ["dev", "prod.eu-1", "a_b", "acme/ml/prod", "x" * 100])
def test_accepts_pulumi_stack_names(name):
    assert stack_name_issues(name) == []


def test_rejects_pulumi_stack_names_with_bad_characters_or_length():
    [issue] = stack_name_issues("my stack!")
    assert "'my stack!' is not a Pulumi name" in issue.message and issue.fix == "rename it, e.g. 'my-stack'"
    assert "is not a Pulumi name" in stack_name_issues("x" * 101)[0].message


def test_rejects_a_stack_path_with_two_parts():
    assert "STACK or ORG/PROJECT/STACK" in stack_name_issues("ml/prod")[0].message


@pytest.mark.parametrize("check,most,what", [(gke_cluster_name_issues, 40, "GKE cluster"),
                                             (node_pool_name_issues, 40, "GKE node pool"),
                                             (run_service_name_issues, 49, "Cloud Run service")])
def test_rejects_dns_style_names_that_are_too_long_or_malformed(check, most, what):
    assert check("a" * most) == []
    [issue] = check("a" * (most + 1))
    assert f"{what} names are 1 to {most} characters; this one has {most + 1}" in issue.message
    [issue] = check("1-Model_Server-")
    assert f"is not a {what} name" in issue.message and issue.fix == "rename it, e.g. 'x-1-model-server'"
    assert "this one has 0" in check("")[0].message


def test_accepts_and_rejects_function_names():
    assert function_name_issues("Score_Batch-v2") == []
    assert "this one has 64" in function_name_issues("f" * 64)[0].message
    [issue] = function_name_issues("2score.batch")
    assert "is not a Cloud Functions name" in issue.message and issue.fix == "rename it, e.g. 'f-2score-batch'"


def test_a_function_runs_as_its_lowercased_service():
    assert run_service_of_function("Score_Batch") == "score_batch"


def test_reports_a_function_named_like_a_service_in_the_same_region():
    [issue] = serverless_name_clashes([("scorer", "us-central1")], [("Scorer", "us-central1"), ("scorer", "europe-west4")])
    assert "function 'Scorer' would be Cloud Run service 'scorer' in us-central1" in issue.message
    assert "Cloud Run service 'scorer' already is" in issue.message and "scorer-2" in issue.fix
