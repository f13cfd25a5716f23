"""Each CI stack's deploy and preview grants, from its offline plan (infra/ci/deploy_roles.py).

The bootstrap stack and `mlinfra ci init` both call `grants`: a stack file that starts using a
new service changes its deploy identity's roles in the bootstrap plan at once, and the grants
reach the cloud only when an administrator applies the bootstrap stack again.

The plans run in one child process: the bootstrap program is itself a Pulumi program (under
`pulumi up` or the offline engine), and Pulumi's runtime runs one program per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.ci import deploy_roles
from infra.ci.stacks import CIError, CIStack
from infra.stackfile import Project


@dataclass(frozen=True)
class StackGrants:
    stack: str
    types: tuple[str, ...]
    """Every resource type and data source token the stack's plan uses, sorted."""
    deploy_roles: tuple[str, ...] = ()
    """Google Cloud: the deploy account's project roles."""
    preview_roles: tuple[str, ...] = ()
    """Google Cloud: the preview account's project roles."""
    grantable_roles: tuple[str, ...] = ()
    """Google Cloud: the roles the stack grants on its project, the only ones its deploy account's
    roles/resourcemanager.projectIamAdmin may grant or revoke (deploy_roles.grant_condition)."""
    aws_policies: tuple[str, ...] = ()
    """AWS: the deploy role's customer-managed policy documents (JSON)."""


_CACHE: dict[tuple[str, str, str], StackGrants] = {}
_SOURCE = Path(__file__).resolve().parents[2]  # the directory holding the infra package


def _plan_all(project: Project, names: list[str]) -> dict[str, dict[str, Any]]:
    """Plan the stacks in a child process (`python -m infra.ci.stack_grants`): this may run while
    the bootstrap program itself runs, and Pulumi's runtime runs one program per process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_SOURCE), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "infra.ci.stack_grants", str(project.root), *names],
                          capture_output=True, text=True, env=env, cwd=project.root)
    if done.returncode != 0:
        raise CIError("the CI stacks do not plan, so their deploy identities' roles cannot be derived (fix them "
                      f"first; `mlinfra plan --stack <name>`):\n{done.stderr.strip() or done.returncode}")
    return json.loads(done.stdout)


def _derive(stack: CIStack, planned: dict[str, Any]) -> StackGrants:
    resources = [deploy_roles.Planned(*r) for r in planned["resources"]]
    types = tuple(sorted({r.type for r in resources} | set(planned["invokes"])))
    try:
        if stack.cloud == "aws":
            return StackGrants(stack.name, types, aws_policies=tuple(deploy_roles.aws_policies(resources, stack.region)))
        deploy, preview = deploy_roles.gcp_roles(types)
        return StackGrants(stack.name, types, tuple(deploy), tuple(preview),
                           tuple(deploy_roles.project_roles(resources)))
    except deploy_roles.UnmappedType as error:
        raise CIError(f"{stack.file}: it plans a {error} and infra/ci/deploy_roles.py has no role for that type; "
                      "add one there") from None
    except deploy_roles.UnknownGrant as error:
        raise CIError(f"{stack.file}: its project grant {error} takes its role from another resource, so the deploy "
                      "account's roles/resourcemanager.projectIamAdmin cannot be limited to the roles the stack "
                      "grants; give the role as text") from None


def all_grants(project: Project, stacks: list[CIStack]) -> dict[str, StackGrants]:
    """Each stack's grants, planned once per stack file text in a process."""
    keys = {s.name: (str(project.root), s.name, project.stack_file(s.name).read_text()) for s in stacks}
    missing = [s for s in stacks if keys[s.name] not in _CACHE]
    if missing:
        planned = _plan_all(project, [s.name for s in missing])
        for s in missing:
            _CACHE[keys[s.name]] = _derive(s, planned[s.name])
    return {s.name: _CACHE[keys[s.name]] for s in stacks}


def main(argv: list[str]) -> int:
    from infra.plan import plan_stack
    from infra.stackfile import read_project

    project = read_project(Path(argv[0]))
    out = {}
    for name in argv[1:]:
        recording = plan_stack(project, name).recording
        out[name] = {"resources": [[r.type, r.name, r.physical, r.role] for r in deploy_roles.planned(recording.registrations)],
                     "invokes": sorted(set(recording.invokes))}
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
