"""The consumer side of the bus: batches in, idempotent handling, a report back to the broker.

A batch is handled in one transaction, each event as if in its own savepoint. The ids of the events handled
go into the service's ``inbox`` table in that same transaction, together with the state changes and
the messages they cause (the outbox), so a redelivered event is recognised and skipped: exactly once
in effect. A redelivery the inbox caught is counted (``duplicates``), so tests and operators can see
that at-least-once delivery did deliver twice and the inbox absorbed it.

When an event fails, the later events with the same key in the batch are not attempted (they are
reported ``skipped``), so the broker can redeliver them behind it, in order.

The work per event is kept to the handler's own statements: the inbox is looked up once per batch, its
rows, the outbox rows and the counters are written once per batch, and a batch first runs without a
savepoint per event; only when a handler fails is it rolled back and run again event by event, each
in a savepoint of its own (see :func:`_handle`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..storage import transaction
from . import outbox
from .envelope import Envelope, Outgoing

Handler = Callable[[Envelope, sqlite3.Connection], Sequence[Outgoing]]
"""Handles one message inside the caller's transaction; returns the messages it causes."""

Delivered = tuple[int, str]
"""One delivered event: (broker offset, envelope JSON)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    event_id TEXT PRIMARY KEY,
    processed_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

LOOKUP_CHUNK = 500
"""Event ids per inbox lookup: well under SQLite's limit on bound parameters."""


class SubscriberUnavailable(Exception):
    """The subscriber cannot take deliveries now (down, restarting, timed out): retry the batch later."""


@dataclass
class DeliveryReport:
    """What the subscriber did with each offset of a batch."""

    acked: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)
    caused: int = 0
    """Messages the batch put in the subscriber's outbox: its relay has work only when this is not 0."""

    def to_wire(self) -> WireReport:
        """The report as builtins, which cross a Ray call for less than a dataclass (packing.py)."""
        return self.acked, self.failed, self.skipped, self.caused

    @classmethod
    def from_wire(cls, wire: WireReport) -> DeliveryReport:
        acked, failed, skipped, caused = wire
        return cls(list(acked), dict(failed), list(skipped), int(caused))


WireReport = tuple[list[int], dict[int, str], list[int], int]


def install(conn: sqlite3.Connection) -> None:
    """Create the inbox, the counters and the outbox in a service's database."""
    conn.executescript(SCHEMA)
    outbox.install(conn)


def bump(conn: sqlite3.Connection, name: str, by: int = 1) -> None:
    conn.execute(
        "INSERT INTO counters (name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
        (name, by),
    )


def counter(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row else 0


def seen(conn: sqlite3.Connection, event_ids: Sequence[str]) -> set[str]:
    """Which of these event ids the inbox already holds."""
    found: set[str] = set()
    for start in range(0, len(event_ids), LOOKUP_CHUNK):
        chunk = event_ids[start:start + LOOKUP_CHUNK]
        marks = ",".join("?" * len(chunk))
        found.update(row[0] for row in conn.execute(
            f"SELECT event_id FROM inbox WHERE event_id IN ({marks})", chunk))
    return found


def process_batch(conn: sqlite3.Connection, batch: Sequence[Delivered], handle: Handler) -> DeliveryReport:
    """Handle a batch in order, once per event id, and say which offsets are done."""
    envelopes = [(offset, Envelope.from_json(body)) for offset, body in batch]
    with transaction(conn):
        done = seen(conn, [envelope.id for _, envelope in envelopes])
        conn.execute("SAVEPOINT batch")
        try:
            outcome = _handle(conn, envelopes, done, handle, guarded=False)
        except _FirstFailure as failure:
            conn.execute("ROLLBACK TO batch")
            outcome = _handle(conn, envelopes, done, handle, guarded=True, known=failure)
        conn.execute("RELEASE batch")
        if outcome.handled:
            now = time.time()
            conn.executemany("INSERT INTO inbox (event_id, processed_at) VALUES (?, ?)",
                             [(event_id, now) for event_id in outcome.handled])
            if outcome.caused:
                outbox.add(conn, outcome.caused)
                outcome.report.caused = len(outcome.caused)
            bump(conn, "processed", len(outcome.handled))
        if outcome.duplicates:
            bump(conn, "duplicates", outcome.duplicates)
    return outcome.report


class _FirstFailure(Exception):
    """The first event of a batch that failed while the batch ran without a savepoint per event."""

    def __init__(self, index: int, error: str) -> None:
        super().__init__(error)
        self.index = index
        self.error = error


@dataclass
class _Outcome:
    report: DeliveryReport = field(default_factory=DeliveryReport)
    handled: list[str] = field(default_factory=list)
    caused: list[Outgoing] = field(default_factory=list)
    duplicates: int = 0


def _handle(conn: sqlite3.Connection, envelopes: Sequence[tuple[int, Envelope]], done: set[str],
            handle: Handler, *, guarded: bool, known: _FirstFailure | None = None) -> _Outcome:
    """Run the handlers of a batch in order.

    Unguarded, the batch runs without a savepoint per event (two statements each saved) and the first
    failure raises :class:`_FirstFailure`; the caller then rolls the batch back and runs it guarded:
    each event in its own savepoint, so a failure undoes only its own event, and the event that
    failed before is reported failed again without being handled twice.
    """
    outcome = _Outcome()
    report = outcome.report
    done = set(done)
    failed_keys: set[str] = set()
    for index, (offset, envelope) in enumerate(envelopes):
        if envelope.key in failed_keys:
            report.skipped.append(offset)
            continue
        if envelope.id in done:
            outcome.duplicates += 1
            report.acked.append(offset)
            continue
        if known is not None and index == known.index:
            failed_keys.add(envelope.key)
            report.failed[offset] = known.error
            continue
        if guarded:
            conn.execute("SAVEPOINT event")
        try:
            messages = handle(envelope, conn)
        except Exception as exc:
            if not guarded:
                raise _FirstFailure(index, describe(exc)) from exc
            conn.execute("ROLLBACK TO event")
            conn.execute("RELEASE event")
            failed_keys.add(envelope.key)
            report.failed[offset] = describe(exc)
            continue
        if guarded:
            conn.execute("RELEASE event")
        outcome.caused.extend(messages)
        outcome.handled.append(envelope.id)
        done.add(envelope.id)
        report.acked.append(offset)
    return outcome


def describe(exc: BaseException) -> str:
    """An error as one line for the dead-letter queue and the saga history: never a traceback."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
