"""Rewind: a subscription delivers its events again from an offset or a time, to rebuild a read model
(guarantee 10 of issue 5); an operator's change is never overwritten by a delivery in flight."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from scimsaga.bus.broker import BusError, UnknownSubscription
from tests.unit.bus.test_broker import SUBSCRIPTION, event, eventually, status_of


def test_rewinding_to_an_offset_delivers_from_there_again_in_order(new_broker, transport):
    broker = new_broker()
    broker.publish([event(f"e{i}", f"k{i % 2}") for i in range(1, 6)])
    eventually(lambda: status_of(broker)["position"] == 5)

    outcome = broker.rewind(SUBSCRIPTION, to_offset=3)

    assert outcome == {"subscription": SUBSCRIPTION, "position": 2, "previous_position": 5, "redeliver": 3,
                       "from_offset": 3}
    eventually(lambda: len(transport.processed_by()) == 8)
    assert transport.processed_by() == ["e1", "e2", "e3", "e4", "e5", "e3", "e4", "e5"]
    eventually(lambda: status_of(broker)["position"] == 5)


def test_offset_zero_rewinds_to_the_start_of_the_log(new_broker, transport):
    broker = new_broker()
    broker.publish([event("e1", "k"), event("e2", "k")])
    eventually(lambda: status_of(broker)["position"] == 2)

    assert broker.rewind(SUBSCRIPTION, to_offset=0)["redeliver"] == 2

    eventually(lambda: transport.processed_by() == ["e1", "e2", "e1", "e2"])


def test_rewinding_to_a_time_starts_at_the_first_event_published_then(new_broker, transport, clock):
    broker = new_broker()
    start = clock.now
    broker.publish([event("e1", "k1")])
    clock.advance(10.0)
    broker.publish([event("e2", "k2"), event("e3", "k1")])
    eventually(lambda: status_of(broker)["position"] == 3)

    outcome = broker.rewind(SUBSCRIPTION, to_time=start + 5.0)

    assert (outcome["position"], outcome["redeliver"]) == (1, 2)
    eventually(lambda: transport.processed_by() == ["e1", "e2", "e3", "e2", "e3"])


def test_a_rewind_keeps_the_retries_before_its_target_and_order_per_key(new_broker, transport, clock,
                                                                      fast_bus):
    broker = new_broker(replace(fast_bus, retry_base=10.0))
    transport.fail("a1", times=1)
    broker.publish([event("a1", "a"), event("b1", "b"), event("a2", "a"), event("b2", "b")])
    eventually(lambda: transport.processed_by() == ["b1", "b2"])
    eventually(lambda: status_of(broker)["retrying"] == 2)

    assert broker.rewind(SUBSCRIPTION, to_offset=3)["redeliver"] == 2  # a2 and b2

    eventually(lambda: transport.processed_by() == ["b1", "b2", "b2"])
    clock.advance(10.0)
    eventually(lambda: len(transport.processed_by()) == 5)
    assert transport.processed_by()[3:] == ["a1", "a2"]
    eventually(lambda: status_of(broker)["lag"] == 0)


def test_rewinding_before_what_retention_kept_starts_at_the_oldest_event_left(new_broker, transport, clock,
                                                                             fast_bus):
    broker = new_broker(replace(fast_bus, retention=1.0))
    broker.publish([event("old", "k")])
    eventually(lambda: status_of(broker)["position"] == 1)
    clock.advance(5.0)
    assert broker.compact() == 1
    broker.publish([event("new", "k")])
    eventually(lambda: status_of(broker)["position"] == 2)

    outcome = broker.rewind(SUBSCRIPTION, to_offset=0)

    assert (outcome["redeliver"], outcome["from_offset"]) == (1, 2)
    eventually(lambda: transport.processed_by() == ["old", "new", "new"])


@pytest.mark.parametrize(("arguments", "message"), [
    ({"to_offset": 9}, "rewinding moves back only, so give an offset of at most 3"),
    ({"to_offset": -1}, "an offset is 0 or more"),
    ({"to_time": 10_000_000.0}, "has read no event published at or after that time"),
    ({}, "either an offset or a time"),
    ({"to_offset": 1, "to_time": 1.0}, "either an offset or a time"),
])
def test_a_rewind_that_cannot_be_done_says_why_and_changes_nothing(new_broker, arguments, message):
    broker = new_broker()
    broker.publish([event("e1", "k"), event("e2", "k")])
    eventually(lambda: status_of(broker)["position"] == 2)

    with pytest.raises(BusError, match=message):
        broker.rewind(SUBSCRIPTION, **arguments)

    assert status_of(broker)["position"] == 2


def test_an_unknown_subscription_is_named_with_the_known_ones(new_broker):
    broker = new_broker(start=False)

    known = r"no subscription 'nope'; the subscriptions are: sub<-identity"
    with pytest.raises(UnknownSubscription, match=known):
        broker.rewind("nope", to_offset=0)
    with pytest.raises(UnknownSubscription):
        broker.dead_letters("nope")
    with pytest.raises(UnknownSubscription):
        broker.replay_dead_letters("nope")


def test_a_rewind_during_a_delivery_is_not_overwritten_by_its_report(new_broker, transport):
    broker = new_broker(start=False)
    broker.publish([event("e1", "k"), event("e2", "k")])
    broker.start()
    eventually(lambda: status_of(broker)["position"] == 2)
    transport.gate = threading.Event()
    transport.at_gate.clear()
    broker.publish([event("e3", "k")])
    assert transport.at_gate.wait(5.0), "the delivery of e3 did not start"

    outcome = broker.rewind(SUBSCRIPTION, to_offset=1)
    transport.gate.set()

    assert outcome["position"] == 0
    # the report on e3 arrived after the rewind: it is dropped, and the log is delivered again from 1
    eventually(lambda: transport.processed_by()[-3:] == ["e1", "e2", "e3"]
               and len(transport.processed_by()) >= 6)
    assert transport.processed_by()[:3] == ["e1", "e2", "e3"]
    eventually(lambda: status_of(broker)["position"] == 3 and status_of(broker)["lag"] == 0)
