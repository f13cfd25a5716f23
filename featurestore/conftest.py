"""Puts featurestore/ on sys.path: the tests import `materialize.main` by the name the image runs."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
