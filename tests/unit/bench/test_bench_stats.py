"""The statistics of ``scimsaga bench``: nearest-rank percentiles, CDFs, summaries, timestamps."""

from __future__ import annotations

import pytest

from scimsaga.bench_stats import cdf, epoch, per_second, percentile, ratio, summarize


def test_percentile_is_a_sample_some_request_really_had():
    samples = [float(n) for n in range(1, 101)]  # 1..100
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 95) == 95.0
    assert percentile(samples, 99) == 99.0
    assert percentile(samples, 100) == 100.0
    assert percentile(samples, 0) == 1.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # order of arrival does not matter


def test_percentile_of_few_samples_rounds_the_rank_up():
    assert percentile([10.0, 20.0], 50) == 10.0
    assert percentile([10.0, 20.0], 51) == 20.0
    assert percentile([7.0], 99) == 7.0


def test_percentile_of_nothing_is_zero_and_out_of_range_is_refused():
    assert percentile([], 50) == 0.0
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)


def test_cdf_gives_101_quantiles_from_the_smallest_to_the_largest():
    points = cdf([float(n) for n in range(1000, 0, -1)])
    assert len(points) == 101
    assert points[0] == 1.0
    assert points[50] == 500.0
    assert points[-1] == 1000.0
    assert points == sorted(points)
    assert cdf([]) == []


def test_summary_has_every_figure_the_report_shows():
    summary = summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert summary["count"] == 5
    figures = (summary["p50_ms"], summary["p95_ms"], summary["p99_ms"], summary["max_ms"])
    assert figures == (3.0, 100.0, 100.0, 100.0)
    assert summary["mean_ms"] == 22.0
    assert len(summary["cdf_ms"]) == 101


def test_summary_of_nothing_says_so_instead_of_inventing_zeros():
    summary = summarize([])
    assert summary["count"] == 0
    assert summary["p50_ms"] is None
    assert summary["max_ms"] is None
    assert summary["cdf_ms"] == []


def test_scim_timestamps_read_with_their_zone():
    """RFC 7643 §2.3.5 dateTime, as identity writes ``meta.created`` (milliseconds, Z)."""
    assert epoch("1970-01-01T00:00:01.500Z") == 1.5
    assert epoch("1970-01-01T01:00:00+01:00") == 0.0
    assert epoch("2026-01-01T00:00:00.250Z") - epoch("2026-01-01T00:00:00.000Z") == pytest.approx(0.25)
    with pytest.raises(ValueError, match="names its zone"):
        epoch("2026-01-01T00:00:00")


def test_rates_and_ratios_do_not_divide_by_nothing():
    assert per_second(300, 2.0) == 150.0
    assert per_second(10, 0.0) == 0.0
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(None, 2.0) is None
    assert ratio(1.0, 0.0) is None
