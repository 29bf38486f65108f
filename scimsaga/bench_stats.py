"""The statistics of ``scimsaga bench``: percentiles by nearest rank, stage summaries, CDFs, rates.

Nearest rank (the smallest sample with at least q% of the samples at or below it) reports a latency
that some request really had, never an interpolation between two; the broker's fan-out reservoir
(``bus/broker.py``) uses the same rule, so the stages compare like with like.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

CDF_POINTS = 101
"""A CDF is given as the quantiles at 0, 1, ..., 100 percent."""


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0 to 100) by nearest rank; 0.0 for no samples."""
    if not 0 <= q <= 100:
        raise ValueError(f"a percentile is between 0 and 100, not {q}")
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def cdf(samples: Sequence[float], points: int = CDF_POINTS) -> list[float]:
    """The quantiles at ``points`` evenly spaced shares from 0 to 100 percent (nearest rank)."""
    if not samples:
        return []
    ordered = sorted(samples)
    n = len(ordered)
    return [round(ordered[min(n - 1, max(0, math.ceil(i / (points - 1) * n) - 1))], 3)
            for i in range(points)]


def summarize(samples_ms: Sequence[float]) -> dict[str, Any]:
    """``count``, p50/p95/p99/max and mean (milliseconds, rounded to microseconds), and ``cdf_ms``."""
    if not samples_ms:
        return {"count": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None, "mean_ms": None,
                "cdf_ms": []}
    return {
        "count": len(samples_ms),
        "p50_ms": round(percentile(samples_ms, 50), 3),
        "p95_ms": round(percentile(samples_ms, 95), 3),
        "p99_ms": round(percentile(samples_ms, 99), 3),
        "max_ms": round(max(samples_ms), 3),
        "mean_ms": round(sum(samples_ms) / len(samples_ms), 3),
        "cdf_ms": cdf(samples_ms),
    }


def per_second(count: int, seconds: float) -> float:
    """``count`` over ``seconds``, 0.0 when no time passed."""
    return round(count / seconds, 1) if seconds > 0 else 0.0


def epoch(timestamp: str) -> float:
    """An RFC 3339 timestamp (``meta.created``, RFC 7643 §3.1) as epoch seconds."""
    text = timestamp.strip()
    if text.endswith(("Z", "z")):  # Python 3.10's fromisoformat does not take the Z
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"a SCIM timestamp names its zone: {timestamp}")
    return moment.timestamp()


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator`` rounded to hundredths, None when either is missing or zero."""
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 2)
