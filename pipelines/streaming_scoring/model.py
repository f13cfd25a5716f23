"""A model handler that follows the artifact bucket: a new `<model uri>/<version>/_READY`
switches it to that version's model.joblib.

A training job writes `<model uri>/<version>/model.joblib` first and the `_READY` marker last,
so a marker means the version is complete. RunInference hands each new marker path to
`update_model_path` (the model-update side input); the handler takes the version from it,
refuses a version it cannot load and keeps scoring with the one it has: a streaming job that
raised there would retry the same bundle forever and stall.
"""
from __future__ import annotations

import logging
import re
from typing import Optional

from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from batch_scoring.model import (MODEL_FILE, LoadedModel, ModelVersionNotFound,
                                 VersionedModelHandler, check_version)

READY_FILE = "_READY"
# What metadata.json allows for modelVersion: a marker of any other directory is not a version.
VERSION = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9._]*$")
NAMESPACE = "streaming_scoring"
LOG = logging.getLogger(__name__)


class RefusedMarker(ValueError):
    """A marker that names no loadable version under the model URI."""


def marker_pattern(model_uri: str) -> str:
    """What the job watches: every version's completion marker."""
    return FileSystems.join(model_uri.rstrip("/"), "*", READY_FILE)


def marker_version(model_uri: str, marker: str) -> str:
    """The version a marker completes: `<model uri>/<version>/_READY` -> `<version>`."""
    folder, leaf = FileSystems.split(marker)
    parent, version = FileSystems.split(folder)
    if leaf != READY_FILE or parent.rstrip("/") != model_uri.rstrip("/") or not VERSION.match(version):
        raise RefusedMarker(f"{marker} is not {marker_pattern(model_uri)}")
    return version


class NoMarker(FileNotFoundError):
    pass


def check_watchable(model_uri: str) -> None:
    """NoMarker unless some version under the URI has its marker: WatchFilePattern refuses an
    empty match, and in a running streaming job that failure repeats at every poll."""
    pattern = marker_pattern(model_uri)
    try:
        found = FileSystems.match([pattern])[0].metadata_list
    except Exception:  # a URI that does not exist at all matches nothing on every filesystem
        found = []
    if not found:
        raise NoMarker(f"no model version under {model_uri} has its {READY_FILE} marker "
                       f"({pattern} matches nothing): write <version>/{READY_FILE} after "
                       f"<version>/{MODEL_FILE}, as training does")


class WatchedModelHandler(VersionedModelHandler):
    """VersionedModelHandler starting at one version and moving to each version whose marker
    RunInference's model-update side input delivers; PredictionResult.model_id is the version
    that scored the example."""

    def __init__(self, model_uri: str, version: str, **kwargs):
        super().__init__(model_uri, version, **kwargs)
        self._launch_version = version
        self._marker: Optional[str] = None
        # What to fall back to when a new version does not load: the last one that did, the
        # launch version (which run() checked) until then.
        self._good_version = version
        self._refused = Metrics.counter(NAMESPACE, "refused_model_versions")
        self._switched = Metrics.counter(NAMESPACE, "model_version_switches")

    def update_model_path(self, model_path: Optional[str] = None):
        # RunInference calls this with the same path more than once per update (before and
        # after its shared-model lookup).
        if model_path is None or model_path == self._marker:
            return
        self._marker = model_path
        if model_path == "":
            # WatchFilePattern's "no marker newer than this worker's start", which it
            # delivers only before the first new one: the launch version.
            self.version = self._launch_version
            return
        try:
            version = marker_version(self.model_uri, model_path)
            check_version(self.model_uri, version)
        except (RefusedMarker, ModelVersionNotFound) as err:
            self._refused.inc()
            LOG.error("model update refused, still scoring with version %s: %s", self.version, err)
            return
        LOG.info("model update: version %s -> %s (%s)", self.version, version, model_path)
        self.version = version

    def load_model(self) -> LoadedModel:
        try:
            model = super().load_model()
        except Exception as err:  # noqa: BLE001 - any unreadable model file, e.g. a bad pickle
            if self.version == self._good_version:
                raise  # nothing to fall back to
            self._refused.inc()
            LOG.error("model version %s does not load (%s: %s), still scoring with version %s",
                      self.version, type(err).__name__, err, self._good_version)
            self.version = self._good_version
            model = super().load_model()
        if model.version != self._good_version:
            self._switched.inc()
            self._good_version = model.version
        return model

    def get_metrics_namespace(self) -> str:
        return NAMESPACE


__all__ = ["MODEL_FILE", "READY_FILE", "NoMarker", "RefusedMarker", "WatchedModelHandler",
           "check_watchable", "marker_pattern", "marker_version"]
