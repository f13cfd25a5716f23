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


# The AWS account the roles live in: a repository variable (an account ID grants nothing alone).
AWS_ACCOUNT_VAR = "${{ vars.AWS_ACCOUNT_ID }}"


@dataclass(frozen=True)
class CIStack:
    name: str
    file: str
    environment: str
    project: str
    """The Google Cloud project; empty for an AWS stack."""
    cloud: str = "gcp"
    region: str = ""
    """The AWS region of an AWS stack (`aws:region`)."""

    @property
    def tier(self) -> int:
        return TIERS.index(self.environment)

    @property
    def deploy_account(self) -> str:
        """The identity `pulumi up` runs as: a service account, or on AWS a role's ARN."""
        return self._identity("deploy")

    @property
    def preview_account(self) -> str:
        return self._identity("preview")

    def _identity(self, role: str) -> str:
        if self.cloud == "aws":
            return f"arn:aws:iam::{AWS_ACCOUNT_VAR}:role/{account_id(role, self.name)}"
        return f"{account_id(role, self.name)}@{self.project}.iam.gserviceaccount.com"


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


# The bootstrap stack (`mlinfra:pattern: bootstrap`) creates what the workflows run with: the
# deploy identities and the protected environments. It is applied once, and after changes, by an
# administrator with broader credentials than any workflow holds, so no workflow previews,
# deploys or drift-checks it; `make test` plans it offline on every pull request.
BOOTSTRAP = "bootstrap"


def bootstrap_stacks(project: Project) -> list[str]:
    """The stacks the workflows leave out on purpose: those of the bootstrap pattern."""
    return [name for name in project.stacks() if _is_bootstrap(project, name)]


def _is_bootstrap(project: Project, name: str) -> bool:
    path = project.stack_file(name)
    return read_stack_config(path, project.display(path)).get("mlinfra:pattern") == BOOTSTRAP


def read_stacks(project: Project) -> list[CIStack]:
    """Every stack of the project but the bootstrap ones, in deploy order (tier, then name)."""
    stacks = []
    for name in project.stacks():
        path = project.stack_file(name)
        shown = project.display(path)
        if _is_bootstrap(project, name):
            continue
        if not _STACK_NAME.match(name):
            raise CIError(f"{shown}: the stack name {name!r} cannot name a GitHub environment or job; "
                          f"rename the file to letters, digits, '.', '_' and '-' only")
        config = read_stack_config(path, shown)
        environment = config.get("mlinfra:environment")
        if environment not in TIERS:
            raise CIError(f"{shown}: mlinfra:environment is {environment!r}; CI orders deploys by it, "
                          f"so set it to one of {', '.join(TIERS)}")
        if config.get("mlinfra:cloud") == "aws":
            region = config.get("aws:region")
            if not isinstance(region, str) or not region:
                raise CIError(f"{shown}: aws:region is missing; CI authenticates to AWS in it, so set it")
            stacks.append(CIStack(name, shown, environment, "", cloud="aws", region=region))
            continue
        gcp_project = config.get("gcp:project")
        if not isinstance(gcp_project, str) or not gcp_project:
            raise CIError(f"{shown}: gcp:project is missing; CI names the stack's deploy account after it, "
                          f"so set it (e.g. `gcp:project: acme-ml-{environment}`)")
        stacks.append(CIStack(name, shown, environment, gcp_project))
    if not stacks:
        raise CIError(f"no stack files in {project.display(project.stack_dir)}; add stacks/Pulumi.<stack>.yaml first")
    return sorted(stacks, key=lambda s: (s.tier, s.name))
