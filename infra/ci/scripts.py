"""The scripts the workflows run in actions/github-script: posting the plan comments and the
drift issues. They treat what they read from artifacts as untrusted data from a fork."""

from __future__ import annotations

import json
from typing import Iterable

MARKER = "<!-- mlinfra-plan:{stack} -->"
DRIFT_LABEL = "mlinfra-drift"
# GitHub refuses comments over 65536 characters; the full plan stays in the run's artifacts.
MAX_COMMENT = 60000


def comment_plans(stacks: Iterable[str]) -> str:
    # The stack list is fixed here, from the stack files: artifact file names never pick what
    # is read, and the PR number in the artifact must belong to the run's head commit.
    return f"""const fs = require('fs');
const path = require('path');
const stacks = {json.dumps(list(stacks))};
const run = context.payload.workflow_run;
for (const stack of stacks) {{
  const dir = path.join('plans', `mlinfra-plan-${{stack}}`);
  const file = path.join(dir, `${{stack}}.md`);
  if (!fs.existsSync(file)) {{
    core.warning(`no offline plan of stack ${{stack}} in run ${{run.id}}`);
    continue;
  }}
  const number = Number(fs.readFileSync(path.join(dir, 'pr-number'), 'utf8').trim());
  if (!Number.isInteger(number) || number <= 0) {{
    core.setFailed(`the plan artifact of stack ${{stack}} holds no PR number`);
    continue;
  }}
  const {{ data: pr }} = await github.rest.pulls.get({{ ...context.repo, pull_number: number }});
  if (pr.head.sha !== run.head_sha) {{
    core.notice(`PR #${{number}} has moved on from ${{run.head_sha}}; its newer run will comment`);
    continue;
  }}
  const marker = `{MARKER.replace('{stack}', '${stack}')}`;
  let plan = fs.readFileSync(file, 'utf8');
  if (plan.length > {MAX_COMMENT}) {{
    plan = plan.slice(0, {MAX_COMMENT}) + '\\n\\n(truncated: the whole plan is in the run artifacts)';
  }}
  const body = `${{marker}}\\n${{plan}}\\n\\n[offline plan run](${{run.html_url}})`;
  const comments = await github.paginate(github.rest.issues.listComments,
    {{ ...context.repo, issue_number: number, per_page: 100 }});
  const previous = comments.find((c) => c.user.type === 'Bot' && c.body.startsWith(marker));
  if (previous) {{
    await github.rest.issues.updateComment({{ ...context.repo, comment_id: previous.id, body }});
  }} else {{
    await github.rest.issues.createComment({{ ...context.repo, issue_number: number, body }});
  }}
}}
"""


def drift_issue() -> str:
    return f"""const stack = process.env.STACK;
const title = `Drift in stack ${{stack}}`;
const url = `${{context.serverUrl}}/${{context.repo.owner}}/${{context.repo.repo}}/actions/runs/${{context.runId}}`;
const open = await github.paginate(github.rest.issues.listForRepo,
  {{ ...context.repo, state: 'open', labels: '{DRIFT_LABEL}', per_page: 100 }});
const issue = open.find((i) => i.title === title && !i.pull_request);
const seen = `\\`pulumi preview --refresh --expect-no-changes\\` failed for stack \\`${{stack}}\\`: ` +
  `the cloud differs from the program, or the preview could not run. See ${{url}}.`;
if (issue) {{
  await github.rest.issues.createComment({{ ...context.repo, issue_number: issue.number, body: seen }});
}} else {{
  await github.rest.issues.create({{ ...context.repo, title, labels: ['{DRIFT_LABEL}'], body: seen +
    `\\n\\nReconcile by changing the program or stack file (then merge), or adopt the cloud's ` +
    `state with \\`pulumi refresh --stack ${{stack}}\\`; close this issue once the nightly run passes.` }});
}}
"""


ROLLOUT_MARKER = "<!-- mlinfra-rollout -->"
BRANCH_PREFIX = "rollout"
# What a reviewer does to run pr.yml on a PR the workflow's token opened (it starts no workflow).
RUN_CHECKS = ("GitHub starts no workflow for a pull request opened with a workflow's token, so the plan and "
              "preview have not run yet: {how} to run `pr.yml` (the offline plan and `pulumi preview`). Once "
              "merged, `deploy.yml` applies it with the environment's approvals.")


