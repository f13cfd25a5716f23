"""propose-rollout.yml: a new model version becomes a pull request that sets the service's canary;
a canary whose fast-burn alert fired becomes one that removes it.

The rollout chain's Cloud Workflow dispatches it (`workflow_dispatch` with stack, service and
version) when a training job writes `models/<name>/<version>/_READY`. The job runs `mlinfra
rollout propose` on main, pushes the edited stack file to the branch
`rollout/<stack>/<service>/<version>` and opens a pull request from it; the PR then goes through
pr.yml (plan and preview) and, once merged, deploy.yml with the environments' approvals. The
workflow never touches the cloud: it has no cloud identity and no secret.

The stack's rollback function (`rollout.autoRollback`) dispatches it with `action: abort` and a
`reason` naming the incident: the job runs `mlinfra rollout abort`, commits with the reason to
`rollout/<stack>/<service>/abort-<12 hex of the edited file's blob>` (the same incident delivered
twice, or a second incident of the same canary, finds that branch and pushes nothing) and opens
the pull request the same way. Once the canary is gone from main, an abort changes nothing.

A PR opened with the workflow's GITHUB_TOKEN starts no other workflow (GitHub's rule against
recursive runs), so it is opened as a draft: a reviewer's "Ready for review" is a
`ready_for_review` event by a person, which runs pr.yml (its trigger lists it). Where the
repository cannot hold drafts, the PR is opened ready and its body says to close and reopen it.
"""

from __future__ import annotations

from typing import Any

from infra.ci import scripts
from infra.ci.scripts import BRANCH_PREFIX
from infra.ci.stacks import CIStack
from infra.ci.actions import CHECKOUT, PYTHON_VERSION, RUNNER, SCRIPT, SETUP_PYTHON

FILE = "propose-rollout.yml"
BASE = "main"
# The exit code of `mlinfra rollout propose` when the stack file already says so (infra.rollout).
UNCHANGED = 3
BOT = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")
ACTIONS = ("propose", "abort")
"""What a dispatch asks for: a new canary (the chain of a new model version), or none (the rollback function)."""


def concurrency_group() -> str:
    return "mlinfra-rollout-${{ inputs.stack }}-${{ inputs.service }}"


# A re-dispatch of the same version (the marker written again, an event delivered twice) exits
# UNCHANGED once main has the canary; before the merge, it finds the branch and leaves it alone.
# An abort's branch is named by the stack file it leaves: the same rollback, the same branch.
PROPOSE = f"""status=0
case "$ACTION" in
  propose)
    .venv/bin/mlinfra rollout propose --stack="$STACK" --service="$SERVICE" --version="$VERSION" \\
      > "$RUNNER_TEMP/rollout.diff" || status=$? ;;
  abort)
    .venv/bin/mlinfra rollout abort --stack="$STACK" --service="$SERVICE" > "$RUNNER_TEMP/rollout.diff" || status=$? ;;
  *)
    echo "::error::action must be propose or abort, not '$ACTION'"
    exit 1 ;;
esac
if [ "$status" -eq {UNCHANGED} ]; then
  echo "::notice::$(cat "$RUNNER_TEMP/rollout.diff")"
  echo "changed=false" >> "$GITHUB_OUTPUT"
  exit 0
fi
if [ "$status" -ne 0 ]; then
  exit "$status"
fi
cat "$RUNNER_TEMP/rollout.diff"
if [ "$ACTION" = abort ]; then
  branch="{BRANCH_PREFIX}/$STACK/$SERVICE/abort-$(git hash-object "stacks/Pulumi.$STACK.yaml" | cut -c1-12)"
else
  branch="{BRANCH_PREFIX}/$STACK/$SERVICE/$VERSION"
fi
{{
  echo "changed=true"
  echo "branch=$branch"
  echo "diff=$RUNNER_TEMP/rollout.diff"
}} >> "$GITHUB_OUTPUT"
"""

