"""Fixtures: a model registry in a temporary directory, laid out as the artifact bucket is."""
from __future__ import annotations

import os

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from batch_scoring.model import MODEL_FILE


def train(seed: int, flip: bool = False) -> LogisticRegression:
    """A small classifier on generated data: label 1 when a weighted sum of 3 features > 0."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(200, 3))
    y = (x @ np.array([1.5, -2.0, 0.5]) > 0).astype(int)
    return LogisticRegression().fit(x, 1 - y if flip else y)


@pytest.fixture
def registry(tmp_path):
    """`<uri>/2/model.joblib` and `<uri>/3/model.joblib`, two different models, each with the
    `_READY` marker training writes last; returns the URI and the trained estimators by
    version."""
    uri = str(tmp_path / "models" / "churn")
    models = {"2": train(seed=1, flip=True), "3": train(seed=2)}
    for version, model in models.items():
        os.makedirs(os.path.join(uri, version))
        joblib.dump(model, os.path.join(uri, version, MODEL_FILE))
        open(os.path.join(uri, version, "_READY"), "w").close()
    return uri, models
