"""JSON text for the bus: every envelope is written once and read once per subscriber and by the broker.

orjson reads an envelope about three times faster than the standard library on the machine of issue 5
(1.7 µs against 5.1 µs for a 230-byte envelope), and the bus reads five envelopes per event with four
subscribers. The standard library stays as the fallback for what orjson refuses, integers beyond 64
bits and the non-standard ``NaN``, so both read and write the same messages.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def dumps_sorted(value: Any) -> str:
    """Compact JSON with sorted keys (what :func:`scimsaga.bus.broker.occurred_at` relies on)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
