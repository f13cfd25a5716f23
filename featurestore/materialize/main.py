"""Feast's scheduled materialization: load the stack's feature_store.yaml and run
`FeatureStore.materialize_incremental(end_date=now)`, which writes every feature view's rows
newer than its last materialization (or its TTL, the first time) into the online store.

The Cloud Run job (components/gcp/featurestore/feast_materialization.py) runs it as
`python -m materialize.main`, with the file in FEAST_FEATURE_STORE_YAML (the stack output
`feature_store_yaml`) and, for a Memorystore online store, the server's CA in FEAST_REDIS_CA_PEM:
the file's connection string reads the CA's path from FEAST_REDIS_CA_FILE, which this sets.
`--config PATH` reads the file from disk instead (a local run); `--feature-view NAME` (repeatable)
materializes only those views. Exit status 0 on success; Feast's exception otherwise, so the
job's execution fails and Cloud Run retries it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, MutableMapping, Optional, Sequence

YAML_ENV = "FEAST_FEATURE_STORE_YAML"
CA_PEM_ENV = "FEAST_REDIS_CA_PEM"
CA_FILE_ENV = "FEAST_REDIS_CA_FILE"

log = logging.getLogger("materialize")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help=f"feature_store.yaml on disk (default: ${YAML_ENV})")
    parser.add_argument("--feature-view", action="append", default=[], dest="feature_views",
                        help="materialize only this feature view (repeatable; default: all)")
    return parser.parse_args(argv)


def prepare(workdir: Path, config: Optional[Path], environ: MutableMapping[str, str]) -> Path:
    """The feature_store.yaml to load: `config`, or the text of $FEAST_FEATURE_STORE_YAML written
    into `workdir`; with $FEAST_REDIS_CA_PEM, the CA written there and $FEAST_REDIS_CA_FILE set."""
    pem = environ.get(CA_PEM_ENV, "").strip()
    if pem:
        ca = workdir / "redis-ca.pem"
        ca.write_text(pem + "\n")
        environ[CA_FILE_ENV] = str(ca)
    if config is not None:
        return config
    text = environ.get(YAML_ENV, "")
    if not text.strip():
        raise SystemExit(f"no feature store configuration: set {YAML_ENV} or pass --config")
    path = workdir / "feature_store.yaml"
    path.write_text(text)
    return path


def load_store(path: Path):
    """The FeatureStore of a feature_store.yaml, read by Feast's own loader (which expands $VARS)."""
    from feast import FeatureStore
    from feast.repo_config import load_repo_config

    return FeatureStore(config=load_repo_config(path.parent, path))


def run(argv: Optional[Sequence[str]] = None, environ: MutableMapping[str, str] = os.environ,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="feast-") as tmp:
        path = prepare(Path(tmp), args.config, environ)
        store = load_store(path)
        end = now()
        views = args.feature_views or None
        log.info("materializing %s of project %s up to %s", ", ".join(views) if views else "every feature view",
                 store.project, end.isoformat())
        store.materialize_incremental(end_date=end, feature_views=views)
    log.info("done")
    return 0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
