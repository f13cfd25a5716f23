"""The materialization entry point end to end on Feast's local provider (file offline store,
sqlite online store): the same `run` the Cloud Run job calls, reading feature_store.yaml from
the environment as the job does, writing features that `get_online_features` then serves."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import yaml
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.repo_config import RepoConfig
from feast.types import Float64, Int64

from materialize.main import CA_FILE_ENV, CA_PEM_ENV, YAML_ENV, prepare, run

# The data starts 12 hours ago: a first materialization starts at now - TTL (2 days) by the wall clock.
T0 = (datetime.now(timezone.utc) - timedelta(hours=12)).replace(minute=0, second=0, microsecond=0)


def write_rows(path: Path, rows: list[tuple[int, datetime, float, int]]) -> None:
    frame = pd.DataFrame(rows, columns=["driver_id", "event_timestamp", "conv_rate", "trips"])
    frame["created"] = frame["event_timestamp"]
    frame.to_parquet(path)


@pytest.fixture
def repo(tmp_path):
    """A Feast repo on the local provider with two feature views over generated data."""
    data = tmp_path / "driver_stats.parquet"
    write_rows(data, [(d, T0 + timedelta(hours=h), d + h / 10, 10 * d + h) for d in (1, 2, 3) for h in range(6)])
    config = {"project": "ranking", "provider": "local", "registry": str(tmp_path / "registry.db"),
              "online_store": {"type": "sqlite", "path": str(tmp_path / "online.db")},
              "offline_store": {"type": "file"}, "entity_key_serialization_version": 3}
    store = FeatureStore(config=RepoConfig(**config))
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    source = FileSource(path=str(data), timestamp_field="event_timestamp", created_timestamp_column="created")
    rates = FeatureView(name="driver_rates", entities=[driver], ttl=timedelta(days=2),
                        schema=[Field(name="conv_rate", dtype=Float64)], source=source)
    trips = FeatureView(name="driver_trips", entities=[driver], ttl=timedelta(days=2),
                        schema=[Field(name="trips", dtype=Int64)], source=source)
    store.apply([driver, rates, trips])
    return {"yaml": yaml.safe_dump(config), "data": data, "config": config}


def online(repo, features: list[str]) -> dict:
    store = FeatureStore(config=RepoConfig(**repo["config"]))
    return store.get_online_features(features=features, entity_rows=[{"driver_id": d} for d in (1, 2, 3)]).to_dict()


def test_a_run_materializes_every_view_up_to_now_from_the_environment(repo):
    environ = {YAML_ENV: repo["yaml"]}
    assert run([], environ=environ, now=lambda: T0 + timedelta(hours=3, minutes=30)) == 0
    got = online(repo, ["driver_rates:conv_rate", "driver_trips:trips"])
    # The latest row at or before 03:30 of each driver: hour 3.
    assert got["conv_rate"] == pytest.approx([1.3, 2.3, 3.3])
    assert got["trips"] == [13, 23, 33]


def test_the_next_run_picks_up_only_what_came_since(repo):
    environ = {YAML_ENV: repo["yaml"]}
    run([], environ=environ, now=lambda: T0 + timedelta(hours=2, minutes=30))
    assert online(repo, ["driver_trips:trips"])["trips"] == [12, 22, 32]
    run([], environ=environ, now=lambda: T0 + timedelta(hours=6))
    assert online(repo, ["driver_trips:trips"])["trips"] == [15, 25, 35]
    store = FeatureStore(config=RepoConfig(**repo["config"]))
    # The second run started where the first ended, not at now - TTL.
    intervals = store.get_feature_view("driver_trips").materialization_intervals
    assert intervals[-1] == (T0 + timedelta(hours=2, minutes=30), T0 + timedelta(hours=6))


def test_feature_view_flags_materialize_only_those_views(repo):
    run(["--feature-view", "driver_trips"], environ={YAML_ENV: repo["yaml"]}, now=lambda: T0 + timedelta(hours=4, minutes=30))
    got = online(repo, ["driver_rates:conv_rate", "driver_trips:trips"])
    assert got["trips"] == [14, 24, 34]
    assert got["conv_rate"] == [None, None, None]


def test_config_from_a_file_on_disk(repo, tmp_path):
    path = tmp_path / "feature_store.yaml"
    path.write_text(repo["yaml"])
    run(["--config", str(path)], environ={}, now=lambda: T0 + timedelta(hours=1))
    assert online(repo, ["driver_trips:trips"])["trips"] == [11, 21, 31]


def test_no_configuration_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match=YAML_ENV):
        run([], environ={})


def test_the_ca_is_written_and_its_path_set_for_the_connection_string(tmp_path):
    environ = {YAML_ENV: "project: p\n", CA_PEM_ENV: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"}
    path = prepare(tmp_path, None, environ)
    assert path.read_text() == "project: p\n"
    ca = Path(environ[CA_FILE_ENV])
    assert ca.parent == tmp_path and ca.read_text().startswith("-----BEGIN CERTIFICATE-----")
