"""A repository ruleset on one branch: changes arrive only by pull request, with approvals and
the required checks passing on the latest commit; the branch cannot be deleted or force-pushed.
Each required check must be reported by one app (GitHub Actions), so no other integration with
status access can satisfy it. No one bypasses it (no bypass actors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_github as github

from components.core.component import Component

TYPE = "mlinfra:github:BranchRuleset"


@dataclass(frozen=True, kw_only=True)
class BranchRulesetArgs:
    repository: str
    """The repository's name (its owner is the provider's)."""
    branch: str
    """The branch the ruleset applies to."""
    required_checks: Sequence[str]
    """Check-run names that must pass before a pull request merges."""
    checks_app_id: Optional[int] = None
    """The app each required check must come from. Defaults to none: any source."""
    required_approvals: int = 1
    """Approving reviews a pull request needs. Defaults to 1."""
    ruleset_name: str = "mlinfra"
    """The ruleset's name, as Settings > Rules shows it. Defaults to mlinfra."""


class BranchRuleset(Component):
    """Outputs: ruleset_id."""

    Args = BranchRulesetArgs

    def __init__(self, name: str, args: BranchRulesetArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        checks = [{"context": c, **({"integration_id": args.checks_app_id} if args.checks_app_id else {})}
                  for c in args.required_checks]
        rules: dict = {
            "deletion": True, "non_fast_forward": True,
            "pull_request": {"required_approving_review_count": args.required_approvals,
                             "dismiss_stale_reviews_on_push": True,
                             "require_last_push_approval": args.required_approvals > 0},
        }
        if checks:
            rules["required_status_checks"] = {"required_checks": checks, "strict_required_status_checks_policy": True}
        self.ruleset = github.RepositoryRuleset(
            name, repository=args.repository, name=args.ruleset_name, target="branch", enforcement="active",
            conditions={"ref_name": {"includes": [f"refs/heads/{args.branch}"], "excludes": []}},
            rules=rules, opts=self.child())
        self.ruleset_id = self.ruleset.ruleset_id
        self.register_outputs({"ruleset_id": self.ruleset_id})
