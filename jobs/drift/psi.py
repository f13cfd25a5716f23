"""The drift job's arithmetic: windows, feature extraction and the population stability index.

Pure functions over plain Python lists (no numpy: the job's image needs only the two Google Cloud
clients), tested offline on generated data (tests/jobs/test_drift.py).

PSI = sum over bins of (c - b) * ln(c / b), where b and c are the baseline's and the current
window's fractions of values in each bin. Bins are cut at the baseline's quantiles, so each holds
about 1/bins of the baseline; an empty bin's fraction is raised to `floor` so the log stays finite.
Usual reading: below 0.1 no shift, 0.1 to 0.2 a moderate one, above 0.2 a significant one.
"""

from __future__ import annotations

import bisect
import json
import math
from datetime import datetime, timedelta
from typing import Iterable, Mapping, NamedTuple, Optional, Sequence

FLOOR = 1e-4


class Window(NamedTuple):
    start: datetime
    end: datetime
    """Exclusive."""


def windows(now: datetime, current_days: int, baseline_days: int) -> tuple[Window, Window]:
    """(baseline, current): the current window is the last `current_days` days up to `now`, the
    baseline the `baseline_days` days just before it."""
    if current_days < 1 or baseline_days < 1:
        raise ValueError("windows are at least one day")
    current = Window(now - timedelta(days=current_days), now)
    return Window(current.start - timedelta(days=baseline_days), current.start), current


def quantile_edges(baseline: Sequence[float], bins: int) -> list[float]:
    """The inner cut points of `bins` bins holding equal shares of the baseline (linear
    interpolation between order statistics), without duplicates (a feature with few distinct
    values gets fewer bins)."""
    if bins < 2:
        raise ValueError("bins must be at least 2")
    if not baseline:
        raise ValueError("the baseline window has no values")
    ordered = sorted(baseline)
    n = len(ordered)
    edges: list[float] = []
    for i in range(1, bins):
        pos = (n - 1) * i / bins
        lo = math.floor(pos)
        hi = min(lo + 1, n - 1)
        edge = ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
        if not edges or edge > edges[-1]:
            edges.append(edge)
    return edges


def fractions(values: Sequence[float], edges: Sequence[float], floor: float = FLOOR) -> list[float]:
    """The share of `values` in each bin (bin i holds edges[i-1] < v <= edges[i]), each at least `floor`."""
    if not values:
        raise ValueError("the window has no values")
    counts = [0] * (len(edges) + 1)
    for v in values:
        counts[bisect.bisect_left(edges, v)] += 1
    return [max(c / len(values), floor) for c in counts]


def psi(baseline: Sequence[float], current: Sequence[float], bins: int = 10, floor: float = FLOOR) -> float:
    """The population stability index of `current` against `baseline`."""
    edges = quantile_edges(baseline, bins)
    b, c = fractions(baseline, edges, floor), fractions(current, edges, floor)
    return sum((ci - bi) * math.log(ci / bi) for bi, ci in zip(b, c))


def feature_values(rows: Iterable[str], features: Optional[Sequence[str]] = None) -> dict[str, list[float]]:
    """Numeric feature values by name from logged records' `features` column (a JSON object per
    request). Non-numeric values (strings, booleans, nulls) are skipped; `features` limits the
    names (None: every numeric one seen)."""
    found: dict[str, list[float]] = {name: [] for name in features or ()}
    for row in rows:
        record = json.loads(row) if isinstance(row, str) else row
        if not isinstance(record, Mapping):
            continue
        for name, value in record.items():
            if features is not None and name not in found:
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                found.setdefault(name, []).append(float(value))
    return found


class Drift(NamedTuple):
    feature: str
    psi: Optional[float]
    """None: too few values in a window to compare."""
    baseline_count: int
    current_count: int
    drifted: bool


def evaluate(baseline: Mapping[str, Sequence[float]], current: Mapping[str, Sequence[float]], threshold: float,
             bins: int = 10, min_count: int = 100, floor: float = FLOOR) -> list[Drift]:
    """One result per feature seen in either window, by name; a feature with fewer than
    `min_count` values in a window gets no PSI (and does not count as drifted)."""
    results = []
    for name in sorted(set(baseline) | set(current)):
        b, c = baseline.get(name, ()), current.get(name, ())
        value = psi(b, c, bins, floor) if len(b) >= min_count and len(c) >= min_count else None
        results.append(Drift(name, value, len(b), len(c), value is not None and value > threshold))
    return results
