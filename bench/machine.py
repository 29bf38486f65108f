"""The machine a benchmark ran on, written next to every figure (kept in the package, so that
``scimsaga bench`` describes it the same way)."""

from __future__ import annotations

from scimsaga.bench_machine import PACKAGES, describe, load_average

__all__ = ["PACKAGES", "describe", "load_average"]
