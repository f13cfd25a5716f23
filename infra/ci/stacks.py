"""What CI needs to know of each stack, read from its stack file: the environment (which orders
deploys and names nothing but the tier) and the Google Cloud project (where its accounts live)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from infra.stackfile import Project, read_stack_config

# Deploys go through the tiers in this order; a stack waits for every stack of earlier tiers.
TIERS = ("dev", "staging", "prod")


class CIError(Exception):
    """A stack file or workflow CI cannot be generated from or trusts (a user error)."""


@dataclass(frozen=True)
class CIStack:
    name: str
    file: str
    environment: str
    project: str

    @property
    def tier(self) -> int:
        return TIERS.index(self.environment)

    @property
    def deploy_account(self) -> str:
        return f"{account_id('deploy', self.name)}@{self.project}.iam.gserviceaccount.com"

    @property
    def preview_account(self) -> str:
        return f"{account_id('preview', self.name)}@{self.project}.iam.gserviceaccount.com"


def account_id(role: str, stack: str) -> str:
    """A service account id for a stack: `mlinfra-<role>-<stack>`, or, past the 30 characters
    Google allows, a prefix of it with a hash so two long stack names never collide."""
    plain = re.sub(r"[^a-z0-9-]", "-", f"mlinfra-{role}-{stack}".lower()).strip("-")
    if len(plain) <= 30:
        return plain
    digest = hashlib.sha256(stack.encode()).hexdigest()[:6]
    return f"{plain[:23].rstrip('-')}-{digest}"


# GitHub environment names: the stack name is used as written, so it must be one GitHub takes.
_STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def read_stacks(project: Project) -> list[CIStack]:
    """Every stack of the project, in deploy order (tier, then name)."""
    stacks = []
    for name in project.stacks():
        path = project.stack_file(name)
        shown = project.display(path)
        if not _STACK_NAME.match(name):
            raise CIError(f"{shown}: the stack name {name!r} cannot name a GitHub environment or job; "
                          f"rename the file to letters, digits, '.', '_' and '-' only")
        config = read_stack_config(path, shown)
        environment = config.get("mlinfra:environment")
        if environment not in TIERS:
            raise CIError(f"{shown}: mlinfra:environment is {environment!r}; CI orders deploys by it, "
                          f"so set it to one of {', '.join(TIERS)}")
        gcp_project = config.get("gcp:project")
        if not isinstance(gcp_project, str) or not gcp_project:
            raise CIError(f"{shown}: gcp:project is missing; CI names the stack's deploy account after it, "
                          f"so set it (e.g. `gcp:project: acme-ml-{environment}`)")
        stacks.append(CIStack(name, shown, environment, gcp_project))
    if not stacks:
        raise CIError(f"no stack files in {project.display(project.stack_dir)}; add stacks/Pulumi.<stack>.yaml first")
    return sorted(stacks, key=lambda s: (s.tier, s.name))
