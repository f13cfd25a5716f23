"""A BigQuery dataset and its tables, each with a schema and optional time partitioning.

`protect` (prod) protects both in Pulumi and turns on the tables' deletion protection, which
pulumi-gcp otherwise turns on everywhere (so a dev stack could never be torn down).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional, Sequence

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.gcp.iam.principals import Principal

TYPE = "mlinfra:gcp:BigQueryDataset"


@dataclass(frozen=True)
class TableDef:
    """One table: its ID, its columns in BigQuery's JSON schema format, and partitioning by
    `partition_type` (HOUR, DAY, MONTH, YEAR) on `partition_field` (None: ingestion time)."""

    table_id: str
    columns: Sequence[dict]
    partition_type: Optional[str] = None
    partition_field: Optional[str] = None
    partition_expiration_days: Optional[int] = None


@dataclass(frozen=True, kw_only=True)
class BigQueryDatasetArgs:
    dataset_id: str
    """The dataset ID (letters, digits, underscores)."""
    location: str
    """Where its data is kept (the stack's region)."""
    project: Optional[str] = None
    """Defaults to the provider's project."""
    tables: Sequence[TableDef] = field(default_factory=tuple)
    """Its tables. Defaults to none."""
    protect: bool = False
    """Protect dataset and tables and turn on the tables' deletion protection (prod). Defaults to false."""
    description: str = "mlinfra pipeline sinks"
    """What the dataset holds. Defaults to "mlinfra pipeline sinks"."""


class BigQueryDataset(Component):
    """Outputs: dataset_id, tables (table ID -> `project:dataset.table`)."""

    EDITOR = "roles/bigquery.dataEditor"
    VIEWER = "roles/bigquery.dataViewer"

    def __init__(self, name: str, args: BigQueryDatasetArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        self.project = args.project
        self.dataset = gcp.bigquery.Dataset(
            name,
            dataset_id=args.dataset_id,
            project=args.project,
            location=args.location,
            description=args.description,
            delete_contents_on_destroy=not args.protect,
            opts=self.child(protect=args.protect, retain_on_delete=args.protect),
        )
        self.tables: dict[str, gcp.bigquery.Table] = {}
        for table in args.tables:
            partitioning = None
            if table.partition_type:
                partitioning = gcp.bigquery.TableTimePartitioningArgs(
                    type=table.partition_type, field=table.partition_field,
                    expiration_ms=table.partition_expiration_days * 86_400_000 if table.partition_expiration_days else None)
            self.tables[table.table_id] = gcp.bigquery.Table(
                f"{name}-{table.table_id.lower().replace('_', '-')}",
                dataset_id=self.dataset.dataset_id,
                table_id=table.table_id,
                project=args.project,
                schema=json.dumps(list(table.columns), sort_keys=True),
                time_partitioning=partitioning,
                deletion_protection=args.protect,
                opts=self.child(protect=args.protect, retain_on_delete=args.protect),
            )
        self.dataset_id = self.dataset.dataset_id
        self.register_outputs({"dataset_id": self.dataset_id})

    def table_ref(self, table_id: str) -> pulumi.Output[str]:
        """`project:dataset.table`, the form Beam's BigQuery IO and the templates take."""
        table = self.tables[table_id]
        return pulumi.Output.concat(table.project, ":", table.dataset_id, ".", table.table_id)

    def grant(self, principal: Principal, role: str) -> gcp.bigquery.DatasetIamMember:
        short = role.split(".")[-1].lower()
        return gcp.bigquery.DatasetIamMember(
            f"{self.name}-{principal.principal_name}-{short}", dataset_id=self.dataset.dataset_id, project=self.project,
            role=role, member=principal.member, opts=self.child())
