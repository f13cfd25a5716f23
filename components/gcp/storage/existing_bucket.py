"""A bucket the stack does not own, named in full (a model in another of your buckets): the
stack changes nothing on it but the read grants its workloads need, each a binding of its own
(never the bucket's whole policy), parented here so the plan shows them under the bucket."""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.gcp.iam.principals import Principal

TYPE = "mlinfra:gcp:ExistingBucket"
READ = "roles/storage.objectViewer"


class ExistingBucket(Component):
    """Outputs: bucket_name."""

    def __init__(self, name: str, bucket: str, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        self.bucket_name = bucket
        self.global_name = bucket
        self._reads: dict[str, gcp.storage.BucketIAMMember] = {}
        self.register_outputs({"bucket_name": bucket})

    def grant_read(self, principal: Principal) -> gcp.storage.BucketIAMMember:
        """Read objects (list and get), on this bucket only; once per principal, however many
        services, triggers or jobs ask for it."""
        if principal.principal_name not in self._reads:
            self._reads[principal.principal_name] = gcp.storage.BucketIAMMember(
                f"{self.name}-{principal.principal_name}-read", bucket=self.bucket_name, role=READ,
                member=principal.member, opts=self.child())
        return self._reads[principal.principal_name]
