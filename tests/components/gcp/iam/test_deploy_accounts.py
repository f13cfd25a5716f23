"""The CI accounts of a stack: Project IAM Admin only ever with the condition that limits the roles it
may grant (the bootstrap stack's own tests check the condition it derives from each stack)."""

from __future__ import annotations

import pytest

from components.core.issues import InputError
from components.gcp.iam.deploy_accounts import DeployAccounts, DeployAccountsArgs
from tests.conftest import run_component

CONDITION = "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(['roles/logging.logWriter'])"


def accounts(**changes) -> DeployAccounts:
    args = dict(project="acme-test", stack="dev", deploy_account_id="mlinfra-deploy-dev",
                preview_account_id="mlinfra-preview-dev", deploy_member="principal://deploy",
                preview_member="principalSet://preview", deploy_roles=["roles/run.admin", "roles/resourcemanager.projectIamAdmin"],
                preview_roles=["roles/run.viewer"], grant_condition=CONDITION)
    return DeployAccounts("ci", DeployAccountsArgs(**{**args, **changes}))


def test_project_iam_admin_carries_the_condition_and_no_other_role_does():
    rec = run_component(accounts)
    grants = {r.inputs["role"]: r.inputs for r in rec.of_type("gcp:projects/iAMMember:IAMMember")}
    assert grants["roles/resourcemanager.projectIamAdmin"]["condition"] == {
        "title": "grants of dev only", "expression": CONDITION,
        "description": "Grant and revoke only the roles stack dev grants on the project."}
    assert "condition" not in grants["roles/run.admin"] and "condition" not in grants["roles/run.viewer"]


def test_project_iam_admin_without_a_condition_is_refused():
    with pytest.raises(InputError, match="grant_condition: is required with roles/resourcemanager.projectIamAdmin"):
        run_component(lambda: accounts(grant_condition=None))
    run_component(lambda: accounts(grant_condition=None, deploy_roles=["roles/run.admin"]))
