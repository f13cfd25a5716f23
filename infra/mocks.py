"""Plausible cloud answers for the offline plan and the tests.

Each resource gets back its inputs plus the outputs Google Cloud would compute (emails,
URLs, IDs), derived from its inputs so the same stack always plans the same. An invoke the
table does not know fails loudly: a made-up answer could hide a real mistake.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Callable, Optional

from pulumi.runtime import mocks

REGION_CODES = {"us-central1": "uc", "us-east1": "ue", "us-east4": "uk", "us-west1": "uw",
                "europe-west1": "ew", "europe-west4": "ez", "asia-southeast1": "as", "asia-south1": "el"}


class UnknownInvoke(Exception):
    def __init__(self, token: str):
        super().__init__(
            f"the offline plan has no answer for the invoke {token}; add one to INVOKES in infra/mocks.py "
            f"(what would Google Cloud return?)")
        self.token = token


def _hash(text: str, n: int = 10) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def project_number(project: str) -> str:
    return str(int(_hash(project, 12), 16))[:12]


class CloudMocks(mocks.Mocks):
    """Answers for `gcp:*` (and any other) resources under Pulumi's mock engine."""

    def __init__(self, project: str = "mlinfra-offline", region: str = "us-central1"):
        self.project = project
        self.region = region
        self.invokes: list[str] = []
        self.unknown_invokes: list[str] = []

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[Optional[str], dict]:
        state = dict(args.inputs)
        if args.typ.startswith("gcp:"):
            state.setdefault("project", self.project)
            if "name" not in state and not args.typ.startswith(("gcp:projects/iAMMember", "gcp:storage/bucketIAMMember")):
                state["name"] = f"{args.name}-{_hash(args.name, 7)}"
        if args.typ.startswith("aws:"):
            state.update(aws_outputs(self, args.typ, args.name, state))
        make = RESOURCES.get(args.typ)
        extra = make(self, args.name, state) if make else {}
        state.update(extra)
        resource_id = state.pop("__id", None) or state.get("name") or args.name
        return str(resource_id), state

    def call(self, args: mocks.MockCallArgs) -> dict:
        self.invokes.append(args.token)
        answer = INVOKES.get(args.token)
        if answer is None:
            self.unknown_invokes.append(args.token)
            raise UnknownInvoke(args.token)
        return answer(self, args.args)

    def run_url(self, name: str, tag: Optional[str] = None) -> str:
        code = REGION_CODES.get(self.region, "uc")
        prefix = f"{tag}---" if tag else ""
        return f"https://{prefix}{name}-{_hash(self.project + name)}-{code}.a.run.app"


def _account(m: CloudMocks, name: str, s: dict) -> dict:
    email = f"{s['accountId']}@{s['project']}.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}", "uniqueId": str(int(_hash(email, 15), 16)),
            "name": f"projects/{s['project']}/serviceAccounts/{email}",
            "__id": f"projects/{s['project']}/serviceAccounts/{email}"}


def _bucket(m: CloudMocks, name: str, s: dict) -> dict:
    return {"url": f"gs://{s['name']}", "selfLink": f"https://www.googleapis.com/storage/v1/b/{s['name']}"}


def _global(kind: str) -> Callable[[CloudMocks, str, dict], dict]:
    def make(m: CloudMocks, name: str, s: dict) -> dict:
        path = f"projects/{s['project']}/global/{kind}/{s['name']}"
        return {"__id": path, "selfLink": f"https://www.googleapis.com/compute/v1/{path}"}
    return make


def _regional(kind: str) -> Callable[[CloudMocks, str, dict], dict]:
    def make(m: CloudMocks, name: str, s: dict) -> dict:
        path = f"projects/{s['project']}/regions/{s.get('region', m.region)}/{kind}/{s['name']}"
        return {"__id": path, "selfLink": f"https://www.googleapis.com/compute/v1/{path}"}
    return make


def _run_service(m: CloudMocks, name: str, s: dict) -> dict:
    statuses = [{"type": t.get("type"), "revision": t.get("revision"), "percent": t.get("percent"),
                 "tag": t.get("tag"), "uri": m.run_url(s["name"], t.get("tag")) if t.get("tag") else None}
                for t in s.get("traffics") or []]
    return {"uri": m.run_url(s["name"]), "urls": [m.run_url(s["name"])], "trafficStatuses": statuses,
            "__id": f"projects/{s['project']}/locations/{s.get('location', m.region)}/services/{s['name']}"}


