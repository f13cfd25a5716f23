"""The stack's image repository on AWS: an ECR repository scanning every push, KMS-encrypted,
with immutable tags in prod, and a lifecycle policy expiring untagged images."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from components.core.component import Component

TYPE = "mlinfra:aws:EcrRepository"


@dataclass(frozen=True, kw_only=True)
class EcrRepositoryArgs:
    repository_name: str
    """The repository's name."""
    immutable_tags: bool = False
    """Refuse to overwrite a tag (prod). Defaults to false."""
    protect: bool = False
    """Protect the repository (prod). Defaults to false."""


class EcrRepository(Component):
    """Outputs: url, arn."""

    def __init__(self, name: str, args: EcrRepositoryArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        self.repository = aws.ecr.Repository(
            name, name=args.repository_name, image_tag_mutability="IMMUTABLE" if args.immutable_tags else "MUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS")],
            force_delete=not args.protect, opts=self.child(protect=args.protect))
        aws.ecr.LifecyclePolicy(f"{name}-lifecycle", repository=self.repository.name, policy=json.dumps({"rules": [{
            "rulePriority": 1, "description": "expire untagged images after 14 days",
            "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14},
            "action": {"type": "expire"}}]}), opts=self.child())
        self.url = self.repository.repository_url
        self.arn = self.repository.arn
        self.register_outputs({"url": self.url, "arn": self.arn})
