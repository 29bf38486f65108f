"""The consumer side: one transaction per batch, one savepoint per event, the inbox for dedup."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from scimsaga.bus import consumer, outbox
from scimsaga.bus.consumer import LOOKUP_CHUNK, Delivered, describe, process_batch
from scimsaga.bus.envelope import Envelope, Outgoing, new_message
from scimsaga.storage import open_database


class RecordingHandler:
    """A handler that writes each event it handles into ``handled`` and causes one reply message;
    it raises for the event ids it is told to fail, after it has written."""

    def __init__(self, failing: Sequence[str] = ()) -> None:
        self.failing = set(failing)
        self.calls: list[str] = []

    def __call__(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        self.calls.append(envelope.id)
        conn.execute("INSERT INTO handled (event_id, key) VALUES (?, ?)", (envelope.id, envelope.key))
        if envelope.id in self.failing:
            raise RuntimeError(f"cannot handle {envelope.id}\nsecond line of the message")
        reply = envelope.caused("test.Handled", {"of": envelope.id}, at="2026-01-01T00:00:00Z")
        return [Outgoing("replies", reply)]


@pytest.fixture
def service_db(tmp_path: Path) -> sqlite3.Connection:
    conn = open_database(tmp_path / "service.sqlite")
    consumer.install(conn)
    conn.execute("CREATE TABLE handled (event_id TEXT NOT NULL, key TEXT NOT NULL)")
    return conn


class Batches:
    """Deliveries as the broker makes them: increasing offsets, envelopes as JSON."""

    def __init__(self) -> None:
        self.offset = 0

    def __call__(self, *envelopes: Envelope) -> list[Delivered]:
        batch = []
        for envelope in envelopes:
            self.offset += 1
            batch.append((self.offset, envelope.to_json()))
        return batch


@pytest.fixture
def batch() -> Batches:
    return Batches()


def message(event_id: str, key: str) -> Envelope:
    return new_message("test.Happened", key, {}, at="2026-01-01T00:00:00Z", id=event_id)


def handled(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT event_id FROM handled ORDER BY rowid")]


def inbox(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT event_id FROM inbox")}


def outbox_causes(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT body FROM outbox ORDER BY seq")
    return [Envelope.from_json(body).payload["of"] for (body,) in rows]


def test_a_batch_is_handled_in_order_and_every_event_acked(service_db, batch):
    handler = RecordingHandler()

    report = process_batch(
        service_db, batch(message("e1", "a"), message("e2", "b"), message("e3", "a")), handler)

    assert report.acked == [1, 2, 3]
    assert (report.failed, report.skipped) == ({}, [])
    assert handled(service_db) == ["e1", "e2", "e3"]
    assert inbox(service_db) == {"e1", "e2", "e3"}
    assert outbox_causes(service_db) == ["e1", "e2", "e3"]
    assert consumer.counter(service_db, "processed") == 3


def test_an_event_id_seen_before_is_acked_without_handling_it_again(service_db, batch):
    handler = RecordingHandler()
    process_batch(service_db, batch(message("e1", "a")), handler)

    report = process_batch(service_db, batch(message("e1", "a"), message("e2", "a")), handler)

    assert report.acked == [2, 3]
    assert handler.calls == ["e1", "e2"]
    assert handled(service_db) == ["e1", "e2"]
    assert outbox_causes(service_db) == ["e1", "e2"]


def test_the_report_counts_the_messages_the_batch_put_in_the_outbox(service_db, batch):
    process_batch(service_db, batch(message("e1", "a")), RecordingHandler())

    again = process_batch(service_db, batch(message("e1", "a")), RecordingHandler())
    fresh = process_batch(service_db, batch(message("e2", "a"), message("e3", "b")), RecordingHandler())

    assert (again.acked, again.caused) == ([2], 0)  # the host leaves its relay asleep
    assert fresh.caused == 2


def test_a_duplicate_inside_one_batch_is_found_in_the_inbox_of_the_same_transaction(service_db, batch):
    handler = RecordingHandler()

    report = process_batch(service_db, batch(message("e1", "a"), message("e1", "a")), handler)

    assert report.acked == [1, 2]
    assert handler.calls == ["e1"]
    assert handled(service_db) == ["e1"]


def test_a_failing_handler_rolls_back_only_its_own_event(service_db, batch):
    handler = RecordingHandler(failing=["e2"])

    report = process_batch(
        service_db, batch(message("e1", "a"), message("e2", "b"), message("e3", "c")), handler)

    assert report.acked == [1, 3]
    assert list(report.failed) == [2]
    assert handled(service_db) == ["e1", "e3"]  # e2's write is undone, its neighbours' are not
    assert inbox(service_db) == {"e1", "e3"}
    assert outbox_causes(service_db) == ["e1", "e3"]
    assert consumer.counter(service_db, "processed") == 2


def test_later_events_of_a_failed_key_are_skipped_and_other_keys_acked(service_db, batch):
    handler = RecordingHandler(failing=["a1"])

    report = process_batch(service_db, batch(
        message("a1", "a"), message("b1", "b"), message("a2", "a"), message("b2", "b"), message("a3", "a"),
    ), handler)

    assert report.acked == [2, 4]
    assert list(report.failed) == [1]
    assert report.skipped == [3, 5]
    assert handler.calls == ["a1", "b1", "b2"]  # a2 and a3 were not even attempted
    assert handled(service_db) == ["b1", "b2"]


def test_a_failed_event_is_handled_when_it_comes_again(service_db, batch):
    handler = RecordingHandler(failing=["e1"])
    first = process_batch(service_db, batch(message("e1", "a")), handler)
    assert list(first.failed) == [1]

    handler.failing.clear()
    second = process_batch(service_db, batch(message("e1", "a"), message("e2", "a")), handler)

    assert second.acked == [2, 3]
    assert handled(service_db) == ["e1", "e2"]


def test_the_failure_is_reported_as_one_line_without_a_traceback(service_db, batch):
    report = process_batch(service_db, batch(message("e1", "a")), RecordingHandler(failing=["e1"]))

    assert report.failed == {1: "RuntimeError: cannot handle e1"}


@pytest.mark.parametrize(("error", "text"), [
    (ValueError("bad value"), "ValueError: bad value"),
    (KeyError("user"), "KeyError: 'user'"),
    (RuntimeError(""), "RuntimeError"),
    (RuntimeError("  first\nsecond"), "RuntimeError: first"),
])
def test_describe_gives_the_class_and_first_line(error, text):
    assert describe(error) == text


def test_messages_added_to_the_outbox_wait_for_the_relay(service_db):
    caused = message("e1", "a").caused("test.Reply", {"ok": True}, at="2026-01-01T00:00:01Z")

    outbox.add(service_db, [Outgoing("replies", caused)])

    assert outbox.pending_count(service_db) == 1
    topic, body = service_db.execute("SELECT topic, body FROM outbox").fetchone()
    assert topic == "replies"
    assert Envelope.from_json(body) == caused
    assert caused.causation_id == "e1"
    assert caused.correlation_id == "e1"


# --- batch-wide work: one inbox lookup, counted duplicates, large batches -------------------------


def test_redeliveries_the_inbox_absorbed_are_counted(service_db, batch):
    handler = RecordingHandler()
    process_batch(service_db, batch(message("e1", "a"), message("e2", "b")), handler)

    report = process_batch(service_db, batch(message("e1", "a"), message("e2", "b"), message("e3", "a")),
                           handler)

    assert report.acked == [3, 4, 5]
    assert consumer.counter(service_db, "duplicates") == 2
    assert consumer.counter(service_db, "processed") == 3
    assert handler.calls == ["e1", "e2", "e3"]


def test_a_batch_larger_than_one_inbox_lookup_is_deduplicated_whole(service_db, batch):
    handler = RecordingHandler()
    size = LOOKUP_CHUNK * 2 + 7
    first = [message(f"e{i}", f"k{i % 13}") for i in range(size)]
    process_batch(service_db, batch(*first), handler)

    again = process_batch(service_db, batch(*first, message("last", "k0")), handler)

    assert len(again.acked) == size + 1
    assert handler.calls == [f"e{i}" for i in range(size)] + ["last"]
    assert consumer.counter(service_db, "duplicates") == size
    assert len(inbox(service_db)) == size + 1


def test_a_failure_keeps_the_inbox_and_outbox_of_the_other_events_of_the_batch(service_db, batch):
    handler = RecordingHandler(failing=["b1"])

    report = process_batch(service_db, batch(message("a1", "a"), message("b1", "b"), message("a2", "a"),
                                             message("b2", "b"), message("c1", "c")), handler)

    assert (report.acked, list(report.failed), report.skipped) == ([1, 3, 5], [2], [4])
    assert handled(service_db) == ["a1", "a2", "c1"]
    assert inbox(service_db) == {"a1", "a2", "c1"}
    assert outbox_causes(service_db) == ["a1", "a2", "c1"]


def test_a_batch_where_everything_fails_writes_nothing(service_db, batch):
    handler = RecordingHandler(failing=["a1", "b1"])

    report = process_batch(service_db, batch(message("a1", "a"), message("b1", "b")), handler)

    assert list(report.failed) == [1, 2]
    assert (handled(service_db), inbox(service_db), outbox_causes(service_db)) == ([], set(), [])
    assert consumer.counter(service_db, "processed") == 0
