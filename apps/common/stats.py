"""Percentiles for the figures commands and benchmarks print."""

import statistics


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, interpolated; one value is its own;
    none is NaN (a figure that could not be measured)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[min(99, max(1, int(q))) - 1]
