"""The consumer side of the bus: batches in, idempotent handling, a report back to the broker.

Each event is handled in its own savepoint inside one transaction per batch. The event id goes into
the service's ``inbox`` table in that same savepoint, together with the state change and the messages
it causes (the outbox), so a redelivered event is recognised and skipped: exactly-once in effect.

When an event fails, the later events with the same key in the batch are not attempted (they are
reported ``skipped``), so the broker can redeliver them behind it, in order.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..storage import savepoint, transaction
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
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


class SubscriberUnavailable(Exception):
    """The subscriber cannot take deliveries now (down, restarting, timed out): retry the batch later."""


@dataclass
class DeliveryReport:
    """What the subscriber did with each offset of a batch."""

    acked: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)


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


def process_batch(conn: sqlite3.Connection, batch: Sequence[Delivered], handle: Handler) -> DeliveryReport:
    """Handle a batch in order, once per event id, and say which offsets are done."""
    report = DeliveryReport()
    failed_keys: set[str] = set()
    with transaction(conn):
        for offset, body in batch:
            envelope = Envelope.from_json(body)
            if envelope.key in failed_keys:
                report.skipped.append(offset)
                continue
            if conn.execute("SELECT 1 FROM inbox WHERE event_id = ?", (envelope.id,)).fetchone():
                report.acked.append(offset)
                continue
            try:
                with savepoint(conn):
                    caused = handle(envelope, conn)
                    conn.execute("INSERT INTO inbox (event_id, processed_at) VALUES (?, ?)",
                                 (envelope.id, time.time()))
                    outbox.add(conn, caused)
                    bump(conn, "processed")
            except Exception as exc:
                failed_keys.add(envelope.key)
                report.failed[offset] = describe(exc)
                continue
            report.acked.append(offset)
    return report


def describe(exc: BaseException) -> str:
    """An error as one line for the dead-letter queue and the saga history: never a traceback."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
