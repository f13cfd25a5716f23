"""Puts pipelines/ on sys.path: the tests import `batch_scoring`, `streaming_features`, `streaming_scoring` and
`beamkit` by the same names the template image does (its PYTHONPATH is /template)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
