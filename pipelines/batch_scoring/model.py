"""Load one version of a scikit-learn model from `<model uri>/<version>/model.joblib`.

The layout is the one the model servers use (`model: {uri, version}`, one subdirectory per
version), so a version trained once is served online and scored in batch alike. Files are read
through Beam's FileSystems: gs:// on Dataflow, local paths in tests and local runs.
"""
from __future__ import annotations

import io
from typing import Any, Iterable, Optional, Sequence

import joblib
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

MODEL_FILE = "model.joblib"


class ModelVersionNotFound(FileNotFoundError):
    pass


def model_path(model_uri: str, version: str) -> str:
    return FileSystems.join(model_uri.rstrip("/"), version, MODEL_FILE)


def available_versions(model_uri: str) -> list[str]:
    """Versions under the URI that hold a model file, for the error that names what exists."""
    pattern = FileSystems.join(model_uri.rstrip("/"), "*", MODEL_FILE)
    try:
        matches = FileSystems.match([pattern])[0].metadata_list
    except Exception:  # a URI that does not exist at all matches nothing on every filesystem
        return []
    versions = {FileSystems.split(FileSystems.split(m.path)[0])[1] for m in matches}
    return sorted(versions)


def check_version(model_uri: str, version: str) -> str:
    """The model file's path; ModelVersionNotFound, naming the versions there are, if absent."""
    path = model_path(model_uri, version)
    if not FileSystems.exists(path):
        found = available_versions(model_uri)
        raise ModelVersionNotFound(
            f"model version {version!r} not found: {path} does not exist "
            f"(versions under {model_uri}: {', '.join(found) if found else 'none'})")
    return path


class LoadedModel:
    """The estimator with the version it came from.

    RunInference keeps its model behind a weak reference (to share it across threads), so
    load_model must return an object that can be weakly referenced: a plain class, not a dict.
    """

    def __init__(self, estimator: Any, version: str, path: str):
        self.estimator = estimator
        self.version = version
        self.path = path


class Rejected:
    """The inference of an example the model cannot take (it has the wrong number of
    features): the pipeline sends it to the dead-letter output instead of failing the batch."""

    def __init__(self, reason: str):
        self.reason = reason

    def __eq__(self, other):
        return isinstance(other, Rejected) and other.reason == self.reason

    def __repr__(self):
        return f"Rejected({self.reason!r})"


def score(estimator: Any, features: np.ndarray) -> np.ndarray:
    """P(class 1) for binary classifiers, the prediction itself for everything else."""
    if hasattr(estimator, "predict_proba") and len(getattr(estimator, "classes_", ())) == 2:
        return estimator.predict_proba(features)[:, 1]
    return np.asarray(estimator.predict(features), dtype=float)


class VersionedModelHandler(ModelHandler[np.ndarray, PredictionResult, LoadedModel]):
    """A RunInference handler for one model version; examples are 1-D feature arrays."""

    def __init__(self, model_uri: str, version: str, *, min_batch_size: Optional[int] = None,
                 max_batch_size: Optional[int] = None):
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size)
        self.model_uri = model_uri
        self.version = version

    def load_model(self) -> LoadedModel:
        path = check_version(self.model_uri, self.version)
        # Read whole, then unpickle from memory: joblib seeks, and a remote file's seek is a
        # new range request each time. The artifact bucket is trusted (only training writes
        # it), which is what makes unpickling its files acceptable.
        with FileSystems.open(path) as f:
            data = f.read()
        return LoadedModel(joblib.load(io.BytesIO(data)), self.version, path)

    def run_inference(self, batch: Sequence[np.ndarray], model: LoadedModel,
                      inference_args: Optional[dict[str, Any]] = None
                      ) -> Iterable[PredictionResult]:
        expected = getattr(model.estimator, "n_features_in_", None)
        if expected is None:  # a model that does not say: every example must fit it
            expected = len(batch[0])
        # One record of the wrong length must not fail (and retry) the whole batch with it.
        fits = [len(example) == expected for example in batch]
        good = [example for example, ok in zip(batch, fits) if ok]
        scores = iter(score(model.estimator, np.stack(good)) if good else ())
        for example, ok in zip(batch, fits):
            inference = float(next(scores)) if ok else Rejected(
                f"model {model.path} expects {expected} features per record, "
                f"got {len(example)}")
            yield PredictionResult(example, inference, model_id=model.version)

    def get_metrics_namespace(self) -> str:
        return "batch_scoring"
