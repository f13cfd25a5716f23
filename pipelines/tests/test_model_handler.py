"""The model handler loads exactly the version asked for, and says clearly when it is absent."""
from __future__ import annotations

import weakref

import numpy as np
import pytest

from batch_scoring.model import (ModelVersionNotFound, Rejected, VersionedModelHandler,
                                 available_versions, model_path)


def test_the_handler_loads_the_version_it_is_given(registry):
    uri, models = registry
    x = np.random.default_rng(7).normal(size=(5, 3))
    for version in ("2", "3"):
        loaded = VersionedModelHandler(uri, version).load_model()
        assert loaded.version == version
        assert loaded.path == model_path(uri, version)
        np.testing.assert_array_equal(loaded.estimator.predict_proba(x),
                                      models[version].predict_proba(x))
    # The two versions really are different models, so the check above tells them apart.
    assert not np.allclose(models["2"].predict_proba(x), models["3"].predict_proba(x))


def test_the_loaded_model_can_be_weakly_referenced_as_run_inference_requires(registry):
    uri, _ = registry
    loaded = VersionedModelHandler(uri, "3").load_model()
    assert weakref.ref(loaded)() is loaded


def test_a_missing_version_fails_naming_the_path_and_the_versions_that_exist(registry):
    uri, _ = registry
    with pytest.raises(ModelVersionNotFound) as err:
        VersionedModelHandler(uri, "9").load_model()
    message = str(err.value)
    assert model_path(uri, "9") in message
    assert "versions under" in message and "2, 3" in message


def test_a_model_uri_that_does_not_exist_reports_no_versions(tmp_path):
    uri = str(tmp_path / "nowhere")
    assert available_versions(uri) == []
    with pytest.raises(ModelVersionNotFound, match=r"\(versions under .*: none\)"):
        VersionedModelHandler(uri, "1").load_model()


def test_run_inference_scores_the_probability_of_class_one_tagged_with_the_version(registry):
    uri, models = registry
    handler = VersionedModelHandler(uri, "3")
    batch = list(np.random.default_rng(8).normal(size=(4, 3)))
    results = list(handler.run_inference(batch, handler.load_model()))
    expected = models["3"].predict_proba(np.stack(batch))[:, 1]
    assert [r.model_id for r in results] == ["3"] * 4
    np.testing.assert_allclose([r.inference for r in results], expected, rtol=0, atol=1e-12)


def test_run_inference_rejects_only_the_records_with_the_wrong_number_of_features(registry):
    uri, models = registry
    handler = VersionedModelHandler(uri, "3")
    good = np.array([0.5, -1.0, 2.0])
    results = list(handler.run_inference([np.zeros(2), good, np.zeros(4)],
                                         handler.load_model()))
    assert [r.inference for r in results[::2]] == [
        Rejected(f"model {model_path(uri, '3')} expects 3 features per record, got {n}")
        for n in (2, 4)]
    assert results[1].inference == pytest.approx(
        models["3"].predict_proba(good[None, :])[0, 1], abs=1e-12)
    assert [r.model_id for r in results] == ["3"] * 3
