"""The stack's alert topic: an SNS topic encrypted with a KMS key of its own, which CloudWatch
alarms of this stack may publish to, with the subscriptions `mlinfra:alerts` names.

CloudWatch can publish to a topic encrypted with a customer-managed key only when the key's
policy lets the CloudWatch service principal use it (kms:Decrypt and kms:GenerateDataKey*; the
AWS-managed alias/aws/sns key cannot be granted so); both grants here are bound to this
account's alarms whose names start with the stack's prefix (aws:SourceAccount, aws:SourceArn).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from components.aws.monitoring.alert_topic_spec import AwsAlertsSpec
from components.core.component import Component
from components.core.naming import dns_name

TYPE = "mlinfra:aws:AlertTopic"


@dataclass(frozen=True, kw_only=True)
class AlertTopicArgs:
    spec: AwsAlertsSpec
    """Who is notified, as the stack file says it."""
    topic_name: str
    """The topic's name; also the prefix of the alarms allowed to publish (`<topic_name>-*`)."""
    region: str
    """The stack's region."""
    account: pulumi.Input[str]
    """The stack's account ID (the key's administrators and the grants' source account)."""
    protect: bool = False
    """Pulumi `protect` on the key (prod): a deleted key cannot decrypt what SNS still holds. Defaults to false."""


def key_policy(account: str, region: str, alarm_prefix: str) -> str:
    source = {"StringEquals": {"aws:SourceAccount": account},
              "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{region}:{account}:alarm:{alarm_prefix}-*"}}
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "CloudWatchAlarmsPublish", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*", "Condition": source},
    ]}, sort_keys=True)


def topic_policy(topic_arn: str, account: str, region: str, alarm_prefix: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountManages", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": ["sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe", "sns:ListSubscriptionsByTopic",
                    "sns:Publish", "sns:DeleteTopic", "sns:AddPermission", "sns:RemovePermission"],
         "Resource": topic_arn},
        {"Sid": "CloudWatchAlarmsPublish", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
         "Action": "sns:Publish", "Resource": topic_arn,
         "Condition": {"StringEquals": {"aws:SourceAccount": account},
                       "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{region}:{account}:alarm:{alarm_prefix}-*"}}},
        {"Sid": "DenyPlainHttp", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": topic_arn,
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]}, sort_keys=True)


class AlertTopic(Component):
    """Outputs: arn (the stack's topic), arns (every topic the alarms notify: the stack's first)."""

    def __init__(self, name: str, args: AlertTopicArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        prefix = args.topic_name
        self.key = aws.kms.Key(
            f"{name}-key", description=f"{prefix}: the alert topic", enable_key_rotation=True, deletion_window_in_days=30,
            policy=pulumi.Output.from_input(args.account).apply(lambda a: key_policy(a, args.region, prefix)),
            opts=self.child(protect=args.protect))
        aws.kms.Alias(f"{name}-key", name=f"alias/{prefix}-alerts", target_key_id=self.key.key_id, opts=self.child())
        self.topic = aws.sns.Topic(name, name=prefix, kms_master_key_id=self.key.arn, opts=self.child())
        aws.sns.TopicPolicy(f"{name}-policy", arn=self.topic.arn, policy=pulumi.Output.all(self.topic.arn, args.account).apply(
            lambda v: topic_policy(v[0], v[1], args.region, prefix)), opts=self.child())
        for protocol, endpoints in (("email", args.spec.emails), ("https", args.spec.https_endpoints)):
            for endpoint in endpoints:
                where = endpoint.removeprefix("https://")
                aws.sns.TopicSubscription(f"{name}-{dns_name(protocol, where, max_len=40)}", topic=self.topic.arn,
                                          protocol=protocol, endpoint=endpoint, opts=self.child())
        self.arn = self.topic.arn
        self.arns: list[pulumi.Input[str]] = [self.topic.arn, *args.spec.topics]
        self.register_outputs({"arn": self.arn})
