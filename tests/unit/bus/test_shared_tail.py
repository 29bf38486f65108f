"""The pumps of a topic share the events publish just logged (the broker's tail) instead of each
reading them back; a pump too far behind for the tail reads the log. Either way a subscriber gets
every event once, in publication order."""

from __future__ import annotations

import threading
from dataclasses import replace

from tests.unit.bus.test_broker import TOPIC, event, eventually

SMALL = {"batch_size": 2}
"""The tail keeps 4 batches and drops its oldest rows past 8: a few dozen events cross both paths."""


def test_a_subscriber_down_while_the_tail_moved_on_catches_up_from_the_log(new_broker, transport, fast_bus):
    broker = new_broker(replace(fast_bus, **SMALL), subscribers=("fast", "late"))
    transport.down.add("late")
    ids = [f"e{i:02d}" for i in range(40)]

    for i, event_id in enumerate(ids):
        broker.publish([event(event_id, f"k{i % 3}")])
    eventually(lambda: transport.processed_by("fast") == ids)
    transport.down.discard("late")
    more = [f"m{i:02d}" for i in range(10)]
    broker.publish([event(event_id, "k0") for event_id in more])

    eventually(lambda: transport.processed_by("late") == ids + more)
    eventually(lambda: transport.processed_by("fast") == ids + more)


def test_duplicates_among_new_events_are_left_out_of_the_tail(new_broker, transport, fast_bus):
    broker = new_broker(replace(fast_bus, **SMALL), subscribers=("a", "b"))
    broker.publish([event("e1", "k"), event("e2", "k")])

    broker.publish([event("e2", "k"), event("e3", "k"), event("e3", "k"), event("e1", "k"), event("e4", "j")])

    for subscriber in ("a", "b"):
        eventually(lambda s=subscriber: transport.processed_by(s) == ["e1", "e2", "e3", "e4"])


def test_a_restarted_broker_delivers_the_old_log_then_what_comes_after(new_broker, transport, fast_bus):
    settings = replace(fast_bus, **SMALL)
    first = new_broker(settings, start=False)
    first.publish([event(f"old{i}", f"k{i % 2}") for i in range(7)])
    first.stop()

    second = new_broker(settings)
    second.publish([event(f"new{i}", f"k{i % 2}") for i in range(5)])

    expected = [f"old{i}" for i in range(7)] + [f"new{i}" for i in range(5)]
    eventually(lambda: transport.processed_by() == expected)


def test_publishers_on_many_threads_lose_nothing_and_keep_each_key_in_order(new_broker, transport, fast_bus):
    broker = new_broker(replace(fast_bus, **SMALL), subscribers=("a", "b"))
    threads = [f"t{n}" for n in range(4)]

    def publish_all(thread: str) -> None:
        for i in range(60):
            broker.publish([event(f"{thread}-{i:02d}", thread)])

    workers = [threading.Thread(target=publish_all, args=(thread,)) for thread in threads]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    for subscriber in ("a", "b"):
        eventually(lambda s=subscriber: len(transport.processed_by(s)) == 240, f"{subscriber} got all 240")
        got = transport.processed_by(subscriber)
        for thread in threads:
            assert [e for e in got if e.startswith(f"{thread}-")] == [f"{thread}-{i:02d}" for i in range(60)]


def test_a_key_written_as_a_number_is_the_same_key_as_its_text(new_broker, transport, clock, fast_bus):
    broker = new_broker(replace(fast_bus, **SMALL, retry_base=10.0))
    transport.fail("e1", times=1)
    numeric = event("e1", "5")[1].replace('"key":"5"', '"key":5')

    broker.publish([(TOPIC, numeric)])
    eventually(lambda: len(transport.attempt_times["e1"]) == 1)
    broker.publish([event("e2", "5")])
    clock.wait_for_pump_turns()
    assert transport.processed_by() == []  # e2 waits behind e1's retry: the same key
    clock.advance(11.0)

    eventually(lambda: transport.processed_by() == ["e1", "e2"])
