"""A pipeline's subscription on a topic, with a dead-letter topic (and a subscription on it, so
dead letters are kept) and an exponential-backoff retry policy.

Pub/Sub moves a message to the dead-letter topic after `max_delivery_attempts`; it does so as
the project's Pub/Sub service agent, which is granted publish on the dead-letter topic and
subscribe on the subscription, and nothing else. A Dataflow pipeline also publishes messages it
cannot parse there itself (`grant_dead_letter_publish`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.gcp.iam.principals import Principal

TYPE = "mlinfra:gcp:PubsubFeed"


@dataclass(frozen=True, kw_only=True)
class PubsubFeedArgs:
    topic: pulumi.Input[str]
    """The topic to subscribe to (its name or ID)."""
    subscription_name: str
    """The subscription's name; the dead-letter topic and its subscription are `<name>-dead-letter`."""
    project: str
    """The project of the subscription and the dead-letter topic."""
    ack_deadline_seconds: int = 60
    """Seconds a subscriber has to acknowledge a message. Defaults to 60."""
    max_delivery_attempts: int = 10
    """Deliveries before a message goes to the dead-letter topic (5-100). Defaults to 10."""
    retention: str = "604800s"
    """How long unacknowledged messages and dead letters are kept. Defaults to 7 days."""


class PubsubFeed(Component):
    """Outputs: subscription_path (`projects/<p>/subscriptions/<name>`), dead_letter_topic_path."""

    def __init__(self, name: str, args: PubsubFeedArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        self.project = args.project
        dead_name = f"{args.subscription_name}-dead-letter"
        self.dead_letter_topic = gcp.pubsub.Topic(
            f"{name}-dead-letter", name=dead_name, project=args.project,
            message_retention_duration=args.retention, opts=self.child())
        self.dead_letter_subscription = gcp.pubsub.Subscription(
            f"{name}-dead-letter", name=dead_name, topic=self.dead_letter_topic.id, project=args.project,
            message_retention_duration=args.retention, ack_deadline_seconds=60,
            expiration_policy=gcp.pubsub.SubscriptionExpirationPolicyArgs(ttl=""), opts=self.child())
        self.subscription = gcp.pubsub.Subscription(
            name,
            name=args.subscription_name,
            topic=args.topic,
            project=args.project,
            ack_deadline_seconds=args.ack_deadline_seconds,
            message_retention_duration=args.retention,
            expiration_policy=gcp.pubsub.SubscriptionExpirationPolicyArgs(ttl=""),  # never expires while idle
            retry_policy=gcp.pubsub.SubscriptionRetryPolicyArgs(minimum_backoff="10s", maximum_backoff="600s"),
            dead_letter_policy=gcp.pubsub.SubscriptionDeadLetterPolicyArgs(
                dead_letter_topic=self.dead_letter_topic.id, max_delivery_attempts=args.max_delivery_attempts),
            opts=self.child(),
        )
        project = gcp.organizations.get_project_output(project_id=args.project)
        agent = pulumi.Output.concat("serviceAccount:service-", project.number, "@gcp-sa-pubsub.iam.gserviceaccount.com")
        self.agent_grants = [
            gcp.pubsub.TopicIAMMember(f"{name}-dead-letter-agent-publisher", project=args.project,
                                      topic=self.dead_letter_topic.name, role="roles/pubsub.publisher", member=agent,
                                      opts=self.child()),
            gcp.pubsub.SubscriptionIAMMember(f"{name}-agent-subscriber", project=args.project,
                                             subscription=self.subscription.name, role="roles/pubsub.subscriber",
                                             member=agent, opts=self.child()),
        ]
        self.subscription_path = pulumi.Output.concat("projects/", args.project, "/subscriptions/", self.subscription.name)
        self.dead_letter_topic_path = pulumi.Output.concat("projects/", args.project, "/topics/", self.dead_letter_topic.name)
        self.register_outputs({"subscription_path": self.subscription_path,
                               "dead_letter_topic_path": self.dead_letter_topic_path})

    def grant_subscribe(self, principal: Principal) -> list[gcp.pubsub.SubscriptionIAMMember]:
        """Pull and acknowledge; Dataflow also reads the subscription's metadata (viewer)."""
        return [gcp.pubsub.SubscriptionIAMMember(
            f"{self.name}-{principal.principal_name}-{role.split('.')[-1]}", project=self.project,
            subscription=self.subscription.name, role=role, member=principal.member, opts=self.child())
            for role in ("roles/pubsub.subscriber", "roles/pubsub.viewer")]

    def grant_dead_letter_publish(self, principal: Principal) -> gcp.pubsub.TopicIAMMember:
        return gcp.pubsub.TopicIAMMember(
            f"{self.name}-dead-letter-{principal.principal_name}-publisher", project=self.project,
            topic=self.dead_letter_topic.name, role="roles/pubsub.publisher", member=principal.member,
            opts=self.child())
