"""The clock every service stamps with: RFC 3339 in UTC with milliseconds (RFC 7643 §2.3.5)."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from scimsaga import settings


@pytest.mark.parametrize(("nanoseconds", "text"), [
    (1_796_010_804_999_999_999, "2026-11-30T03:53:24.999Z"),
    (1_796_010_805_000_000_000, "2026-11-30T03:53:25.000Z"),
    (1_796_010_805_007_000_000, "2026-11-30T03:53:25.007Z"),
    (1_796_010_804_500_000_000, "2026-11-30T03:53:24.500Z"),  # back in time: a clock set back
    (0, "1970-01-01T00:00:00.000Z"),
])
def test_utc_now_writes_each_instant_in_order_across_seconds(monkeypatch, nanoseconds, text):
    monkeypatch.setattr(settings, "time", SimpleNamespace(time_ns=lambda: nanoseconds))  # ours only

    assert settings.utc_now() == text


def test_utc_now_agrees_with_the_datetime_module():
    before = datetime.now(timezone.utc).replace(microsecond=0)
    stamped = datetime.fromisoformat(settings.utc_now().replace("Z", "+00:00"))
    after = datetime.now(timezone.utc)

    assert before <= stamped <= after
