"""The stack's VPC on AWS as the stack file says it (`mlinfra:network`), and its rules (no Pulumi).

Private subnets (nodes, pods, internal load balancers) in each availability zone, and small
public subnets that hold only the NAT gateways. Zones default to `<region>a`, `<region>b`,
`<region>c`: names, not IDs, so no lookup is needed to plan.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field

from components.core.issues import Issue
from components.core.spec import Context, Spec

_ZONE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")


class VpcSpec(Spec):
    cidr: str = "10.0.0.0/16"
    """The VPC's IPv4 range (a /16 to /20): private subnets take /19s of a /16, public ones /24s. Defaults to 10.0.0.0/16."""
    zones: list[str] = []
    """Availability zones, at least two, e.g. [us-east-1a, us-east-1b]. Defaults to the region's a, b and c."""
    nat_gateways: Literal["single", "perZone"] = "single"
    """One NAT gateway for the VPC (cheaper), or one per zone (a zone's outage does not cut the
    others' egress). Defaults to single."""
    flow_logs: bool = True
    """VPC flow logs to CloudWatch (rejected traffic). Defaults to true."""

    def issues(self, ctx: Context) -> list[Issue]:
        issues: list[Issue] = []
        try:
            net = ipaddress.IPv4Network(self.cidr, strict=True)
            if not 16 <= net.prefixlen <= 20:
                issues.append(Issue(("cidr",), "must be a /16 to /20", self.cidr, fix="use e.g. 10.0.0.0/16"))
            elif not net.is_private:
                issues.append(Issue(("cidr",), "is not a private range", self.cidr, fix="use a range in 10.0.0.0/8"))
        except ValueError:
            issues.append(Issue(("cidr",), "is not an IPv4 CIDR block", self.cidr, fix="write e.g. 10.0.0.0/16"))
        zones = zones_of(self, ctx.region)
        if len(set(zones)) < 2:
            issues.append(Issue(("zones",), "EKS needs subnets in at least two availability zones", self.zones,
                                fix=f"list two or more, e.g. [{ctx.region}a, {ctx.region}b]"))
        for i, zone in enumerate(self.zones):
            if not _ZONE.match(zone) or not zone.startswith(ctx.region):
                issues.append(Issue(("zones", i), f"is not an availability zone of {ctx.region}", zone,
                                    allowed=f"{ctx.region}a, {ctx.region}b, ...", fix="write the zone's name"))
        if len(zones) > 6:
            issues.append(Issue(("zones",), "at most 6 zones fit the subnet plan", self.zones, fix="list up to 6"))
        return issues


def zones_of(spec: VpcSpec, region: str) -> list[str]:
    return list(spec.zones) or [f"{region}{letter}" for letter in "abc"]


def subnet_plan(spec: VpcSpec, region: str) -> list[tuple[str, str, str]]:
    """`(zone, private cidr, public cidr)` per zone: private ranges are the VPC's first eighths,
    public ones /24s (or the matching size) at the top of its last eighth."""
    net = ipaddress.IPv4Network(spec.cidr)
    eighths = list(net.subnets(prefixlen_diff=3))
    public = list(eighths[-1].subnets(new_prefix=min(net.prefixlen + 8, 28)))
    return [(zone, str(eighths[i]), str(public[i])) for i, zone in enumerate(zones_of(spec, region))]