def _run_job(m: CloudMocks, name: str, s: dict) -> dict:
    return {"__id": f"projects/{s['project']}/locations/{s.get('location', m.region)}/jobs/{s['name']}"}


def _function(m: CloudMocks, name: str, s: dict) -> dict:
    url = m.run_url(s["name"])
    service_config = dict(s.get("serviceConfig") or {})
    service_config.update({"uri": url, "service": f"projects/{s['project']}/locations/{s.get('location')}/services/{s['name']}"})
    return {"url": url, "state": "ACTIVE", "serviceConfig": service_config,
            "__id": f"projects/{s['project']}/locations/{s.get('location', m.region)}/functions/{s['name']}"}


def _topic(m: CloudMocks, name: str, s: dict) -> dict:
    return {"__id": f"projects/{s['project']}/topics/{s['name']}"}


def _workflow(m: CloudMocks, name: str, s: dict) -> dict:
    return {"__id": f"projects/{s['project']}/locations/{s.get('region', m.region)}/workflows/{s['name']}"}


def _repository(m: CloudMocks, name: str, s: dict) -> dict:
    return {"name": s["repositoryId"],
            "__id": f"projects/{s['project']}/locations/{s.get('location')}/repositories/{s['repositoryId']}"}


def _object(m: CloudMocks, name: str, s: dict) -> dict:
    return {"outputName": s["name"], "mediaLink": f"https://storage.googleapis.com/download/storage/v1/b/{s.get('bucket')}/o/{s['name']}",
            "md5hash": _hash(s["name"], 22)}


def _cluster(m: CloudMocks, name: str, s: dict) -> dict:
    ca = base64.b64encode(f"offline-plan CA of {s['name']}".encode()).decode()
    location = s.get("location", m.region)
    return {"endpoint": f"172.16.{int(_hash(s['name'], 2), 16) % 250}.2", "masterVersion": "offline",
            "masterAuth": {**(s.get("masterAuth") or {}), "clusterCaCertificate": ca},
            "selfLink": f"https://container.googleapis.com/v1/projects/{s['project']}/locations/{location}/clusters/{s['name']}",
            "__id": f"projects/{s['project']}/locations/{location}/clusters/{s['name']}"}


def _custom_service(m: CloudMocks, name: str, s: dict) -> dict:
    path = f"projects/{project_number(s['project'])}/services/{s['serviceId']}"
    return {"name": path, "__id": path}


def _slo(m: CloudMocks, name: str, s: dict) -> dict:
    path = f"projects/{project_number(s['project'])}/services/{s['service']}/serviceLevelObjectives/{s['sloId']}"
    return {"name": path, "__id": path}


def _channel(m: CloudMocks, name: str, s: dict) -> dict:
    path = f"projects/{s['project']}/notificationChannels/{int(_hash(name, 12), 16) % 10**18}"
    return {"name": path, "__id": path}


def _flex_job(m: CloudMocks, name: str, s: dict) -> dict:
    job_id = f"2026-01-01_00_00_00-{int(_hash(s['name'], 12), 16)}"
    return {"jobId": job_id, "state": "JOB_STATE_RUNNING", "type": "JOB_TYPE_STREAMING", "__id": job_id}


def _pem(subject: str) -> str:
    body = base64.b64encode(f"offline-plan CA of {subject}".encode()).decode()
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----"


def _private_ip(name: str) -> str:
    return f"10.{200 + int(_hash(name, 2), 16) % 50}.{int(_hash(name + 'b', 2), 16)}.{2 + int(_hash(name + 'c', 2), 16) % 250}"


def _valkey(m: CloudMocks, name: str, s: dict) -> dict:
    """A Memorystore for Valkey instance: its PSC primary endpoint and (with TLS) its managed CA."""
    location = s.get("location", m.region)
    path = f"projects/{s['project']}/locations/{location}/instances/{s['instanceId']}"
    network = ((s.get("desiredAutoCreatedEndpoints") or [{}])[0]).get("network")
    primary = {"connectionType": "CONNECTION_TYPE_PRIMARY", "ipAddress": _private_ip(path), "port": 6379,
               "network": network, "projectId": s["project"]}
    reader = {**primary, "connectionType": "CONNECTION_TYPE_READER", "ipAddress": _private_ip(path + "/reader")}
    tls = s.get("transitEncryptionMode") == "SERVER_AUTHENTICATION"
    return {"name": path, "__id": path, "state": "ACTIVE",
            "endpoints": [{"connections": [{"pscAutoConnection": primary}, {"pscAutoConnection": reader}]}],
            "managedServerCas": [{"caCerts": [{"certificates": [_pem(path)]}]}] if tls else []}


