"""The serverless pattern: model servers on Cloud Run and triggers as Cloud Functions (gen2),
on a private network, beside the data lake and the model-artifact bucket. No cluster; every
part scales to zero unless told otherwise. For intermittent, unpredictable traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from infra.patterns.pattern_component import PatternArgs, PatternComponent
from infra.platforms.cloudrun import APIS as CLOUD_RUN_APIS

TYPE = "mlinfra:pattern:Serverless"
APIS = ("compute.googleapis.com", "iam.googleapis.com", "storage.googleapis.com",
        "artifactregistry.googleapis.com") + CLOUD_RUN_APIS


@dataclass(frozen=True, kw_only=True)
class ServerlessArgs(PatternArgs):
    """Everything the pattern takes is common to all patterns (PatternArgs)."""


class Serverless(PatternComponent):
    """Outputs: service_urls, service_tagged_urls, service_revisions, trigger_urls, buckets,
    image_repository, network."""

    Args = ServerlessArgs

    def __init__(self, name: str, args: ServerlessArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, args, APIS, opts)
        self.serve()
        self.build_triggers()
        self.build_dashboard()

        self.outputs = {
            "service_urls": {n: s.url for n, s in self.services.items()},
            "service_tagged_urls": {n: s.tagged_urls for n, s in self.services.items()},
            "service_revisions": {n: s.revisions for n, s in self.services.items()},
            **self.common_outputs(),
        }
        self.register_outputs(self.outputs)
