"""IAM members and service-account ids: each rule, broken once."""

from __future__ import annotations

import pytest

from components.gcp.iam.members import iam_member_issues, is_public_member, service_account_id_issues

WI = "principal://iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/acme.svc.id.goog/subject/ns/ml/sa/trainer"


@pytest.mark.parametrize("member", [
    "user:alice@example.com", "group:ml-team@example.com", "domain:example.com",
    "serviceAccount:trainer@acme-prod.iam.gserviceaccount.com",
    "serviceAccount:123456789-compute@developer.gserviceaccount.com",
    "serviceAccount:service-123456789@gcp-sa-aiplatform.iam.gserviceaccount.com",
    "serviceAccount:acme-prod@appspot.gserviceaccount.com", WI,
    "principalSet://iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/gh/attribute.repository/acme/ml",
    "deleted:user:bob@example.com?uid=123", "projectViewer:acme-prod"])
def test_accepts_valid_members(member):
    assert iam_member_issues(member) == []


def test_reports_public_members_unless_allowed():
    [issue] = iam_member_issues("allUsers", key=("invokers", 0))
    assert issue.path == ("invokers", 0) and "allUsers makes the resource public" in issue.message
    assert "specific principals" in issue.fix
    assert "any signed-in Google account" in iam_member_issues("allAuthenticatedUsers")[0].message
    assert iam_member_issues("allUsers", allow_public=True) == []
    assert is_public_member("allUsers") and not is_public_member("user:a@b.co")


def test_rejects_a_public_member_in_the_wrong_case():
    [issue] = iam_member_issues("allusers")
    assert "case-sensitive" in issue.message and issue.fix == "write 'allUsers'"


def test_rejects_a_member_without_a_type():
    [issue] = iam_member_issues("alice@example.com")
    assert "has no member type prefix" in issue.message and "user:" in issue.fix
    assert iam_member_issues("sa@p.iam.gserviceaccount.com")[0].fix == "write 'serviceAccount:sa@p.iam.gserviceaccount.com'"


def test_rejects_an_unknown_or_miscased_member_type():
    [issue] = iam_member_issues("serviceaccount:sa@p.iam.gserviceaccount.com")
    assert "'serviceaccount' is not an IAM member type" in issue.message
    assert issue.fix == "write 'serviceAccount:sa@p.iam.gserviceaccount.com'"
    assert "use one of the member types" in iam_member_issues("team:x@y.com")[0].fix


def test_rejects_a_user_that_is_not_an_email():
    [issue] = iam_member_issues("user:alice")
    assert "user: takes an email address" in issue.message


def test_rejects_a_bad_domain():
    assert "domain: takes a domain name" in iam_member_issues("domain:@example")[0].message


def test_rejects_a_service_account_given_as_a_user():
    [issue] = iam_member_issues("user:trainer@acme.iam.gserviceaccount.com")
    assert "is a service account, not a user" in issue.message and issue.fix.startswith("write 'serviceAccount:")


def test_rejects_a_service_account_email_outside_gserviceaccount():
    [issue] = iam_member_issues("serviceAccount:bot@example.com")
    assert "end in .gserviceaccount.com" in issue.message


def test_rejects_a_service_account_email_with_a_bad_id():
    [issue] = iam_member_issues("serviceAccount:ab@acme.iam.gserviceaccount.com")
    assert "'ab' is not a service-account id" in issue.message


def test_rejects_a_principal_outside_iam():
    assert "live under iam.googleapis.com" in iam_member_issues("principal://example.com/x/subject/y")[0].message


def test_rejects_a_principal_naming_the_project_by_id():
    [issue] = iam_member_issues(WI.replace("123456789", "acme-prod"))
    assert "names project 'acme-prod' by id; principal identifiers take the project number" in issue.message
    assert "gcloud projects describe acme-prod" in issue.fix


def test_rejects_a_principal_without_a_subject():
    [issue] = iam_member_issues(WI.split("/subject/")[0])
    assert "names one subject" in issue.message and "principalSet://" in issue.fix


def test_rejects_an_empty_principal_path_segment():
    assert "empty path segment" in iam_member_issues(WI + "/")[0].message


@pytest.mark.parametrize("account_id", ["trainer", "ml-batch-scoring-01", "a" * 30])
def test_accepts_valid_service_account_ids(account_id):
    assert service_account_id_issues(account_id) == []


def test_rejects_service_account_ids_of_the_wrong_length():
    [issue] = service_account_id_issues("sa-1")
    assert issue.path == ("accountId",) and "6 to 30 characters; this one has 4" in issue.message
    assert "this one has 31" in service_account_id_issues("a" * 31)[0].message


def test_rejects_service_account_ids_with_bad_characters_or_ends():
    [issue] = service_account_id_issues("1-Trainer_SA")
    assert "is not a service-account id" in issue.message and issue.fix == "rename it, e.g. 'sa-1-trainer-sa'"
    assert "is not a service-account id" in service_account_id_issues("trainer-")[0].message


def test_rejects_an_email_as_a_service_account_id():
    [issue] = service_account_id_issues("trainer@acme.iam.gserviceaccount.com")
    assert "is an email" in issue.message and issue.fix == "write 'trainer'"