def _redis(m: CloudMocks, name: str, s: dict) -> dict:
    """A Memorystore for Redis instance: host, port (6378 with TLS, 6379 without) and its server CA."""
    region = s.get("region", m.region)
    path = f"projects/{s['project']}/locations/{region}/instances/{s['name']}"
    tls = s.get("transitEncryptionMode") == "SERVER_AUTHENTICATION"
    return {"__id": path, "host": _private_ip(path), "port": 6378 if tls else 6379,
            "serverCaCerts": [{"cert": _pem(path)}] if tls else []}


def _pool(m: CloudMocks, name: str, s: dict) -> dict:
    """A workload identity pool: its resource name takes the project's number, not its id."""
    path = f"projects/{project_number(s['project'])}/locations/global/workloadIdentityPools/{s['workloadIdentityPoolId']}"
    return {"name": path, "state": "ACTIVE", "__id": path}


def _pool_provider(m: CloudMocks, name: str, s: dict) -> dict:
    path = (f"projects/{project_number(s['project'])}/locations/global/workloadIdentityPools/"
            f"{s['workloadIdentityPoolId']}/providers/{s['workloadIdentityPoolProviderId']}")
    return {"name": path, "state": "ACTIVE", "__id": path}


AWS_ACCOUNT = "123456789012"


def aws_outputs(m: CloudMocks, typ: str, name: str, s: dict) -> dict:
    """What AWS computes for every resource (an ID and an ARN), and the few outputs the program reads."""
    service, kind = typ.split(":")[1].split("/")[0], typ.rsplit(":", 1)[-1]
    own = s.get("name") or s.get("bucket") or f"{name}-{_hash(name, 7)}"
    out: dict[str, Any] = {"arn": f"arn:aws:{service}:{m.region}:{AWS_ACCOUNT}:{kind.lower()}/{own}",
                           "__id": own if "name" in s or "bucket" in s else f"{kind.lower()}-{_hash(name, 17)}"}
    if typ == "aws:iam/role:Role":
        out.update(name=own, arn=f"arn:aws:iam::{AWS_ACCOUNT}:role/{own}", __id=own)
    elif typ == "aws:iam/policy:Policy":
        own_arn = f"arn:aws:iam::{AWS_ACCOUNT}:policy/{own}"
        out.update(name=own, arn=own_arn, __id=own_arn)
    elif typ == "aws:s3/bucket:Bucket":
        out.update(arn=f"arn:aws:s3:::{own}", __id=own)
    elif typ == "aws:kms/key:Key":
        key_id = str(uuid_of(name))
        out.update(keyId=key_id, arn=f"arn:aws:kms:{m.region}:{AWS_ACCOUNT}:key/{key_id}", __id=key_id)
    elif typ == "aws:ecr/repository:Repository":
        out.update(repositoryUrl=f"{AWS_ACCOUNT}.dkr.ecr.{m.region}.amazonaws.com/{own}", registryId=AWS_ACCOUNT)
    elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
        out.update(latestVersion=1, defaultVersion=1)
    elif typ == "aws:eks/cluster:Cluster":
        ca = base64.b64encode(f"offline-plan CA of {own}".encode()).decode()
        out.update(endpoint=f"https://{_hash(own, 32).upper()}.gr7.{m.region}.eks.amazonaws.com",
                   certificateAuthority={"data": ca}, status="ACTIVE", arn=f"arn:aws:eks:{m.region}:{AWS_ACCOUNT}:cluster/{own}",
                   vpcConfig={**(s.get("vpcConfig") or {}), "clusterSecurityGroupId": f"sg-{_hash(own, 17)}"})
    elif typ == "aws:cloudwatch/eventRule:EventRule":
        out.update(name=own, arn=f"arn:aws:events:{m.region}:{AWS_ACCOUNT}:rule/{own}", __id=own)
    elif typ == "aws:sqs/queue:Queue":
        out.update(arn=f"arn:aws:sqs:{m.region}:{AWS_ACCOUNT}:{own}", url=f"https://sqs.{m.region}.amazonaws.com/{AWS_ACCOUNT}/{own}",
                   __id=f"https://sqs.{m.region}.amazonaws.com/{AWS_ACCOUNT}/{own}")
    elif typ in ("aws:lb/loadBalancer:LoadBalancer", "aws:lb/targetGroup:TargetGroup"):
        # The ARN ends in the suffix CloudWatch's LoadBalancer and TargetGroup dimensions take.
        suffix = f"{'app' if typ.endswith('LoadBalancer') else 'targetgroup'}/{own}/{_hash(name, 16)}"
        kind = "loadbalancer" if typ.endswith("LoadBalancer") else ""
        arn = f"arn:aws:elasticloadbalancing:{m.region}:{AWS_ACCOUNT}:{kind + '/' if kind else ''}{suffix}"
        out.update(arn=arn, arnSuffix=suffix, __id=arn)
        if typ.endswith("LoadBalancer"):
            out.update(dnsName=f"internal-{own}-{int(_hash(name, 8), 16) % 10**10}.{m.region}.elb.amazonaws.com")
    elif typ in ("aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cloudwatch/compositeAlarm:CompositeAlarm"):
        # An alarm's ARN ends in `alarm:<name>`, what alarm widgets and composite rules name.
        alarm = s.get("alarmName") or own
        out.update(arn=f"arn:aws:cloudwatch:{m.region}:{AWS_ACCOUNT}:alarm:{alarm}", __id=alarm)
    elif typ == "aws:sns/topic:Topic":
        out.update(arn=f"arn:aws:sns:{m.region}:{AWS_ACCOUNT}:{own}", __id=f"arn:aws:sns:{m.region}:{AWS_ACCOUNT}:{own}")
    elif typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
        host = str(s.get("url", "")).removeprefix("https://")
        out.update(arn=f"arn:aws:iam::{AWS_ACCOUNT}:oidc-provider/{host}", __id=f"arn:aws:iam::{AWS_ACCOUNT}:oidc-provider/{host}")
    elif typ == "aws:eks/nodeGroup:NodeGroup":
        out.update(__id=f"{s.get('clusterName')}:{s.get('nodeGroupName')}")
    return out


