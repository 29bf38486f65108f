"""A generic subscriber (and source) of the bus, for tests and benchmarks.

A sink records every event it handles, with the event's key and its sequence number within the key
(``payload.seq``), in its own SQLite file, in the same transaction as its inbox: so "every event
processed exactly once in effect, in order per key" is a question its database answers
(:meth:`SinkHost.sequences` and :func:`verdict`). It counts the redeliveries its inbox absorbed
(``duplicates``) and the largest batch the broker ever handed it (backpressure made visible).

A sink is also a source: :meth:`SinkHost.emit` writes events with consecutive sequence numbers per
key into its outbox, and its relay publishes them, exercising the transactional outbox end to end.
For fault tests a sink can be told to fail on chosen events (one key only) or to hold each batch for
a while after committing it, before it reports, as a subscriber killed "while it holds a batch" does.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..bus import consumer, outbox
from ..bus.consumer import Delivered, DeliveryReport, Handler
from ..bus.envelope import Envelope, Outgoing, new_message
from ..settings import Clock, IdGenerator, Settings, new_uuid, utc_now
from ..storage import transaction
from .host import ServiceHost
from .service import ANY_MESSAGE, Service

TOPIC = "sink.events"
EVENT_TYPE = "sink.Tick"
EVERY_EVENT = 0
"""The sequence number that poisons every event of a key (real sequence numbers start at 1)."""


class PoisonedEvent(Exception):
    """The sink was told to fail on this event: it fails every time, until healed."""


class SinkService(Service):
    """Records each event's key and sequence number; fails on the events it was told to."""

    name = "sink"
    tables = """
    CREATE TABLE IF NOT EXISTS received (
        n INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        seq INTEGER NOT NULL,
        event_id TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS poisoned (
        key TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (key, seq)
    );
    CREATE TABLE IF NOT EXISTS emitted (
        key TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL
    );
    """

    def __init__(self, settings: Settings, name: str = "sink", clock: Clock = utc_now,
                 ids: IdGenerator = new_uuid) -> None:
        super().__init__(settings, clock, ids)
        # Several sinks run side by side, each under its own name (its actor and its database file).
        self.name = name  # type: ignore[misc]
        self._poisoned: set[tuple[str, int]] = set()

    def install(self, conn: sqlite3.Connection) -> None:
        super().install(conn)
        self._poisoned = {(key, seq) for key, seq in conn.execute("SELECT key, seq FROM poisoned")}

    def handlers(self) -> Mapping[str, Handler]:
        return {ANY_MESSAGE: self.record}

    def record(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        seq = int(envelope.payload.get("seq", 0))
        if self._poisoned and ({(envelope.key, seq), (envelope.key, EVERY_EVENT)} & self._poisoned):
            raise PoisonedEvent(f"{self.name} refuses {envelope.key}#{seq}")
        conn.execute("INSERT INTO received (key, seq, event_id) VALUES (?, ?, ?)",
                     (envelope.key, seq, envelope.id))
        return ()

    def poison(self, conn: sqlite3.Connection, key: str, seq: int = EVERY_EVENT) -> None:
        with transaction(conn):
            conn.execute("INSERT OR IGNORE INTO poisoned (key, seq) VALUES (?, ?)", (key, seq))
        self._poisoned.add((key, seq))

    def heal(self, conn: sqlite3.Connection) -> None:
        with transaction(conn):
            conn.execute("DELETE FROM poisoned")
        self._poisoned.clear()

    def emit(self, conn: sqlite3.Connection, keys: Sequence[str], per_key: int, topic: str,
             type: str = EVENT_TYPE) -> int:
        """Queue ``per_key`` events for each key, keys interleaved, numbered on from the last ones."""
        with transaction(conn):
            last = dict(conn.execute("SELECT key, last_seq FROM emitted").fetchall())
            at = self.clock()
            messages = [
                Outgoing(topic, new_message(type, key, {"seq": last.get(key, 0) + i}, at=at))
                for i in range(1, per_key + 1) for key in keys
            ]
            outbox.add(conn, messages)
            conn.executemany(
                "INSERT INTO emitted (key, last_seq) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET last_seq = excluded.last_seq",
                [(key, last.get(key, 0) + per_key) for key in keys],
            )
        return len(messages)

    def sequences(self, conn: sqlite3.Connection) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for key, seq in conn.execute("SELECT key, seq FROM received ORDER BY n"):
            out.setdefault(key, []).append(seq)
        return out

    def forget(self, conn: sqlite3.Connection) -> int:
        """Drop the read model and the inbox, so that a rewound subscription rebuilds it."""
        with transaction(conn):
            count = int(conn.execute("SELECT count(*) FROM received").fetchone()[0])
            conn.execute("DELETE FROM received")
            conn.execute("DELETE FROM inbox")
        return count

    def describe(self, conn: sqlite3.Connection) -> dict[str, Any]:
        received, keys = conn.execute("SELECT count(*), count(DISTINCT key) FROM received").fetchone()
        return {"received": received, "keys": keys, "duplicates": consumer.counter(conn, "duplicates")}


class SinkHost(ServiceHost):
    """The sink's actor: a service host that also answers what the sink received, and can emit."""

    service: SinkService

    def __init__(self, service: Service, settings: Settings, publish: outbox.Publish | None,
                 **options: Any) -> None:
        super().__init__(service, settings, publish, **options)
        self.hold_ms = 0
        self.largest_batch = 0
        self.batches = 0

    def deliver(self, batch: Sequence[Delivered]) -> DeliveryReport:
        self.largest_batch = max(self.largest_batch, len(batch))
        report = super().deliver(batch)
        self.batches += 1
        if self.hold_ms:
            time.sleep(self.hold_ms / 1000)
        return report

    def hold(self, ms: int) -> None:
        """Wait this long after committing each batch, before reporting it (kept in memory only, so a
        restarted sink no longer holds)."""
        self.hold_ms = max(0, int(ms))

    def poison(self, key: str, seq: int = EVERY_EVENT) -> None:
        """Fail on event ``seq`` of ``key`` (every event of it by default) until healed."""
        with self.lock:
            self.service.poison(self.conn, key, seq)

    def heal(self) -> None:
        with self.lock:
            self.service.heal(self.conn)

    def emit(self, keys: Sequence[str], per_key: int, topic: str = TOPIC) -> int:
        """Publish ``per_key`` events for each of ``keys`` through the outbox; returns how many."""
        with self.lock:
            count = self.service.emit(self.conn, list(keys), per_key, topic)
        self.notify_relay()
        return count

    def sequences(self) -> dict[str, list[int]]:
        """Per key, the sequence numbers handled, in the order they were handled."""
        with self.lock:
            return self.service.sequences(self.conn)

    def forget(self) -> int:
        with self.lock:
            return self.service.forget(self.conn)

    def status(self) -> dict[str, Any]:
        return {**super().status(), "largest_batch": self.largest_batch, "batches": self.batches}


def expected(keys: Sequence[str], per_key: int, first: int = 1) -> dict[str, list[int]]:
    """What a sink should hold after ``per_key`` events of each key were emitted."""
    return {key: list(range(first, first + per_key)) for key in keys}


def verdict(sequences: Mapping[str, Sequence[int]], wanted: Mapping[str, Sequence[int]]) -> list[str]:
    """What breaks "each key got exactly its wanted sequence numbers, once each, in order"; [] if nothing.

    Each problem is one line naming the key: events lost, events whose effect happened twice, events
    out of order, or keys that should not be there.
    """
    problems = []
    for key in sorted(set(sequences) | set(wanted)):
        got = list(sequences.get(key, []))
        want = list(wanted.get(key, []))
        if key not in wanted:
            problems.append(f"{key}: {len(got)} events of a key nobody sent")
            continue
        missing = sorted(set(want) - set(got))
        twice = sorted(seq for seq, times in Counter(got).items() if times > 1)
        extra = sorted(set(got) - set(want))
        if missing:
            problems.append(f"{key}: lost {_ranges(missing)}")
        if twice:
            problems.append(f"{key}: handled more than once {_ranges(twice)}")
        if extra:
            problems.append(f"{key}: unexpected {_ranges(extra)}")
        if not (missing or twice or extra) and got != want:
            problems.append(f"{key}: out of order, first at position {_first_difference(got, want)}")
    return problems


def _first_difference(got: list[int], want: list[int]) -> int:
    return next(i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b)


def _ranges(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    return f"#{shown}" + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")
