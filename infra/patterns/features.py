"""What a pattern builds for `mlinfra:featureStore`: Feast's offline store, registry, online store,
identities and scheduled materialization (components/gcp/featurestore/), on the pattern's
network, whose component adds the Memorystore engine's private connectivity as it does for the
cache. The pattern's outputs gain `feature_store_yaml` (the file, as text) and `feature_store`."""

from __future__ import annotations

from typing import Any, Optional

from components.gcp.featurestore.feature_store_spec import FeatureStoreSpec
from infra.patterns.cache import APIS as MEMORYSTORE_APIS

BIGTABLE_APIS = ("bigtable.googleapis.com", "bigtableadmin.googleapis.com")


def apis(spec: Optional[FeatureStoreSpec]) -> tuple[str, ...]:
    """The APIs of the feature store: BigQuery, Cloud Run and Scheduler, and its online store's."""
    if spec is None:
        return ()
    from components.gcp.featurestore.feast_feature_store import APIS

    online = MEMORYSTORE_APIS[spec.online.engine] if spec.online.type == "redis" else BIGTABLE_APIS
    return APIS + online


def network_engines(spec: Optional[FeatureStoreSpec]) -> tuple[str, ...]:
    """The Memorystore engine the network needs private connectivity for (none with Bigtable)."""
    return (spec.online.engine,) if spec is not None and spec.online.type == "redis" else ()


def build(pattern: Any, spec: Optional[FeatureStoreSpec]) -> Optional[Any]:
    """The feature store under `pattern` (a PatternComponent), after the network's connectivity."""
    if spec is None:
        return None
    # Only stacks with a feature store import BigQuery, Bigtable and the job's modules.
    from components.gcp.featurestore.feast_feature_store import FeastFeatureStore, FeastFeatureStoreArgs

    args, network = pattern.args, pattern.network
    return FeastFeatureStore(f"{pattern.name}-features", FeastFeatureStoreArgs(
        spec=spec, project=args.project, region=args.region, stack=args.stack, protect=args.prod,
        network_id=network.network_id if network else None, subnetwork_id=network.subnetwork_id if network else None,
        network_project=network.project if network else None,
        reserved_ip_range=network.reserved_range if network else None,
        network_ready=network.memorystore_dependencies if network else ()), opts=pattern.after_apis)


def export(store: Optional[Any]) -> dict[str, Any]:
    """The stack outputs: `feature_store_yaml` on its own (`pulumi stack output feature_store_yaml
    > feature_store.yaml`), the rest under `feature_store`."""
    if store is None:
        return {}
    outputs = store.outputs()
    return {"feature_store_yaml": outputs.pop("feature_store_yaml"), "feature_store": outputs}
