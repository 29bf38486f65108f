"""The transactional outbox and its relay.

A service writes the messages its state change causes into the ``outbox`` table of its own database,
in the same transaction as the change. The relay, a thread beside the service, publishes unsent rows
to the broker in order and deletes them once the broker has acknowledged them. A crash between commit
and publish loses nothing: the rows are still there when the service starts again, and the broker
ignores an event id it already has.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from ..storage import open_database, transaction
from .envelope import Outgoing

log = logging.getLogger(__name__)

Record = tuple[str, str]
"""One message to publish: (topic, envelope JSON)."""

Publish = Callable[[Sequence[Record]], None]
"""Hands records to the broker; returns only once they are durably accepted, raises otherwise."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    body TEXT NOT NULL
);
"""


def install(conn: sqlite3.Connection) -> None:
    """Create the outbox table in a service's database."""
    conn.executescript(SCHEMA)


def add(conn: sqlite3.Connection, messages: Sequence[Outgoing]) -> None:
    """Queue messages for publication; call inside the transaction that caused them."""
    conn.executemany(
        "INSERT INTO outbox (topic, body) VALUES (?, ?)",
        [(m.topic, m.envelope.to_json()) for m in messages],
    )


class OutboxRelay:
    """Publishes a database's outbox rows in order, at least once.

    ``notify()`` wakes it after a commit; it also looks every ``poll_interval`` seconds, so a missed
    wake-up only delays a message, and on start it sends whatever an earlier life left unsent.
    """

    def __init__(self, path: Path | str, publish: Publish, *, batch_size: int = 500,
                 poll_interval: float = 1.0, max_backoff: float = 5.0) -> None:
        self._path = path
        self._publish = publish
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0
        self.failures = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        conn = open_database(self._path)
        backoff = 0.05
        try:
            while not self._stopped.is_set():
                try:
                    sent = self.relay_once(conn)
                except Exception as exc:
                    self.failures += 1
                    log.warning("outbox relay could not publish (%s); retrying in %.2fs", exc, backoff)
                    self._stopped.wait(backoff)
                    backoff = min(backoff * 2, self._max_backoff)
                    continue
                backoff = 0.05
                if sent < self._batch_size:
                    self._wake.wait(self._poll_interval)
                    self._wake.clear()
        finally:
            conn.close()

    def relay_once(self, conn: sqlite3.Connection) -> int:
        """Publish one batch of unsent rows; return how many were sent."""
        rows = conn.execute(
            "SELECT seq, topic, body FROM outbox ORDER BY seq LIMIT ?", (self._batch_size,)
        ).fetchall()
        if not rows:
            return 0
        self._publish([(topic, body) for _, topic, body in rows])
        with transaction(conn):
            conn.execute("DELETE FROM outbox WHERE seq <= ?", (rows[-1][0],))
        self.published += len(rows)
        return len(rows)


def pending_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
