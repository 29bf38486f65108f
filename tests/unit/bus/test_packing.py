"""Batches packed into one string per Ray call come back as the same pairs, or not at all."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scimsaga.bus.consumer import DeliveryReport
from scimsaga.bus.packing import (
    SEPARATOR,
    pack_deliveries,
    pack_records,
    unpack_deliveries,
    unpack_records,
)

json_text = st.text(alphabet=st.characters(blacklist_characters=SEPARATOR), max_size=40)


@given(st.lists(st.tuples(st.integers(min_value=0, max_value=2**62), json_text), max_size=30))
def test_deliveries_round_trip(batch):
    assert unpack_deliveries(pack_deliveries(batch)) == batch


@given(st.lists(st.tuples(json_text.filter(bool), json_text), max_size=30))
def test_records_round_trip(records):
    assert unpack_records(pack_records(records)) == records


def test_a_body_holding_the_separator_is_refused_rather_than_split():
    with pytest.raises(ValueError, match="separator"):
        pack_deliveries([(1, f'"a{SEPARATOR}b"')])
    with pytest.raises(ValueError, match="separator"):
        pack_records([("identity", f'"a{SEPARATOR}b"')])


def test_a_report_crosses_as_builtins_and_comes_back_equal():
    report = DeliveryReport(acked=[1, 3], failed={2: "ValueError: no"}, skipped=[4], caused=2)

    wire = report.to_wire()

    assert all(type(part) in (list, dict, int) for part in wire)
    assert DeliveryReport.from_wire(wire) == report
