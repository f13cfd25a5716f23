"""The AWS half of the price table: USD list prices in the regions the AWS stacks use, for what
they create. A small curated extract, written down by hand: no public AWS price dataset is
vendored (the AWS Price List bulk JSON is public but tens of megabytes per service). Each row
names the page it was read from and the day; where that page is not AWS's own (a third-party
guide quoting the list price) the note says so, and a row derived rather than read says
"not confirmed". Linux, on demand, no free tier, no Savings Plans. Spot prices are market
prices set per zone and changing every few minutes: the table holds none, so spot node groups
are listed as not priced. `tests/infra/test_cost_prices.py` fails once a row is older than 120 days.
"""

from __future__ import annotations

from datetime import date

from infra.cost.prices import Price

CHECKED = date(2026, 12, 2)
REGIONS = ("us-east-1",)

EKS_BLOG = "https://aws.amazon.com/blogs/containers/amazon-eks-extended-support-for-kubernetes-versions-pricing/"
KMS_PAGE = "https://aws.amazon.com/kms/pricing/"
EC2_M6I_GUIDE = "https://c3x.dev/blog/m5-vs-m6i-vs-m7i-cost-performance"
EC2_M5_GUIDE = "https://kindatechnical.com/aws-eks/lesson-31-understanding-eks-pricing.html"
NAT_GUIDE = "https://basavytix.com/blog/aws-nat-gateway-pricing"
IPV4_GUIDE = "https://cloudburn.io/blog/aws-nat-gateway-pricing"
S3_GUIDE = "https://zeonedge.com/blog/cloud-storage-cost-guide-s3-ebs-efs-fsx-choosing-right-tier"

_THIRD = "third-party guide quoting the us-east-1 list price"


def _p(usd: float, unit: str, source: str, sku: str, note: str) -> Price:
    return Price(usd, unit, source, checked=CHECKED, sku=sku, note=note)


EKS_STANDARD = _p(0.10, "per cluster-hour", EKS_BLOG, "Amazon EKS cluster, Kubernetes version in standard support",
                  "AWS's announcement of extended-support pricing: standard support stays $0.10 per cluster-hour")
EKS_EXTENDED = _p(0.60, "per cluster-hour", EKS_BLOG, "Amazon EKS cluster, Kubernetes version in extended support",
                  "the same announcement: $0.60 per cluster-hour in total while a version is in extended support")

# Instance types the node groups name, per region, on demand (Linux, shared tenancy).
EC2_ON_DEMAND: dict[tuple[str, str], Price] = {
    ("us-east-1", "m6i.xlarge"): _p(0.192, "per instance-hour", EC2_M6I_GUIDE,
                                   "EC2 On-Demand Linux m6i.xlarge, US East (N. Virginia)", _THIRD),
    ("us-east-1", "m6i.large"): _p(0.096, "per instance-hour", EC2_M5_GUIDE,
                                  "EC2 On-Demand Linux m6i.large, US East (N. Virginia)",
                                  "not confirmed: no page read quotes m6i.large itself; this guide quotes m5.large "
                                  "at $0.096 and the m6i guide says m5 and m6i cost the same, m6i.xlarge twice "
                                  "this"),
}

NAT_HOUR = _p(0.045, "per gateway-hour", NAT_GUIDE, "NAT Gateway hours, US East (N. Virginia)", _THIRD)
NAT_DATA = _p(0.045, "per GB processed", NAT_GUIDE, "NAT Gateway data processed, US East (N. Virginia)", _THIRD)
PUBLIC_IPV4 = _p(0.005, "per IP-hour", IPV4_GUIDE, "Public IPv4 address (in use or idle)",
                 "third-party guide quoting the list price (AWS bills every public IPv4 address since 2024)")
S3_STANDARD = _p(0.023, "per GB-month", S3_GUIDE, "S3 Standard storage, first 50 TB, US East (N. Virginia)", _THIRD)
KMS_KEY = _p(1.0, "per key-month", KMS_PAGE, "AWS KMS customer managed key",
             "read off the page: $1 a month per key, prorated hourly; each automatic rotation adds $1 a month")


def every_price() -> list[tuple[str, Price]]:
    rows = [("aws eks standard support", EKS_STANDARD), ("aws eks extended support", EKS_EXTENDED)]
    rows += [(f"aws {region} {it} on demand", p) for (region, it), p in EC2_ON_DEMAND.items()]
    rows += [("aws nat gateway hour", NAT_HOUR), ("aws nat gateway data", NAT_DATA),
             ("aws public ipv4", PUBLIC_IPV4), ("aws s3 standard", S3_STANDARD), ("aws kms key", KMS_KEY)]
    return rows
