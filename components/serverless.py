"""The serverless pattern: model servers on Cloud Run and triggers as Cloud Functions (gen2),
on a private network, beside the data lake and the model-artifact bucket. No cluster; every
part scales to zero unless told otherwise. For intermittent, unpredictable traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi

from components.cloud_run_service import CloudRunModelServer, CloudRunModelServerArgs, CloudRunServiceSpec
from components.naming import dns_name
from components.platform import Platform, PlatformArgs

SERVING_APIS = ("run.googleapis.com", "compute.googleapis.com", "iam.googleapis.com", "storage.googleapis.com",
                "artifactregistry.googleapis.com", "secretmanager.googleapis.com")


@dataclass(kw_only=True)
class ServerlessPlatformArgs(PlatformArgs):
    services: Sequence[CloudRunServiceSpec] = ()


class ServerlessPlatform(Platform):
    """Outputs: service_urls, service_tagged_urls, service_revisions, trigger_urls, buckets,
    image_repository, network."""

    def __init__(self, name: str, args: ServerlessPlatformArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("mlinfra:pattern:Serverless", name, args, SERVING_APIS, opts)

        self.services = {
            spec.name: CloudRunModelServer(f"{name}-svc-{spec.name}", CloudRunModelServerArgs(
                spec, service_name=dns_name(spec.name, args.stack, max_len=40), region=args.region,
                project=args.project, network_id=self.network.network_id,
                subnetwork_id=self.network.subnetwork_id, egress=args.network.egress,
                model_bucket=self.storage.artifacts, deletion_protection=args.prod), opts=self.after_apis)
            for spec in args.services
        }
        self.build_triggers()

        self.outputs = {
            "service_urls": {n: s.url for n, s in self.services.items()},
            "service_tagged_urls": {n: s.tagged_urls for n, s in self.services.items()},
            "service_revisions": {n: s.revisions for n, s in self.services.items()},
            **self.common_outputs(),
        }
        self.register_outputs(self.outputs)
