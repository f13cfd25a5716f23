"""Object events of a bucket as Pub/Sub messages: a topic of the caller's own, which only the
bucket project's Cloud Storage service agent may publish to, and the bucket's notification
filtered by prefix. Functions and workflows started by storage events both listen this way."""

from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi_gcp as gcp


def notification_topic(parent: Any, name: str, *, project: str, bucket_name: pulumi.Input[str], prefix: str = "",
                       agent_project: Optional[str] = None) -> tuple[gcp.pubsub.Topic, gcp.storage.Notification]:
    """(topic, notification) of finalized objects under `prefix`, as children of `parent` named
    `<name>-events`, `<name>-events-publisher` and `<name>-notification`; `agent_project` is the
    bucket's project when it is not `project`."""
    topic = gcp.pubsub.Topic(f"{name}-events", project=project, message_retention_duration="86400s",
                             opts=parent.child())
    agent = gcp.storage.get_project_service_account_output(project=agent_project or project)
    publisher = gcp.pubsub.TopicIAMMember(
        f"{name}-events-publisher", project=project, topic=topic.name, role="roles/pubsub.publisher",
        member=pulumi.Output.concat("serviceAccount:", agent.email_address), opts=parent.child())
    notification = gcp.storage.Notification(
        f"{name}-notification", bucket=bucket_name, topic=topic.id, payload_format="JSON_API_V1",
        event_types=["OBJECT_FINALIZE"], object_name_prefix=prefix or None,
        opts=parent.child(depends_on=[publisher]))
    return topic, notification