def uuid_of(text: str) -> str:
    h = _hash(text, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


RESOURCES: dict[str, Callable[[CloudMocks, str, dict], dict]] = {
    "gcp:container/cluster:Cluster": _cluster,
    "gcp:serviceaccount/account:Account": _account,
    "gcp:storage/bucket:Bucket": _bucket,
    "gcp:storage/bucketObject:BucketObject": _object,
    "gcp:compute/network:Network": _global("networks"),
    "gcp:compute/firewall:Firewall": _global("firewalls"),
    "gcp:compute/subnetwork:Subnetwork": _regional("subnetworks"),
    "gcp:compute/router:Router": _regional("routers"),
    "gcp:cloudrunv2/service:Service": _run_service,
    "gcp:cloudrunv2/job:Job": _run_job,
    "gcp:cloudfunctionsv2/function:Function": _function,
    "gcp:pubsub/topic:Topic": _topic,
    "gcp:workflows/workflow:Workflow": _workflow,
    "gcp:artifactregistry/repository:Repository": _repository,
    "gcp:monitoring/customService:CustomService": _custom_service,
    "gcp:monitoring/slo:Slo": _slo,
    "gcp:monitoring/notificationChannel:NotificationChannel": _channel,
    "gcp:dataflow/flexTemplateJob:FlexTemplateJob": _flex_job,
    "gcp:memorystore/instance:Instance": _valkey,
    "gcp:redis/instance:Instance": _redis,
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": _pool,
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": _pool_provider,
}


def _gcs_agent(m: CloudMocks, args: dict) -> dict:
    project = args.get("project") or m.project
    email = f"service-{project_number(project)}@gs-project-accounts.iam.gserviceaccount.com"
    return {"emailAddress": email, "member": f"serviceAccount:{email}", "project": project, "id": email}


def _project(m: CloudMocks, args: dict) -> dict:
    project = args.get("projectId") or m.project
    return {"projectId": project, "number": project_number(project), "name": project, "id": f"projects/{project}"}


def _client_config(m: CloudMocks, args: dict) -> dict:
    return {"project": m.project, "region": m.region, "accessToken": "offline-plan", "id": "offline"}


INVOKES: dict[str, Callable[[CloudMocks, dict], dict]] = {
    "gcp:storage/getProjectServiceAccount:getProjectServiceAccount": _gcs_agent,
    "gcp:organizations/getProject:getProject": _project,
    "gcp:organizations/getClientConfig:getClientConfig": _client_config,
}
