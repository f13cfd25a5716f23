"""One GKE node pool: CPU, GPU or spot (or flex-start, optionally queued), always autoscaled and
auto-upgraded, auto-repaired unless flex-start, on shielded COS nodes that expose only the GKE
metadata server to pods (Workload Identity)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_gcp as gcp

from components.core.component import Component
from components.core.spec import Context, ensure_valid
from components.gcp.gke.node_pool_spec import (CLOUD_PLATFORM_SCOPE, TAINT_EFFECTS, NodeGpuSpec, NodePoolSpec,
                                               location_policy, pool_labels, pool_taints, resource_name_issues)

TYPE = "mlinfra:gcp:GkeNodePool"


@dataclass(frozen=True, kw_only=True)
class GkeNodePoolArgs:
    spec: NodePoolSpec
    """The pool as the stack file says it."""
    cluster: pulumi.Input[str]
    """The cluster's name or ID."""
    location: str
    """The cluster's region (or zone)."""
    project: str
    """The cluster's project."""
    service_account: pulumi.Input[str]
    """The node service account's email."""
    image_streaming: bool = True
    """Image streaming (faster pulls of large serving images). Defaults to true."""


class GkeNodePool(Component):
    """Outputs: pool_name (the GKE node pool's name)."""

    def __init__(self, name: str, args: GkeNodePoolArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, opts)
        spec = args.spec
        region = args.location if args.location.count("-") == 1 else args.location.rsplit("-", 1)[0]
        ensure_valid(f"GkeNodePool {name}", spec, Context(project=args.project, region=region),
                     also=lambda: resource_name_issues(("name",), name, "node pool"))

        scaling = spec.autoscaling
        autoscaling = gcp.container.NodePoolAutoscalingArgs(
            min_node_count=scaling.min if scaling.per_zone else None,
            max_node_count=scaling.max if scaling.per_zone else None,
            total_min_node_count=None if scaling.per_zone else scaling.min,
            total_max_node_count=None if scaling.per_zone else scaling.max,
            location_policy=location_policy(spec),
        )
        self.node_pool = gcp.container.NodePool(
            name,
            cluster=args.cluster,
            location=args.location,
            project=args.project,
            node_locations=list(spec.zones) or None,
            initial_node_count=scaling.min if scaling.per_zone else 0,
            autoscaling=autoscaling,
            # Flex-start nodes are not repaired (GKE requires auto-repair off): they are replaced at the end of their run.
            management=gcp.container.NodePoolManagementArgs(auto_repair=not spec.flex_start, auto_upgrade=True),
            # Queued: nodes only for a ProvisioningRequest (a job's `queued`), all of its nodes at once.
            queued_provisioning=gcp.container.NodePoolQueuedProvisioningArgs(enabled=True)
            if spec.queued_provisioning else None,
            # GKE upgrades flex-start nodes (queued too) with its short-lived strategy (SHORT_LIVED):
            # a node is replaced when it is next created, so surge settings do not apply.
            upgrade_settings=None if spec.flex_start else gcp.container.NodePoolUpgradeSettingsArgs(
                strategy="SURGE", max_surge=spec.max_surge, max_unavailable=spec.max_unavailable),
            node_config=gcp.container.NodePoolNodeConfigArgs(
                machine_type=spec.machine_type,
                disk_size_gb=spec.disk_size_gb,
                disk_type=spec.disk_type,
                image_type="COS_CONTAINERD",
                service_account=args.service_account,
                oauth_scopes=[CLOUD_PLATFORM_SCOPE],
                workload_metadata_config=gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
                shielded_instance_config=gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True),
                metadata={"disable-legacy-endpoints": "true"},
                labels=pool_labels(spec),
                taints=[gcp.container.NodePoolNodeConfigTaintArgs(key=t.key, value=t.value, effect=TAINT_EFFECTS[t.effect])
                        for t in pool_taints(spec)],
                spot=spec.spot,
                gcfs_config=gcp.container.NodePoolNodeConfigGcfsConfigArgs(enabled=args.image_streaming),
                guest_accelerators=[self._accelerator(spec.gpu)] if spec.gpu is not None else None,
                tags=list(spec.network_tags) or None,
                **self._capacity(spec),
            ),
            # The initial size forces a new pool when changed; the autoscaler owns the size after creation.
            opts=self.child(ignore_changes=["initialNodeCount"]),
        )
        self.pool_name = self.node_pool.name
        self.register_outputs({"pool_name": self.pool_name})

    @staticmethod
    def _capacity(spec: NodePoolSpec) -> dict:
        """Flex-start and local SSDs: the node-config keys they set (none by default)."""
        out: dict = {}
        if spec.flex_start:
            out["flex_start"] = True
            # Flex-start capacity is its own: the pool never consumes a reservation.
            out["reservation_affinity"] = gcp.container.NodePoolNodeConfigReservationAffinityArgs(
                consume_reservation_type="NO_RESERVATION")
            if spec.max_run_hours is not None:
                out["max_run_duration"] = f"{spec.max_run_hours * 3600}s"
        ssd = spec.local_ssd
        if ssd is not None and ssd.use == "ephemeral":
            out["ephemeral_storage_local_ssd_config"] = \
                gcp.container.NodePoolNodeConfigEphemeralStorageLocalSsdConfigArgs(local_ssd_count=ssd.count)
        elif ssd is not None:
            out["local_nvme_ssd_block_config"] = \
                gcp.container.NodePoolNodeConfigLocalNvmeSsdBlockConfigArgs(local_ssd_count=ssd.count)
        return out

    @staticmethod
    def _accelerator(g: NodeGpuSpec) -> gcp.container.NodePoolNodeConfigGuestAcceleratorArgs:
        return gcp.container.NodePoolNodeConfigGuestAcceleratorArgs(
            type=g.type,
            count=g.count,
            gpu_driver_installation_config=gcp.container.NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs(
                gpu_driver_version=g.driver),
            gpu_sharing_config=gcp.container.NodePoolNodeConfigGuestAcceleratorGpuSharingConfigArgs(
                gpu_sharing_strategy=g.sharing.strategy, max_shared_clients_per_gpu=g.sharing.max_shared_clients)
            if g.sharing else None,
            gpu_partition_size=g.partition_size,
        )
