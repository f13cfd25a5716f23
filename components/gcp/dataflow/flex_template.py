"""A Flex Template spec file: the launcher image and the template's metadata, written to a
bucket at a path carrying a hash of its content, so the path changes exactly when the
template does and a running job or a schedule always names a file that never changes under it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.gcp.storage.bucket import Bucket

TYPE = "mlinfra:gcp:FlexTemplate"


def spec_content(image: str, metadata: Mapping[str, Any]) -> str:
    """The spec file Dataflow reads: image, Python SDK, and the template's metadata."""
    return json.dumps({"image": image, "sdkInfo": {"language": "PYTHON"}, "metadata": metadata},
                      indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True, kw_only=True)
class FlexTemplateArgs:
    template_name: str
    """The folder under `templates/` the spec files of this template go to."""
    image: str
    """The launcher image (CI builds and pushes it)."""
    metadata: Mapping[str, Any]
    """The template's metadata.json, as parsed."""
    bucket: Bucket
    """Where the spec file is written (the stack's Dataflow staging bucket)."""


class FlexTemplate(Component):
    """Outputs: gcs_path (`gs://<bucket>/templates/<name>/<hash>.json`)."""

    def __init__(self, name: str, args: FlexTemplateArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        content = spec_content(args.image, args.metadata)
        self.digest = hashlib.sha256(content.encode()).hexdigest()[:16]
        self.object = gcp.storage.BucketObject(
            name,
            bucket=args.bucket.bucket_name,
            name=f"templates/{args.template_name}/{self.digest}.json",
            content=content,
            content_type="application/json",
            opts=self.child(),
        )
        self.gcs_path = pulumi.Output.concat("gs://", args.bucket.bucket_name, "/", self.object.name)
        self.register_outputs({"gcs_path": self.gcs_path})
