"""A service's request and prediction log (`services[].logging`, Cloud Run or GKE): the Pub/Sub
topic the server publishes to, a BigQuery table partitioned by day on the publish time, and a Pub/Sub
BigQuery subscription that writes every message to the table as it arrives (no subscriber to run).

Grants: the server's account may publish to this topic only (`roles/pubsub.publisher` on the
topic; a GKE pod publishes as the Google account its Kubernetes account is bound to). The subscription writes as the project's Pub/Sub service agent, which needs
`roles/bigquery.dataEditor` on the table (cloud.google.com/pubsub/docs/bigquery, "Assign
BigQuery service account roles"; granted on the table, not the dataset or project).

The subscription uses the table's schema (`use_table_schema`): each message's JSON fields land
in the columns of the same name, fields the table lacks are dropped (`drop_unknown_fields`),
and `write_metadata` fills subscription_name, message_id, publish_time and attributes. Delivery
is at least once: a record may appear twice (message_id tells).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.gcp.dataflow.bigquery_dataset import BigQueryDataset, BigQueryDatasetArgs, TableDef
from components.gcp.iam.principals import Principal
from components.gcp.monitoring.request_logging_spec import (RECORD_FIELDS, TABLE_ID, RequestLoggingSpec, dataset_id,
                                                            topic_id)

TYPE = "mlinfra:gcp:RequestLog"
METADATA_COLUMNS = [
    {"name": "subscription_name", "type": "STRING", "mode": "NULLABLE", "description": "Pub/Sub subscription"},
    {"name": "message_id", "type": "STRING", "mode": "NULLABLE", "description": "Pub/Sub message ID"},
    {"name": "publish_time", "type": "TIMESTAMP", "mode": "NULLABLE", "description": "when the server published it"},
    {"name": "attributes", "type": "STRING", "mode": "NULLABLE", "description": "message attributes (JSON)"},
]
COLUMNS = METADATA_COLUMNS + [{"name": k, "type": "STRING", "mode": "NULLABLE", "description": v}
                              for k, v in RECORD_FIELDS.items()]


@dataclass(frozen=True, kw_only=True)
class RequestLogArgs:
    spec: RequestLoggingSpec
    """The log as the stack file says it."""
    service_name: str
    """What the topic and dataset are named after: the Cloud Run service's name, a GKE server's `<name>-<stack>`."""
    publisher: Principal
    """The server's account, which may publish to the topic."""
    project: str
    """The project of the topic, dataset and subscription."""
    region: str
    """Where the dataset keeps its data."""
    protect: bool = False
    """Protect the dataset and table, with the table's deletion protection (prod). Defaults to false."""


class RequestLog(Component):
    """Outputs: topic (`projects/<p>/topics/<id>`), table (`<project>.<dataset>.records`), subscription."""

    def __init__(self, name: str, args: RequestLogArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        self.topic = gcp.pubsub.Topic(f"{name}-topic", name=topic_id(args.service_name), project=args.project,
                                      opts=self.child())
        self.publish = gcp.pubsub.TopicIAMMember(
            f"{name}-{args.publisher.principal_name}-publisher", project=args.project, topic=self.topic.name,
            role="roles/pubsub.publisher", member=args.publisher.member, opts=self.child())
        self.dataset = BigQueryDataset(f"{name}-bq", BigQueryDatasetArgs(
            dataset_id=dataset_id(args.service_name), location=args.region, project=args.project,
            description=f"Requests and predictions of service {args.service_name}", protect=args.protect,
            tables=[TableDef(TABLE_ID, COLUMNS, partition_type="DAY", partition_field="publish_time",
                             partition_expiration_days=args.spec.retention_days)]), opts=self.child())
        self.table = self.dataset.tables[TABLE_ID]
        project = gcp.organizations.get_project_output(project_id=args.project)
        agent = pulumi.Output.concat("serviceAccount:service-", project.number, "@gcp-sa-pubsub.iam.gserviceaccount.com")
        self.agent_writes = gcp.bigquery.IamMember(
            f"{name}-agent-editor", project=args.project, dataset_id=self.table.dataset_id,
            table_id=self.table.table_id, role="roles/bigquery.dataEditor", member=agent, opts=self.child())
        self.table_ref = f"{args.project}.{dataset_id(args.service_name)}.{TABLE_ID}"
        self.subscription = gcp.pubsub.Subscription(
            f"{name}-bigquery",
            name=f"{topic_id(args.service_name)}-bigquery",
            topic=self.topic.id,
            project=args.project,
            expiration_policy=gcp.pubsub.SubscriptionExpirationPolicyArgs(ttl=""),  # never expires while idle
            bigquery_config=gcp.pubsub.SubscriptionBigqueryConfigArgs(
                table=pulumi.Output.concat(args.project, ".", self.table.dataset_id, ".", self.table.table_id),
                use_table_schema=True, drop_unknown_fields=True, write_metadata=True),
            # Pub/Sub checks the agent's access to the table when the subscription is created.
            opts=self.child(depends_on=[self.agent_writes]),
        )
        self.topic_path = pulumi.Output.concat("projects/", args.project, "/topics/", self.topic.name)
        self.register_outputs({"topic": self.topic_path, "table": self.table_ref,
                               "subscription": self.subscription.name})
