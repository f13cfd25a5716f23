"""A Docker repository in Artifact Registry for serving and training images."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component

TYPE = "mlinfra:gcp:ArtifactRegistry"


@dataclass(frozen=True, kw_only=True)
class ArtifactRegistryArgs:
    repository_id: str
    """The repository's ID."""
    location: str
    """Its region."""
    immutable_tags: bool = False
    """Refuse to move a tag once pushed (prod: a deployed version cannot change under you). Defaults to false."""
    keep_recent: int = 20
    """Cleanup keeps this many most recent versions of each image. Defaults to 20."""
    untagged_max_age_days: int = 14
    """Cleanup deletes untagged images older than this. Defaults to 14."""
    protect: bool = False
    """Protect the repository (prod). Defaults to false."""


class ArtifactRegistry(Component):
    """Outputs: repository_id, url (`<location>-docker.pkg.dev/<project>/<repository>`)."""

    def __init__(self, name: str, args: ArtifactRegistryArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        self.repository = gcp.artifactregistry.Repository(
            name,
            repository_id=args.repository_id,
            location=args.location,
            format="DOCKER",
            description="mlinfra serving and training images",
            docker_config=gcp.artifactregistry.RepositoryDockerConfigArgs(immutable_tags=args.immutable_tags),
            cleanup_policy_dry_run=False,
            cleanup_policies=[
                gcp.artifactregistry.RepositoryCleanupPolicyArgs(
                    id="keep-recent", action="KEEP",
                    most_recent_versions=gcp.artifactregistry.RepositoryCleanupPolicyMostRecentVersionsArgs(
                        keep_count=args.keep_recent)),
                gcp.artifactregistry.RepositoryCleanupPolicyArgs(
                    id="delete-old-untagged", action="DELETE",
                    condition=gcp.artifactregistry.RepositoryCleanupPolicyConditionArgs(
                        tag_state="UNTAGGED", older_than=f"{args.untagged_max_age_days * 86400}s")),
            ],
            opts=self.child(protect=args.protect),
        )
        self.url = pulumi.Output.concat(f"{args.location}-docker.pkg.dev/", self.repository.project, "/",
                                        self.repository.repository_id)
        self.register_outputs({"url": self.url})
