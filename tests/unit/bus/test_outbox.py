"""The outbox relay: in order, at least once, deleted only once the broker took them."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from scimsaga.bus import outbox
from scimsaga.bus.envelope import Envelope, Outgoing, new_message
from scimsaga.bus.outbox import OutboxRelay, Record
from scimsaga.storage import open_database, transaction
from tests.polling import wait_until

AT = "2026-01-01T00:00:00Z"


class BrokerUnreachable(Exception):
    pass


class RecordingPublisher:
    """A relay's publish function: keeps what it was handed; refuses while told to be unreachable."""

    def __init__(self, refuse_first: int = 0) -> None:
        self.refuse = refuse_first
        self.batches: list[list[Record]] = []
        self.refused = 0
        self._lock = threading.Lock()

    def __call__(self, records: Sequence[Record]) -> None:
        with self._lock:
            if self.refuse:
                self.refuse = self.refuse - 1 if self.refuse > 0 else -1
                self.refused += 1
                raise BrokerUnreachable("the broker is not running")
            self.batches.append(list(records))

    @property
    def ids(self) -> list[str]:
        with self._lock:
            return [Envelope.from_json(body).id for batch in self.batches for _, body in batch]


@pytest.fixture
def outbox_path(tmp_path: Path) -> Path:
    path = tmp_path / "service.sqlite"
    outbox.install(open_database(path))
    return path


@pytest.fixture
def service_db(outbox_path: Path) -> sqlite3.Connection:
    return open_database(outbox_path)


@pytest.fixture
def relays() -> Iterator[list[OutboxRelay]]:
    started: list[OutboxRelay] = []
    yield started
    for relay in started:
        relay.stop()


def queue(conn: sqlite3.Connection, *event_ids: str, topic: str = "identity") -> None:
    """What a service does in the transaction of its state change."""
    with transaction(conn):
        outbox.add(conn, [
            Outgoing(topic, new_message("identity.UserCreated", "u1", {}, at=AT, id=event_id))
            for event_id in event_ids
        ])


def eventually(condition, message: str = "condition"):
    return wait_until(condition, timeout=5.0, interval=0.005, message=message)


def test_relay_once_publishes_unsent_rows_in_order_and_deletes_them(outbox_path, service_db):
    publisher = RecordingPublisher()
    queue(service_db, "e1", "e2")
    queue(service_db, "e3", topic="billing")

    sent = OutboxRelay(outbox_path, publisher).relay_once(service_db)

    assert sent == 3
    assert publisher.ids == ["e1", "e2", "e3"]
    assert [topic for topic, _ in publisher.batches[0]] == ["identity", "identity", "billing"]
    assert outbox.pending_count(service_db) == 0


def test_relay_once_sends_at_most_a_batch(outbox_path, service_db):
    publisher = RecordingPublisher()
    queue(service_db, "e1", "e2", "e3", "e4", "e5")
    relay = OutboxRelay(outbox_path, publisher, batch_size=2)

    assert [relay.relay_once(service_db) for _ in range(4)] == [2, 2, 1, 0]
    assert [len(b) for b in publisher.batches] == [2, 2, 1]
    assert publisher.ids == ["e1", "e2", "e3", "e4", "e5"]


def test_rows_stay_when_publish_raises_and_are_sent_next_time(outbox_path, service_db):
    publisher = RecordingPublisher(refuse_first=1)
    queue(service_db, "e1", "e2")
    relay = OutboxRelay(outbox_path, publisher)

    with pytest.raises(BrokerUnreachable):
        relay.relay_once(service_db)
    assert outbox.pending_count(service_db) == 2

    assert relay.relay_once(service_db) == 2
    assert publisher.ids == ["e1", "e2"]
    assert outbox.pending_count(service_db) == 0


def test_the_relay_thread_publishes_what_is_committed_when_notified(outbox_path, service_db, relays):
    publisher = RecordingPublisher()
    relay = OutboxRelay(outbox_path, publisher, poll_interval=30.0)
    relays.append(relay)
    relay.start()

    queue(service_db, "e1")
    relay.notify()
    eventually(lambda: publisher.ids == ["e1"])
    queue(service_db, "e2", "e3")
    relay.notify()

    eventually(lambda: publisher.ids == ["e1", "e2", "e3"])
    eventually(lambda: outbox.pending_count(service_db) == 0)
    assert relay.published == 3


def test_the_relay_thread_keeps_trying_while_publish_raises(outbox_path, service_db, relays):
    publisher = RecordingPublisher(refuse_first=3)
    queue(service_db, "e1", "e2")
    relay = OutboxRelay(outbox_path, publisher, max_backoff=0.05)
    relays.append(relay)

    relay.start()

    eventually(lambda: publisher.ids == ["e1", "e2"])
    assert publisher.refused == 3
    assert relay.failures == 3
    eventually(lambda: outbox.pending_count(service_db) == 0)


def test_a_new_relay_on_the_same_file_sends_what_an_earlier_one_left(outbox_path, service_db, relays):
    unreachable = RecordingPublisher(refuse_first=-1)
    earlier = OutboxRelay(outbox_path, unreachable, max_backoff=0.05)
    earlier.start()
    queue(service_db, "e1", "e2")
    earlier.notify()
    eventually(lambda: unreachable.refused >= 1)
    earlier.stop()
    assert outbox.pending_count(service_db) == 2

    publisher = RecordingPublisher()
    later = OutboxRelay(outbox_path, publisher)
    relays.append(later)
    later.start()

    eventually(lambda: publisher.ids == ["e1", "e2"])
    eventually(lambda: outbox.pending_count(service_db) == 0)
