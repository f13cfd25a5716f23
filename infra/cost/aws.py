"""The AWS stacks' monthly estimate: the EKS cluster fee, managed node groups on demand, NAT
gateways and their addresses, S3 buckets and KMS keys, from `aws_prices.py`. Same three figures
as on Google Cloud (idle, expected, peak); what the table cannot price is listed, never zero."""

from __future__ import annotations

from typing import Any, Optional

from infra.cost import aws_prices as ap
from infra.cost.lines import Line, Unpriced, flag, flat, money
from infra.cost.spec import CostSpec

# No charge of their own: IAM, VPC plumbing, bucket settings, EKS access and add-on objects (the
# add-ons run on the nodes), key aliases, policies, event targets.
FREE_PREFIXES = (
    "aws:iam/", "aws:ec2/vpc:", "aws:ec2/subnet:", "aws:ec2/routeTable:", "aws:ec2/routeTableAssociation:",
    "aws:ec2/internetGateway:", "aws:ec2/defaultSecurityGroup:", "aws:ec2/securityGroup", "aws:ec2/tag:",
    "aws:s3/bucketPolicy:", "aws:s3/bucketOwnershipControls:", "aws:s3/bucketPublicAccessBlock:",
    "aws:s3/bucketServerSideEncryptionConfiguration:", "aws:s3/bucketVersioning:",
    "aws:s3/bucketLifecycleConfiguration:", "aws:s3/bucketObjectLockConfiguration:", "aws:eks/addon:",
    "aws:eks/podIdentityAssociation:", "aws:eks/accessEntry:", "aws:eks/accessPolicyAssociation:",
    "aws:kms/alias:", "aws:ecr/lifecyclePolicy:", "aws:sqs/queuePolicy:", "aws:cloudwatch/eventTarget:",
)

KARPENTER_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NOT_PRICED = {
    "aws:ec2/launchTemplate:LaunchTemplate": "the gp3 boot volumes of the nodes launched from it: no confirmed "
                                             "EBS rate in the table",
    "aws:ecr/repository:Repository": "ECR bills GB-months of images stored; no confirmed ECR rate in the table",
    "aws:cloudwatch/logGroup:LogGroup": "CloudWatch Logs bills GB ingested and stored, which traffic decides; "
                                        "no confirmed rate in the table",
    "aws:ec2/flowLog:FlowLog": "its records are billed as CloudWatch Logs ingestion, by traffic",
    "aws:sqs/queue:Queue": "SQS bills requests (Karpenter's interruption messages); no confirmed rate in the table",
    "aws:cloudwatch/eventRule:EventRule": "EventBridge rule on AWS service events; no confirmed rate in the table",
    "aws:cloudwatch/dashboard:Dashboard": "CloudWatch bills custom dashboards by the month beyond an account's free "
                                          "three (of up to 50 metrics each); no confirmed rate in the table",
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": "Firehose bills GB ingested (Direct PUT: each "
                                                                 "record rounded up to 5 KB), which the servers' "
                                                                 "traffic and sampleRate decide; no confirmed rate in "
                                                                 "the table",
    KARPENTER_POOL: "the EC2 capacity Karpenter launches: instance types and counts are "
                                           "chosen at run time within the pool's requirements and limits",
}


def node_group(name: str, type_: str, i: dict[str, Any], region: str, spec: CostSpec) -> Line | Unpriced:
    """On demand: the first instance type in the list (managed node groups launch on-demand
    capacity by that priority), `minSize`-`maxSize` nodes; the boot volumes are listed under the
    launch template. Spot: not priced (market prices)."""
    types = i.get("instanceTypes") or ["t3.medium"]
    if i.get("capacityType") == "SPOT":
        return Unpriced(name, type_, f"spot {', '.join(types)}: Spot prices are market prices that change per zone "
                                     "every few minutes; the table holds none", nodes="spot")
    price = ap.EC2_ON_DEMAND.get((region, types[0]))
    if price is None:
        return Unpriced(name, type_, f"no price for instance type {types[0]} in {region} in the table",
                        nodes="unpriced")
    scaling = i.get("scalingConfig") or {}
    lo, hi = int(scaling.get("minSize", 0)), int(scaling.get("maxSize", 0))
    h, busy, rate = spec.hours_per_month, spec.busy_hours_per_month, price.usd
    used: list[str] = []
    flag(used, price)
    return Line(name, type_, f"{lo}-{hi} x {types[0]} on demand", money(lo * h * rate),
                money((lo * h + (hi - lo) * spec.average_scale * busy) * rate), money(hi * h * rate),
                unconfirmed=used)


OBSERVABILITY = ("Container Insights with enhanced observability (the amazon-cloudwatch-observability add-on) bills "
                 "per observation sent, which the cluster's pods, nodes and GPUs decide, and its container logs as "
                 "CloudWatch Logs ingestion; no confirmed rate in the table")


def price(name: str, type_: str, i: dict[str, Any], region: str, spec: CostSpec) -> Optional[Line | Unpriced]:
    """The line of one AWS resource; None for a resource with no charge of its own (an add-on's own
    objects are free; CloudWatch Observability's metrics are not, and are listed)."""
    if type_ == "aws:eks/addon:Addon" and i.get("addonName") == "amazon-cloudwatch-observability":
        return Unpriced(name, type_, OBSERVABILITY)
    if type_.startswith(FREE_PREFIXES):
        return None
    if type_ in NOT_PRICED:
        return Unpriced(name, type_, NOT_PRICED[type_], nodes="karpenter" if type_ == KARPENTER_POOL else None)
    if region not in ap.REGIONS:
        return Unpriced(name, type_, f"no AWS prices for {region} in the table")
    h = spec.hours_per_month
    if type_ == "aws:eks/cluster:Cluster":
        extended = (i.get("upgradePolicy") or {}).get("supportType") == "EXTENDED"
        fee = ap.EKS_EXTENDED if extended else ap.EKS_STANDARD
        return flat(name, type_, f"cluster fee ({'extended' if extended else 'standard'} support)", fee.usd * h, fee)
    if type_ == "aws:eks/nodeGroup:NodeGroup":
        return node_group(name, type_, i, region, spec)
    if type_ == "aws:ec2/natGateway:NatGateway":
        hours, data = ap.NAT_HOUR.usd * h, spec.nat_gib_per_month * ap.NAT_DATA.usd
        used: list[str] = []
        flag(used, ap.NAT_HOUR, ap.NAT_DATA)
        return Line(name, type_, f"gateway + {spec.nat_gib_per_month:g} GB processed", money(hours),
                    money(hours + data), money(hours + data), unconfirmed=used)
    if type_ == "aws:ec2/eip:Eip":
        return flat(name, type_, "public IPv4 address", ap.PUBLIC_IPV4.usd * h, ap.PUBLIC_IPV4)
    if type_ == "aws:s3/bucket:Bucket":
        purpose = (i.get("tags") or {}).get("purpose", "")
        gb = {"data-lake": spec.data_lake_gb, "model-artifacts": spec.artifacts_gb}.get(purpose, spec.other_bucket_gb)
        return flat(name, type_, f"{gb:g} GB S3 Standard ({purpose or 'bucket'})", gb * ap.S3_STANDARD.usd,
                    ap.S3_STANDARD)
    if type_ == "aws:kms/key:Key":
        rotation = ", + $1 a month per automatic rotation" if i.get("enableKeyRotation") else ""
        return flat(name, type_, f"customer managed key{rotation}", ap.KMS_KEY.usd, ap.KMS_KEY)
    return Unpriced(name, type_, "not in the price table")
