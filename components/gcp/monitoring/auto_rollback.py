"""Where a canary's fast-burn alert goes to roll it back: a Pub/Sub topic and a Cloud Monitoring
notification channel of type `pubsub` on it.

Cloud Monitoring publishes a channel's notifications as its notification service agent,
`service-<project number>@gcp-sa-monitoring-notification.iam.gserviceaccount.com`, which needs
`roles/pubsub.publisher` on the topic ("Create and manage notification channels", Pub/Sub); it
gets it on this topic only. Each message is the incident as JSON (schema version 1.2:
`incident.{incident_id, state, policy_name, policy_user_labels, url, summary, ...}`); the
stack's rollback function (functions/auto_rollback, built with the stack's triggers) listens on
the topic. One per stack serves every service with `rollout.autoRollback`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component

TYPE = "mlinfra:gcp:AutoRollback"
RETENTION = "86400s"
"""A day: an incident older than that is past rolling back automatically."""


@dataclass(frozen=True, kw_only=True)
class AutoRollbackArgs:
    topic_name: str
    """The topic's name (unique in the project)."""
    project: str
    """The project whose Cloud Monitoring publishes to it."""
    stack: str
    """The stack, for the channel's display name."""


class AutoRollback(Component):
    """Outputs: topic (its resource id), channel (the channel's resource name)."""

    def __init__(self, name: str, args: AutoRollbackArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        self.topic = gcp.pubsub.Topic(f"{name}-topic", name=args.topic_name, project=args.project,
                                      message_retention_duration=RETENTION, opts=self.child())
        number = gcp.organizations.get_project_output(project_id=args.project).number
        self.publisher = gcp.pubsub.TopicIAMMember(
            f"{name}-monitoring-publishes", project=args.project, topic=self.topic.name, role="roles/pubsub.publisher",
            member=number.apply(lambda n: f"serviceAccount:service-{n}@gcp-sa-monitoring-notification.iam.gserviceaccount.com"),
            opts=self.child())
        self.channel = gcp.monitoring.NotificationChannel(
            f"{name}-channel", type="pubsub", project=args.project,
            display_name=f"mlinfra canary rollback ({args.stack})",
            description="Fast-burn incidents of services with rollout.autoRollback: the rollback function "
                        "dispatches the repository's rollout workflow to remove the canary.",
            labels={"topic": self.topic.id}, opts=self.child(depends_on=[self.publisher]))
        self.register_outputs({"topic": self.topic.id, "channel": self.channel.name})
