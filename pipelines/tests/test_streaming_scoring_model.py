"""The watched model handler: a marker path maps to its version's model file, a version it
cannot load is refused with a clear error and the previous model kept."""
from __future__ import annotations

import logging
import os

import numpy as np
import pytest

from batch_scoring.model import model_path
from streaming_scoring.model import (READY_FILE, RefusedMarker, WatchedModelHandler,
                                     marker_pattern, marker_version)


def ready(uri, version):
    return os.path.join(uri, version, READY_FILE)


def test_a_marker_maps_to_its_versions_model_file_and_the_version_scores(registry):
    uri, models = registry
    handler = WatchedModelHandler(uri, "2")
    assert marker_version(uri, ready(uri, "3")) == "3"
    assert marker_version(uri + "/", ready(uri, "3")) == "3"
    handler.update_model_path(ready(uri, "3"))
    loaded = handler.load_model()
    assert (loaded.version, loaded.path) == ("3", model_path(uri, "3"))
    x = np.random.default_rng(1).normal(size=(3, 3))
    results = list(handler.run_inference(list(x), loaded))
    assert [r.model_id for r in results] == ["3"] * 3
    np.testing.assert_allclose([r.inference for r in results],
                               models["3"].predict_proba(x)[:, 1], rtol=0, atol=1e-12)


def test_the_watched_pattern_is_every_versions_marker(registry):
    uri, _ = registry
    assert marker_pattern(uri) == os.path.join(uri, "*", READY_FILE)
    assert marker_pattern(uri + "/") == os.path.join(uri, "*", READY_FILE)


@pytest.mark.parametrize("path", [
    "{uri}/3/model.joblib",          # not a marker
    "{uri}/3/sub/_READY",            # not a version directory of this model
    "{uri}-other/3/_READY",          # another model's
    "{uri}/.hidden/_READY",          # not a version name
])
def test_a_path_that_is_not_a_version_marker_of_this_model_is_refused(registry, path):
    uri, _ = registry
    with pytest.raises(RefusedMarker, match="is not .*/\\*/_READY"):
        marker_version(uri, path.format(uri=uri))


def test_a_version_without_model_joblib_is_refused_naming_the_path_and_the_old_one_kept(
        registry, caplog):
    uri, _ = registry
    os.makedirs(os.path.join(uri, "4"))
    open(ready(uri, "4"), "w").close()
    handler = WatchedModelHandler(uri, "2")
    handler.update_model_path(ready(uri, "3"))
    assert handler.load_model().version == "3"
    with caplog.at_level(logging.ERROR, logger="streaming_scoring.model"):
        handler.update_model_path(ready(uri, "4"))
    assert handler.version == "3"
    assert handler.load_model().version == "3"
    (record,) = caplog.records
    assert "model update refused, still scoring with version 3" in record.getMessage()
    assert f"{model_path(uri, '4')} does not exist" in record.getMessage()
    assert "versions under" in record.getMessage() and "2, 3" in record.getMessage()


def test_a_model_file_that_does_not_load_is_refused_and_the_previous_model_kept(
        registry, caplog):
    uri, _ = registry
    os.makedirs(os.path.join(uri, "4"))
    with open(model_path(uri, "4"), "wb") as f:
        f.write(b"not a pickle")
    handler = WatchedModelHandler(uri, "2")
    handler.update_model_path(ready(uri, "3"))
    assert handler.load_model().version == "3"
    handler.update_model_path(ready(uri, "4"))
    with caplog.at_level(logging.ERROR, logger="streaming_scoring.model"):
        loaded = handler.load_model()
    assert (loaded.version, handler.version) == ("3", "3")
    assert "model version 4 does not load" in caplog.records[0].getMessage()
    assert "still scoring with version 3" in caplog.records[0].getMessage()


def test_the_launch_version_failing_to_load_is_an_error_not_a_silent_fallback(registry):
    uri, _ = registry
    with open(model_path(uri, "3"), "wb") as f:
        f.write(b"broken")
    with pytest.raises(Exception):
        WatchedModelHandler(uri, "3").load_model()


def test_the_empty_path_means_the_launch_version_and_a_repeated_path_changes_nothing(registry):
    uri, _ = registry
    handler = WatchedModelHandler(uri, "2")
    handler.update_model_path("")
    assert handler.version == "2"
    handler.update_model_path(ready(uri, "3"))
    handler.update_model_path(ready(uri, "3"))  # RunInference repeats it after its lookup
    handler.update_model_path(None)
    assert handler.version == "3"


def test_a_gcs_marker_maps_to_its_version_as_on_dataflow():
    uri = "gs://acme-ml-dev-dataflow-dev-artifacts/models/churn"
    assert marker_pattern(uri) == f"{uri}/*/_READY"
    assert marker_version(uri, f"{uri}/4/_READY") == "4"
    assert marker_version(uri + "/", f"{uri}/2026-12-02/_READY") == "2026-12-02"
    with pytest.raises(RefusedMarker):
        marker_version(uri, "gs://acme-ml-dev-dataflow-dev-artifacts/models/other/4/_READY")
