"""What each CI stack's deploy and preview identities may do, derived from what the stack creates.

Every CI stack is planned offline (the same plan `mlinfra plan` shows); each resource type
token it registers, and each data source it reads, is looked up here:

- on Google Cloud, in GCP_ROLES: the narrowest predefined role that creates, updates and
  deletes that type (the deploy account) and the one that reads it (the preview account, for
  `pulumi preview --refresh`); roles/iam.securityReviewer lets the preview account read the IAM
  policies a refresh reads;
- on AWS, in AWS_SERVICES: the IAM action prefix of the type's service and, where the stack
  names the resource (or Pulumi auto-names it after its logical name), the ARNs the actions are
  limited to; the stack's customer-managed policy is built from them (aws_policies).

A type with no entry is an error (UnmappedType): a new component must say what it needs before
any stack can use it (tests/infra/test_deploy_roles.py checks every type a component can create).
The tables name no provider: the bootstrap stack and `mlinfra ci init` read them alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Iterable, Mapping, Optional, Sequence

ACT_AS = "roles/iam.serviceAccountUser"
SECURITY_REVIEWER = "roles/iam.securityReviewer"
PROJECT_IAM_ADMIN = "roles/resourcemanager.projectIamAdmin"
# The resources that grant a role on the project itself (their `role` input is the granted role).
PROJECT_GRANTS = ("gcp:projects/iAMMember:IAMMember",)


@dataclass(frozen=True)
class Grant:
    pattern: str
    """A type token (or data source token) pattern, fnmatch style: `gcp:storage/*`."""
    deploy: tuple[str, ...]
    """Project roles the deploy account needs to create, update and delete it."""
    preview: tuple[str, ...]
    """Project roles the preview account needs to read it."""


def _g(pattern: str, deploy: str | tuple[str, ...], preview: str | tuple[str, ...] = ()) -> Grant:
    as_tuple = lambda v: (v,) if isinstance(v, str) else tuple(v)  # noqa: E731
    return Grant(pattern, as_tuple(deploy), as_tuple(preview))


# First match wins. Roles from Google's IAM predefined roles reference
# (https://cloud.google.com/iam/docs/roles-permissions/<service>); ACT_AS where the resource runs,
# or starts something that runs, as a service account (Cloud Run, functions, Dataflow, Workflows,
# Eventarc, Scheduler, GKE nodes): creating one needs iam.serviceAccounts.actAs on that account.
GCP_ROLES: tuple[Grant, ...] = (
    _g("gcp:artifactregistry/*", "roles/artifactregistry.admin", "roles/artifactregistry.reader"),
    _g("gcp:bigquery/*", "roles/bigquery.admin", "roles/bigquery.metadataViewer"),
    _g("gcp:bigtable/*", "roles/bigtable.admin", "roles/bigtable.viewer"),
    _g("gcp:certificatemanager/*", "roles/certificatemanager.admin", "roles/certificatemanager.viewer"),
    _g("gcp:cloudfunctionsv2/*", ("roles/cloudfunctions.admin", ACT_AS), "roles/cloudfunctions.viewer"),
    _g("gcp:cloudfunctions/*", ("roles/cloudfunctions.admin", ACT_AS), "roles/cloudfunctions.viewer"),
    _g("gcp:cloudrunv2/*", ("roles/run.admin", ACT_AS), "roles/run.viewer"),
    _g("gcp:cloudscheduler/*", ("roles/cloudscheduler.admin", ACT_AS), "roles/cloudscheduler.viewer"),
    # Firewall rules, SSL and Cloud Armor policies are security resources: Network Admin cannot
    # change them, Security Admin can; every other network and load balancer piece is Network Admin's.
    _g("gcp:compute/firewall*", "roles/compute.securityAdmin", "roles/compute.networkViewer"),
    _g("gcp:compute/sSLPolicy*", "roles/compute.securityAdmin", "roles/compute.networkViewer"),
    _g("gcp:compute/regionSslPolicy*", "roles/compute.securityAdmin", "roles/compute.networkViewer"),
    _g("gcp:compute/securityPolicy*", "roles/compute.securityAdmin", "roles/compute.networkViewer"),
    _g("gcp:compute/*", "roles/compute.networkAdmin", "roles/compute.networkViewer"),
    # Cluster and node pools, and (through GKE's IAM-to-RBAC mapping) every Kubernetes object,
    # RBAC roles and bindings included; node pools run as the nodes' account.
    _g("gcp:container/*", ("roles/container.admin", ACT_AS), "roles/container.viewer"),
    _g("kubernetes:*", "roles/container.admin", "roles/container.viewer"),
    _g("gcp:dataflow/*", ("roles/dataflow.admin", ACT_AS), "roles/dataflow.viewer"),
    _g("gcp:eventarc/*", ("roles/eventarc.admin", ACT_AS), "roles/eventarc.viewer"),
    _g("gcp:iam/workloadIdentityPool*", "roles/iam.workloadIdentityPoolAdmin", "roles/iam.workloadIdentityPoolViewer"),
    _g("gcp:iap/*", "roles/iap.admin", SECURITY_REVIEWER),
    _g("gcp:memorystore/*", "roles/memorystore.admin", "roles/memorystore.viewer"),
    _g("gcp:redis/*", "roles/redis.admin", "roles/redis.viewer"),
    _g("gcp:monitoring/*", "roles/monitoring.editor", "roles/monitoring.viewer"),
    # Service connection policies (Memorystore's private endpoints) are Network Admin's.
    _g("gcp:networkconnectivity/*", "roles/compute.networkAdmin", "roles/compute.networkViewer"),
    _g("gcp:servicenetworking/*", "roles/servicenetworking.networksAdmin", "roles/compute.networkViewer"),
    # Limited to the roles the stack grants (grant_condition): without the limit the deploy account
    # could grant itself, or anyone, roles/owner.
    _g("gcp:projects/iAMMember*", PROJECT_IAM_ADMIN, SECURITY_REVIEWER),
    _g("gcp:projects/service*", "roles/serviceusage.serviceUsageAdmin", "roles/serviceusage.serviceUsageViewer"),
    # Topic and subscription IAM needs setIamPolicy, which only Pub/Sub Admin has.
    _g("gcp:pubsub/*", "roles/pubsub.admin", "roles/pubsub.viewer"),
    # Secret IAM needs setIamPolicy, which only Secret Manager Admin has; the viewer reads no payload.
    _g("gcp:secretmanager/*", "roles/secretmanager.admin", "roles/secretmanager.viewer"),
    _g("gcp:serviceaccount/*", "roles/iam.serviceAccountAdmin", "roles/iam.serviceAccountViewer"),
    _g("gcp:storage/*", "roles/storage.admin", ("roles/storage.bucketViewer", "roles/storage.objectViewer")),
    _g("gcp:workflows/*", ("roles/workflows.editor", ACT_AS), "roles/workflows.viewer"),
    # Data sources the program reads.
    _g("gcp:organizations/getProject:*", "roles/browser", "roles/browser"),
    _g("gcp:storage/getProjectServiceAccount:*", "roles/storage.admin", "roles/storage.bucketViewer"),
    # Providers are no cloud resource.
    _g("pulumi:providers:*", ()),
)


class UnmappedType(ValueError):
    """A planned type with no entry in the tables."""


def _grant(token: str, table: Sequence[Any]) -> Any:
    found = next((g for g in table if fnmatchcase(token, g.pattern)), None)
    if found is None:
        raise UnmappedType(token)
    return found


def gcp_roles(types: Iterable[str]) -> tuple[list[str], list[str]]:
    """(deploy roles, preview roles) for the planned type and data source tokens, sorted."""
    deploy, preview = set(), {SECURITY_REVIEWER}
    for token in types:
        grant = _grant(token, GCP_ROLES)
        deploy.update(grant.deploy)
        preview.update(grant.preview)
    return sorted(deploy), sorted(preview)


def grant_condition(roles: Iterable[str]) -> str:
    """The IAM condition (CEL) that limits roles/resourcemanager.projectIamAdmin to granting and
    revoking the given roles only: Google's "limited IAM admin"
    (https://cloud.google.com/iam/docs/setting-limits-on-granting-roles). A setIamPolicy call
    that adds or removes any other role's binding is denied."""
    listed = ", ".join(f"'{r}'" for r in sorted(set(roles)))
    return f"api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly([{listed}])"


@dataclass(frozen=True)
class AwsService:
    pattern: str
    """A type token pattern."""
    prefix: str
    """The IAM action prefix of its service (`eks`)."""
    arns: tuple[str, ...] = ()
    """ARN templates the actions are limited to, given {region} and {name}: the resource's
    physical name (its `name` or `bucket` input, or, auto-named, `<logical name>-*`). None of
    its own (a sub-resource acting through its parent's ARN): the service's actions are limited
    to the parents' ARNs. `*` for a service whose ARNs the stack cannot know (random ids)."""
    regional: bool = True


# First match wins. ARN formats from the AWS Service Authorization Reference (resource types
# of each service); the account is `*`: a role's policy applies within its own account.
AWS_SERVICES: tuple[AwsService, ...] = (
    AwsService("aws:ec2/*", "ec2", ("*",)),
    AwsService("aws:vpc/*", "ec2", ("*",)),
    AwsService("aws:eks/cluster:*", "eks", ("arn:aws:eks:{region}:*:cluster/{name}",
                                            "arn:aws:eks:{region}:*:*/{name}/*")),
    AwsService("aws:eks/*", "eks"),
    AwsService("aws:s3/bucket:*", "s3", ("arn:aws:s3:::{name}", "arn:aws:s3:::{name}/*"), regional=False),
    AwsService("aws:s3/*", "s3", regional=False),
    AwsService("aws:kms/key:*", "kms", ("arn:aws:kms:{region}:*:key/*",)),
    AwsService("aws:kms/alias:*", "kms", ("arn:aws:kms:{region}:*:{name}",)),
    AwsService("aws:ecr/repository:*", "ecr", ("arn:aws:ecr:{region}:*:repository/{name}",)),
    AwsService("aws:ecr/*", "ecr"),
    AwsService("aws:iam/role:*", "iam", ("arn:aws:iam::*:role/{name}",), regional=False),
    AwsService("aws:iam/policy:*", "iam", ("arn:aws:iam::*:policy/{name}",), regional=False),
    AwsService("aws:iam/openIdConnectProvider:*", "iam", ("arn:aws:iam::*:oidc-provider/*",), regional=False),
    AwsService("aws:iam/*", "iam", regional=False),
    AwsService("aws:cloudwatch/logGroup:*", "logs", ("arn:aws:logs:{region}:*:log-group:{name}",
                                                     "arn:aws:logs:{region}:*:log-group:{name}:*")),
    AwsService("aws:cloudwatch/metricAlarm:*", "cloudwatch", ("arn:aws:cloudwatch:{region}:*:alarm:{name}",)),
    AwsService("aws:cloudwatch/compositeAlarm:*", "cloudwatch", ("arn:aws:cloudwatch:{region}:*:alarm:{name}",)),
    # Dashboards are global (no region in the ARN); the API is still called in the stack's region.
    AwsService("aws:cloudwatch/dashboard:*", "cloudwatch", ("arn:aws:cloudwatch::*:dashboard/{name}",)),
    AwsService("aws:cloudwatch/eventRule:*", "events", ("arn:aws:events:{region}:*:rule/{name}",)),
    AwsService("aws:cloudwatch/eventTarget:*", "events"),
    AwsService("aws:sns/topic:*", "sns", ("arn:aws:sns:{region}:*:{name}",)),
    AwsService("aws:sns/*", "sns"),
    AwsService("aws:sqs/queue:*", "sqs", ("arn:aws:sqs:{region}:*:{name}",)),
    AwsService("aws:sqs/*", "sqs"),
    AwsService("aws:kinesis/firehoseDeliveryStream:*", "firehose",
               ("arn:aws:firehose:{region}:*:deliverystream/{name}",)),
    AwsService("aws:lb/loadBalancer:*", "elasticloadbalancing", (
        "arn:aws:elasticloadbalancing:{region}:*:loadbalancer/app/{name}/*",
        "arn:aws:elasticloadbalancing:{region}:*:listener/app/{name}/*",
        "arn:aws:elasticloadbalancing:{region}:*:listener-rule/app/{name}/*")),
    AwsService("aws:lb/targetGroup:*", "elasticloadbalancing",
               ("arn:aws:elasticloadbalancing:{region}:*:targetgroup/{name}/*",)),
    AwsService("aws:lb/*", "elasticloadbalancing"),
    # On EKS the deploy role creates the cluster and is its creator-admin (access entries, API mode).
    AwsService("kubernetes:*", "eks"),
    AwsService("pulumi:providers:*", ""),
)
# Describe/List/Get calls that take no resource (or list before the resource exists), per
# service: none on S3 (its Get* reads every bucket's objects), no log events, no image layers.
_READ_ANYWHERE = ("Describe*", "List*", "Get*")
_READ = {"s3": (), "logs": ("Describe*", "List*"), "ecr": ("Describe*", "List*", "GetAuthorizationToken")}
# Roles the deploy identities are: no stack's deploy role may change them or their policies.
DEPLOY_ROLE_PATTERNS = ("arn:aws:iam::*:role/mlinfra-deploy-*", "arn:aws:iam::*:role/mlinfra-preview-*",
                        "arn:aws:iam::*:policy/mlinfra-deploy-*")
# IAM's limit on a customer-managed policy document, whitespace not counted.
MAX_POLICY_CHARS = 6144


@dataclass(frozen=True)
class Planned:
    """What the tables read of one planned resource."""
    type: str
    name: str
    """The logical name."""
    physical: Optional[str] = None
    """Its `name`, `bucket` or `dashboardName` input when the stack sets it."""
    role: Optional[str] = None
    """A project grant's (PROJECT_GRANTS) `role` input; "" when it is not plain text."""


def planned(registrations: Iterable[Any]) -> list[Planned]:
    """The custom resources of a recording, as the tables read them."""
    found = []
    for r in registrations:
        if not r.custom:
            continue
        physical = next((r.inputs[k] for k in ("name", "bucket", "dashboardName") if isinstance(r.inputs.get(k), str)), None)
        role = None
        if r.type in PROJECT_GRANTS:
            role = r.inputs.get("role") if isinstance(r.inputs.get("role"), str) else ""
        found.append(Planned(r.type, r.name, physical, role))
    return found


class UnknownGrant(ValueError):
    """A project grant whose role the plan does not know, so the deploy account's grants cannot be limited."""


def project_roles(resources: Iterable[Planned]) -> list[str]:
    """The roles a stack grants on its project, sorted: what its deploy account may grant and revoke."""
    roles = set()
    for r in resources:
        if r.type in PROJECT_GRANTS:
            if not r.role:
                raise UnknownGrant(r.name)
            roles.add(r.role)
    return sorted(roles)


def aws_statements(resources: Iterable[Planned], region: str) -> list[dict[str, Any]]:
    """The deploy role's policy statements: per service its actions on the stack's ARNs."""
    arns: dict[str, set[str]] = {}
    regional: dict[str, bool] = {}
    for r in resources:
        service = _grant(r.type, AWS_SERVICES)
        if not service.prefix:
            continue
        arns.setdefault(service.prefix, set())
        regional[service.prefix] = service.regional
        name = r.physical or f"{r.name}-*"
        arns[service.prefix].update(t.format(region=region, name=name) for t in service.arns)
    statements = []
    for prefix in sorted(arns):
        resources_ = sorted(arns[prefix]) or ["*"]
        statement: dict[str, Any] = {"Sid": prefix.title().replace("loadbalancing", "LoadBalancing"),
                                     "Effect": "Allow", "Action": f"{prefix}:*",
                                     "Resource": "*" if "*" in resources_ else resources_}
        if statement["Resource"] == "*" and regional[prefix]:
            statement["Condition"] = {"StringEquals": {"aws:RequestedRegion": region}}
        statements.append(statement)
    reads = [f"{p}:{verb}" for p in sorted(arns) if arns[p] and "*" not in arns[p]
             for verb in _READ.get(p, _READ_ANYWHERE)]
    if reads:
        statements.append({"Sid": "Read", "Effect": "Allow", "Action": reads, "Resource": "*"})
    if "iam" in arns:
        # EKS, node groups and load balancers create their service-linked roles on first use.
        statements.append({"Sid": "ServiceLinkedRoles", "Effect": "Allow", "Action": "iam:CreateServiceLinkedRole",
                           "Resource": "arn:aws:iam::*:role/aws-service-role/*"})
        statements.append({"Sid": "NotTheDeployRoles", "Effect": "Deny", "Action": "iam:*",
                           "Resource": list(DEPLOY_ROLE_PATTERNS)})
    return statements


def document(statements: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, separators=(",", ":"))


def aws_policies(resources: Iterable[Planned], region: str) -> list[str]:
    """The deploy role's policy documents, split so that each stays under IAM's size limit."""
    policies: list[list[dict]] = [[]]
    for statement in (piece for s in aws_statements(resources, region) for piece in _pieces(s)):
        if policies[-1] and len(document(policies[-1] + [statement])) > MAX_POLICY_CHARS:
            policies.append([])
        policies[-1].append(statement)
    documents = [document(p) for p in policies if p]
    too_big = [d for d in documents if len(d) > MAX_POLICY_CHARS]
    if too_big:
        raise ValueError(f"one statement is over IAM's {MAX_POLICY_CHARS}-character policy limit: {too_big[0][:200]}")
    return documents


def _pieces(statement: dict[str, Any]) -> list[dict[str, Any]]:
    """A statement too big for one policy, as several with parts of its resources (Sids numbered)."""
    resources = statement["Resource"]
    if len(document([statement])) <= MAX_POLICY_CHARS or not isinstance(resources, list) or len(resources) < 2:
        return [statement]
    half = len(resources) // 2
    pieces = _pieces({**statement, "Resource": resources[:half]}) + _pieces({**statement, "Resource": resources[half:]})
    return [{**p, "Sid": f"{statement['Sid']}{i + 1}"} for i, p in enumerate(pieces)]


def policy_name(stack_role: str, index: int) -> str:
    """The customer-managed policy of a deploy role: `<role>` then `<role>-2`, ..."""
    return stack_role if index == 0 else f"{stack_role}-{index + 1}"