# The checkout keeps no credentials (`make install` ran third-party code after it); the token
# reaches git only here, through a credential helper that reads it from the environment.
PUSH = f"""# git expands $GITHUB_TOKEN when it runs the helper: the token is never on a command line.
# shellcheck disable=SC2016
helper='!f() {{ echo username=x-access-token; echo "password=$GITHUB_TOKEN"; }}; f'
if git -c credential.helper="$helper" ls-remote --exit-code --heads origin "refs/heads/$BRANCH" > /dev/null; then
  echo "::notice::branch $BRANCH exists: its pull request already proposes this change; the branch is left as it is"
  exit 0
fi
git switch --create "$BRANCH"
git add --update
if [ "$ACTION" = abort ]; then
  title="Roll back the canary of $SERVICE in stack $STACK"
  why="${{REASON:-No reason was given.}}"
  how="Dispatched with action abort (run $RUN_URL): the stable version takes all traffic again."
else
  title="Canary of $SERVICE version $VERSION in stack $STACK"
  why="Proposed by propose-rollout.yml (run $RUN_URL) after models/<name>/$VERSION/_READY was written."
  how=""
fi
set -- --message="$title" --message="$why"
if [ -n "$how" ]; then
  set -- "$@" --message="$how"
fi
git -c user.name="{BOT[0]}" -c user.email="{BOT[1]}" commit --quiet "$@"
git -c credential.helper="$helper" push --quiet origin "HEAD:refs/heads/$BRANCH"
"""


def rollout_workflow(stacks: list[CIStack]) -> dict[str, Any]:
    env = {"STACK": "${{ inputs.stack }}", "SERVICE": "${{ inputs.service }}", "VERSION": "${{ inputs.version }}",
           "ACTION": "${{ inputs.action }}", "REASON": "${{ inputs.reason }}"}
    changed = "steps.propose.outputs.changed == 'true'"
    run_url = "${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}"
    return {
        "name": "propose a model rollout or roll a canary back",
        "on": {"workflow_dispatch": {"inputs": {
            "stack": {"description": "the stack whose file names the service (stacks/Pulumi.<stack>.yaml)",
                      "required": True, "type": "choice", "options": [s.name for s in stacks]},
            "service": {"description": "the service's name in mlinfra:services", "required": True, "type": "string"},
            "version": {"description": "the new model version: models/<name>/<version>/ in the artifact bucket "
                                       "(action propose)", "required": False, "type": "string", "default": ""},
            "action": {"description": "propose: set the canary to the version; abort: remove the canary",
                       "required": False, "type": "choice", "options": list(ACTIONS), "default": ACTIONS[0]},
            "reason": {"description": "why (an abort's commit and pull request say it): the incident, its policy "
                                      "and its link", "required": False, "type": "string", "default": ""},
        }}},
        "permissions": {},
        "jobs": {
            "propose": {
                "name": "${{ inputs.action }} ${{ inputs.service }} ${{ inputs.version }} in ${{ inputs.stack }}",
                # Proposals are changes to main, where deploy.yml runs; a dispatch on another ref does nothing.
                "if": f"github.ref == 'refs/heads/{BASE}'",
                "runs-on": RUNNER,
                # One proposal at a time per service: a second dispatch waits, then finds the first's branch.
                "concurrency": {"group": concurrency_group(), "cancel-in-progress": False},
                "permissions": {"contents": "write", "pull-requests": "write"},
                "steps": [
                    {"uses": CHECKOUT, "with": {"persist-credentials": False}},
                    {"uses": SETUP_PYTHON, "with": {"python-version": PYTHON_VERSION}},
                    {"name": "install the pinned dependencies", "run": "make install"},
                    {"name": "set the canary in the stack file", "id": "propose", "env": env, "run": PROPOSE},
                    {"name": "push the proposal's branch", "if": changed,
                     "env": {**env, "BRANCH": "${{ steps.propose.outputs.branch }}", "RUN_URL": run_url,
                             "GITHUB_TOKEN": "${{ github.token }}"},
                     "run": PUSH},
                    {"name": "open or update the pull request", "if": changed, "uses": SCRIPT,
                     "env": {**env, "BRANCH": "${{ steps.propose.outputs.branch }}", "BASE": BASE,
                             "DIFF": "${{ steps.propose.outputs.diff }}", "RUN_URL": run_url},
                     "with": {"script": scripts.rollout_pull_request()}},
                ],
            },
        },
    }