def rollout_pull_request() -> str:
    """Open the proposal's PR (a draft, so that "Ready for review" runs pr.yml), or refresh its
    description on a re-dispatch; a PR of the branch that was closed is not reopened."""
    ready = RUN_CHECKS.format(how="mark it **Ready for review**")
    reopen = RUN_CHECKS.format(how="close and reopen it")
    return f"""const fs = require('fs');
const {{ STACK, SERVICE, VERSION, BRANCH, BASE, DIFF, RUN_URL, ACTION, REASON }} = process.env;
const abort = ACTION === 'abort';
const diff = fs.readFileSync(DIFF, 'utf8');
const title = abort ? `Roll back the canary of ${{SERVICE}} in stack ${{STACK}}`
  : `Canary of ${{SERVICE}} version ${{VERSION}} in stack ${{STACK}}`;
// The reason is the incident's text, shown quoted: it is data, never markup of this description.
const why = abort ? `The canary of service \\`${{SERVICE}}\\` in stack \\`${{STACK}}\\` is rolled back: this removes ` +
  `its \\`rollout.canary\\` ([run](${{RUN_URL}})), and the stable version takes all traffic again.\\n\\n` +
  '```text\\n' + (REASON || 'No reason was given.').replaceAll('`', "'").slice(0, 2000) + '\\n```'
  : `A new model version was written: \\`models/<name>/${{VERSION}}/_READY\\`. ` +
  `This sets \\`rollout.canary\\` of service \\`${{SERVICE}}\\` in stack \\`${{STACK}}\\` ([run](${{RUN_URL}})).`;
const body = (how) => `{ROLLOUT_MARKER}\\n${{why}}\\n\\n` +
  '```diff\\n' + diff.slice(0, 50000) + '```\\n\\n' + how + '\\n\\n' +
  `After a healthy canary: \\`mlinfra rollout promote --stack ${{STACK}} --service ${{SERVICE}}\\`; ` +
  `to back out: \\`mlinfra rollout abort --stack ${{STACK}} --service ${{SERVICE}}\\`.`;
const head = `${{context.repo.owner}}:${{BRANCH}}`;
const pulls = await github.paginate(github.rest.pulls.list, {{ ...context.repo, head, state: 'all', per_page: 100 }});
const open = pulls.find((p) => p.state === 'open');
if (open) {{
  const how = open.draft ? {json.dumps(ready)} : {json.dumps(reopen)};
  await github.rest.pulls.update({{ ...context.repo, pull_number: open.number, body: body(how) }});
  core.notice(`PR #${{open.number}} already proposes this ${{abort ? 'rollback' : 'version'}}; its description is refreshed`);
}} else if (pulls.length > 0) {{
  core.notice(`PR #${{pulls[0].number}} of ${{BRANCH}} was closed: not reopened. Delete the branch to propose ` +
    (abort ? 'the rollback again' : `version ${{VERSION}} again`));
}} else {{
  let pr;
  try {{
    ({{ data: pr }} = await github.rest.pulls.create({{ ...context.repo, head: BRANCH, base: BASE, title,
      body: body({json.dumps(ready)}), draft: true }}));
  }} catch (error) {{
    if (error.status !== 422 || !/draft/i.test(error.message)) throw error;
    core.info(`no draft pull requests here (${{error.message}}); opening it ready for review`);
    ({{ data: pr }} = await github.rest.pulls.create({{ ...context.repo, head: BRANCH, base: BASE, title,
      body: body({json.dumps(reopen)}) }}));
  }}
  core.notice(`opened PR #${{pr.number}}: ${{pr.html_url}}`);
  // One proposal per service at a time: a new one supersedes the open PRs of other versions (only
  // when it is new: a late duplicate of an older version must not close a newer proposal).
  const mine = `{BRANCH_PREFIX}/${{STACK}}/${{SERVICE}}/`;
  const repo = `${{context.repo.owner}}/${{context.repo.repo}}`;
  const all = await github.paginate(github.rest.pulls.list, {{ ...context.repo, state: 'open', base: BASE, per_page: 100 }});
  for (const old of all) {{
    if (old.number !== pr.number && old.head.ref.startsWith(mine) && old.head.repo?.full_name === repo) {{
      await github.rest.pulls.update({{ ...context.repo, pull_number: old.number, state: 'closed' }});
      core.notice(`closed PR #${{old.number}} (${{old.head.ref}}): superseded by #${{pr.number}}, ` +
        (abort ? 'the rollback of the canary' : `version ${{VERSION}}`));
    }}
  }}
}}
"""
