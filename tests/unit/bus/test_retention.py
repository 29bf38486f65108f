"""Retention: events stay in the log after consumption, for ``retention`` seconds, and longer while a
subscription still needs them; dead letters keep their own copy (guarantees 1 and 5 of issue 5)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest

from scimsaga.bus.broker import Broker
from scimsaga.settings import BusSettings
from tests.unit.bus.test_broker import SUBSCRIPTION, TOPIC, event, eventually, status_of

RETENTION = 100.0


@pytest.fixture
def kept(fast_bus: BusSettings) -> BusSettings:
    return replace(fast_bus, retention=RETENTION, max_attempts=2, retry_base=1.0)


def offsets_in_log(broker: Broker) -> list[int]:
    with broker._lock:
        return [row[0] for row in broker._conn.execute('SELECT "offset" FROM events ORDER BY "offset"')]


def test_consumed_events_are_kept_for_the_retention_and_removed_after_it(new_broker, transport, clock, kept):
    broker = new_broker(kept)
    broker.publish([event("e1", "k1"), event("e2", "k2")])
    eventually(lambda: transport.processed_by() == ["e1", "e2"])
    eventually(lambda: status_of(broker)["lag"] == 0)

    clock.advance(RETENTION - 1)
    assert broker.compact() == 0
    assert broker.topic_size(TOPIC) == 2

    clock.advance(2)
    assert broker.compact() == 2
    assert broker.topic_size(TOPIC) == 0


def test_an_event_a_subscription_has_not_read_is_kept_past_retention(new_broker, transport, clock, kept):
    broker = new_broker(kept, subscribers=("fast", "down"))
    transport.down.add("down")
    broker.publish([event("e1", "k1")])
    eventually(lambda: transport.processed_by("fast") == ["e1"])

    clock.advance(RETENTION * 10)
    assert broker.compact() == 0

    transport.down.discard("down")
    eventually(lambda: transport.processed_by("down") == ["e1"])
    eventually(lambda: status_of(broker, "down<-identity")["lag"] == 0)
    assert broker.compact() == 1


def test_an_event_waiting_for_a_retry_and_those_held_behind_it_are_kept(new_broker, transport, clock,
                                                                        fast_bus):
    broker = new_broker(replace(fast_bus, retention=RETENTION, retry_base=RETENTION * 10, max_attempts=3))
    transport.fail("a1", times=1)
    broker.publish([event("a1", "a"), event("a2", "a"), event("b1", "b")])
    eventually(lambda: transport.processed_by() == ["b1"])
    eventually(lambda: status_of(broker)["retrying"] == 2)

    clock.advance(RETENTION * 2)
    assert broker.compact() == 1  # b1 only
    assert offsets_in_log(broker) == [1, 2]

    clock.advance(RETENTION * 10)
    eventually(lambda: transport.processed_by() == ["b1", "a1", "a2"])
    eventually(lambda: status_of(broker)["lag"] == 0)
    assert broker.compact() == 2


def test_a_dead_letter_keeps_its_own_copy_and_replay_brings_the_event_back(new_broker, transport, clock,
                                                                           kept):
    broker = new_broker(replace(kept, max_attempts=1))
    transport.fail("a1")
    broker.publish([event("a1", "a"), event("a2", "a")])
    eventually(lambda: transport.processed_by() == ["a2"])
    eventually(lambda: status_of(broker)["dead_letters"] == 1)

    clock.advance(RETENTION * 2)
    assert broker.compact() == 2
    assert broker.topic_size(TOPIC) == 0
    assert [d["event_id"] for d in broker.dead_letters(SUBSCRIPTION)] == ["a1"]

    transport.heal("a1")
    assert broker.replay_dead_letters(SUBSCRIPTION) == 1

    eventually(lambda: transport.processed_by() == ["a2", "a1"])
    eventually(lambda: status_of(broker)["lag"] == 0)
    assert broker.dead_letters(SUBSCRIPTION) == []


def test_events_of_a_topic_nobody_reads_go_after_retention(new_broker, clock, kept):
    broker = new_broker(kept)
    broker.publish([event("x1", "k", topic="unread")])

    assert broker.compact() == 0
    clock.advance(RETENTION + 1)
    assert broker.compact() == 1
    assert broker.topic_size("unread") == 0


def test_a_subscription_this_broker_no_longer_serves_pins_nothing(new_broker, transport, clock, kept):
    first = new_broker(kept, subscribers=("sub", "gone"))
    transport.down.add("gone")
    first.publish([event("e1", "k1")])
    eventually(lambda: transport.processed_by() == ["e1"])
    eventually(lambda: status_of(first)["lag"] == 0)
    first.stop()

    second = new_broker(kept, subscribers=("sub",))
    clock.advance(RETENTION + 1)

    assert second.compact() == 1


def test_compaction_runs_by_itself_every_interval(new_broker, transport, clock, kept):
    broker = new_broker(replace(kept, compact_interval=0.01))
    broker.publish([event("e1", "k1")])
    eventually(lambda: status_of(broker)["lag"] == 0)

    clock.advance(RETENTION + 1)

    eventually(lambda: broker.topic_size(TOPIC) == 0, "the housekeeping thread compacted the log")


def test_a_data_directory_of_an_earlier_version_gets_the_new_dead_letter_columns(bus_path, transport, clock):
    conn = sqlite3.connect(bus_path)
    conn.executescript("""
        CREATE TABLE dead_letters (subscription TEXT NOT NULL, "offset" INTEGER NOT NULL,
            event_id TEXT NOT NULL, type TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
            attempts INTEGER NOT NULL, error TEXT NOT NULL, dead_at REAL NOT NULL,
            PRIMARY KEY (subscription, "offset"));
        INSERT INTO dead_letters VALUES ('sub<-identity', 7, 'old', 'identity.UserCreated', 'k', '{}', 3,
            'boom', 5.0);
    """)
    conn.close()

    broker = Broker(bus_path, [], transport, clock=clock)

    columns = {row[1] for row in broker._conn.execute("PRAGMA table_info(dead_letters)")}
    assert {"topic", "published_at"} <= columns
    assert broker._conn.execute("SELECT event_id FROM dead_letters").fetchall() == [("old",)]
