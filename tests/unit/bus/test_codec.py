"""The bus's JSON: orjson where it can, the standard library for what orjson refuses."""

from __future__ import annotations

import json
import math

import pytest

from scimsaga.bus import codec
from scimsaga.bus.envelope import Envelope, new_message


def test_an_envelope_is_written_compact_with_sorted_keys_and_read_back_equal():
    envelope = new_message("identity.UserCreated", "u1", {"userName": "zoë", "b": 1, "a": [1, 2]},
                           at="2026-01-01T00:00:00.000Z")

    text = envelope.to_json()

    assert list(json.loads(text)) == sorted(json.loads(text))
    assert ", " not in text
    assert '": ' not in text
    assert Envelope.from_json(text) == envelope


def test_integers_beyond_64_bits_survive_both_ways():
    big = {"n": 2**70 + 1, "m": -(2**63) - 1, "in_text": "x", "u": 2**64 - 1}

    text = codec.dumps_sorted(big)

    assert codec.loads(text) == big
    assert all(type(value) is int for key, value in codec.loads(text).items() if key != "in_text")


def test_a_nan_written_by_the_standard_library_is_still_read():
    value = codec.loads(json.dumps({"x": float("nan")}))

    assert math.isnan(value["x"])


def test_malformed_text_raises_the_standard_decode_error():
    with pytest.raises(json.JSONDecodeError):
        codec.loads('{"id": ')


def test_an_envelope_carrying_a_big_integer_reaches_a_subscriber_unchanged():
    envelope = new_message("identity.UserCreated", "u1", {"employeeNumber": 2**64 + 1},
                           at="2026-01-01T00:00:00.000Z")

    assert Envelope.from_json(envelope.to_json()).payload == {"employeeNumber": 2**64 + 1}
