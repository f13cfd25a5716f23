"""The feature store of a pattern that has one (`mlinfra:featureStore`): Feast's offline store,
registry, online store, identities and scheduled materialization, on the pattern's network.
A pattern calls `apis(spec)` for its project APIs and `build(pattern, spec)` after its
services; its outputs gain `feature_store_yaml` (the file, as text) and `feature_store`."""

from __future__ import annotations

from typing import Any, Optional

from components.gcp.featurestore.feature_store_spec import FeatureStoreSpec


def apis(spec: Optional[FeatureStoreSpec]) -> tuple[str, ...]:
    if spec is None:
        return ()
    from components.gcp.featurestore.feast_feature_store import apis as store_apis

    return store_apis(spec)


def build(pattern: Any, spec: Optional[FeatureStoreSpec]) -> dict[str, Any]:
    """Build the feature store under `pattern` (a PatternComponent); its outputs, or none."""
    if spec is None:
        return {}
    # Only stacks with a feature store import BigQuery, Bigtable and Memorystore.
    from components.gcp.featurestore.feast_feature_store import FeastFeatureStore, FeastFeatureStoreArgs

    args, network = pattern.args, pattern.network
    store = FeastFeatureStore(f"{pattern.name}-features", FeastFeatureStoreArgs(
        spec=spec, project=args.project, region=args.region, stack=args.stack, protect=args.prod,
        network_id=network.network_id if network else None, subnetwork_id=network.subnetwork_id if network else None,
        ), opts=pattern.after_apis)
    pattern.feature_store = store
    outputs = store.outputs()
    return {"feature_store_yaml": outputs.pop("feature_store_yaml"), "feature_store": outputs}
