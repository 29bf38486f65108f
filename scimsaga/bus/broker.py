"""The broker: a durable log per topic, and one delivery pump per subscription.

Promises (each kept in SQLite, so a broker restart keeps them):

- publish is acknowledged only after the events are committed to the log; an event id already in the
  log is ignored, so a publisher may resend;
- a subscription's position and its retry state are committed after every batch the subscriber
  acknowledged, so a subscriber resumes where it stopped;
- delivery is at least once: an event counts as delivered only when the subscriber's report acks it;
- order per key: while an event of key K waits for a retry, later events of K wait behind it;
- an event that keeps failing moves to the subscription's dead letters after ``max_attempts``, and the
  events behind it flow on;
- one batch in flight per subscription, of at most ``batch_size`` events: a slow subscriber slows only
  itself.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..settings import BusSettings
from ..storage import open_database, transaction
from .consumer import Delivered, DeliveryReport, SubscriberUnavailable
from .outbox import Record

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    "offset" INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    key TEXT NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    published_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_topic ON events (topic, "offset");
CREATE TABLE IF NOT EXISTS subscriptions (
    name TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    subscriber TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    delivered INTEGER NOT NULL DEFAULT 0,
    redelivered INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS pending (
    subscription TEXT NOT NULL,
    "offset" INTEGER NOT NULL,
    key TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    PRIMARY KEY (subscription, "offset")
);
CREATE TABLE IF NOT EXISTS dead_letters (
    subscription TEXT NOT NULL,
    "offset" INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    key TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT NOT NULL,
    dead_at REAL NOT NULL,
    PRIMARY KEY (subscription, "offset")
);
"""


@dataclass(frozen=True)
class SubscriptionSpec:
    """A subscriber's interest in one topic. Its name is its identity in the log."""

    topic: str
    subscriber: str

    @property
    def name(self) -> str:
        return f"{self.subscriber}<-{self.topic}"


class Transport(Protocol):
    """Carries a batch to a subscriber and brings its report back."""

    def deliver(self, subscriber: str, batch: Sequence[Delivered], timeout: float) -> DeliveryReport:
        """Raises SubscriberUnavailable when the subscriber cannot take it now."""
        ...


@dataclass
class _Pending:
    key: str
    attempts: int
    next_attempt_at: float
    last_error: str | None = None


@dataclass
class _Activity:
    """What a pump is doing, for ``status``; written by the pump thread, read by anyone."""

    in_flight: int = 0
    state: str = "idle"
    last_error: str | None = None
    unavailable_since: float | None = None


class Broker:
    """The durable log and its delivery pumps. Thread-safe: publish from any thread."""

    def __init__(self, path: Path | str, subscriptions: Sequence[SubscriptionSpec], transport: Transport,
                 settings: BusSettings | None = None, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._settings = settings or BusSettings()
        self._transport = transport
        self._clock = clock
        self._lock = threading.Lock()
        self._conn = open_database(path)
        self._conn.executescript(SCHEMA)
        with transaction(self._conn):
            for spec in subscriptions:
                self._conn.execute(
                    "INSERT INTO subscriptions (name, topic, subscriber) VALUES (?, ?, ?) "
                    "ON CONFLICT(name) DO NOTHING",
                    (spec.name, spec.topic, spec.subscriber),
                )
        self._pumps = {spec.name: _Pump(self, spec) for spec in subscriptions}
        self._stopped = threading.Event()

    @property
    def settings(self) -> BusSettings:
        return self._settings

    def start(self) -> None:
        for pump in self._pumps.values():
            pump.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        for pump in self._pumps.values():
            pump.wake.set()
        for pump in self._pumps.values():
            pump.join(timeout)

    def publish(self, records: Sequence[Record]) -> int:
        """Append events to their topics' logs; return how many were new (the rest were duplicates)."""
        now = self._clock()
        rows = []
        topics = set()
        for topic, body in records:
            envelope = json.loads(body)
            rows.append((envelope["id"], topic, envelope["key"], envelope["type"], body, now))
            topics.add(topic)
        with self._lock, transaction(self._conn):
            before = self._conn.total_changes
            self._conn.executemany(
                "INSERT OR IGNORE INTO events (id, topic, key, type, body, published_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            added = self._conn.total_changes - before
        for pump in self._pumps.values():
            if pump.spec.topic in topics:
                pump.wake.set()
        return added

    def status(self) -> list[dict[str, Any]]:
        """Per subscription: position, lag, in flight, retrying, dead letters, oldest unacked age."""
        now = self._clock()
        out = []
        with self._lock:
            for name, pump in self._pumps.items():
                row = self._conn.execute(
                    "SELECT position, delivered, redelivered FROM subscriptions WHERE name = ?", (name,)
                ).fetchone()
                position, delivered, redelivered = row
                unread, oldest_unread = self._conn.execute(
                    'SELECT count(*), min(published_at) FROM events WHERE topic = ? AND "offset" > ?',
                    (pump.spec.topic, position),
                ).fetchone()
                retrying, oldest_retrying = self._conn.execute(
                    "SELECT count(*), min(e.published_at) FROM pending p "
                    'JOIN events e ON e."offset" = p."offset" WHERE p.subscription = ?',
                    (name,),
                ).fetchone()
                dead = self._conn.execute(
                    "SELECT count(*) FROM dead_letters WHERE subscription = ?", (name,)
                ).fetchone()[0]
                oldest = min((t for t in (oldest_unread, oldest_retrying) if t is not None), default=None)
                out.append({
                    "name": name,
                    "topic": pump.spec.topic,
                    "subscriber": pump.spec.subscriber,
                    "position": position,
                    "lag": unread + retrying,
                    "retrying": retrying,
                    "in_flight": pump.activity.in_flight,
                    "dead_letters": dead,
                    "delivered": delivered,
                    "redelivered": redelivered,
                    "oldest_unacked_age_s": round(now - oldest, 3) if oldest is not None else 0.0,
                    "state": pump.activity.state,
                    "last_error": pump.activity.last_error,
                })
        return out

    def dead_letters(self, subscription: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                'SELECT "offset", event_id, type, key, attempts, error, dead_at FROM dead_letters '
                'WHERE subscription = ? ORDER BY "offset"',
                (subscription,),
            ).fetchall()
        return [
            {"offset": o, "event_id": i, "type": t, "key": k, "attempts": a, "error": e, "dead_at": d}
            for o, i, t, k, a, e, d in rows
        ]

    def replay_dead_letters(self, subscription: str) -> int:
        """Put a subscription's dead letters back in line for delivery; return how many."""
        pump = self._pumps[subscription]
        return pump.request_replay()

    def topic_size(self, topic: str) -> int:
        with self._lock:
            return int(self._conn.execute(
                "SELECT count(*) FROM events WHERE topic = ?", (topic,)).fetchone()[0])


class _Backoff:
    """Exponential backoff from 50 ms up to a cap, for a subscriber that cannot take deliveries."""

    def __init__(self, cap: float, first: float = 0.05) -> None:
        self._cap = cap
        self._first = first
        self._delay = first

    def next(self) -> float:
        delay = self._delay
        self._delay = min(self._delay * 2, self._cap)
        return delay

    def reset(self) -> None:
        self._delay = self._first


@dataclass
class _Batch:
    deliveries: list[Delivered] = field(default_factory=list)
    keys: dict[int, str] = field(default_factory=dict)
    blocked: list[tuple[int, str]] = field(default_factory=list)
    new_position: int | None = None


class _Pump:
    """Delivers one subscription's events, one batch at a time, on its own thread and connection."""

    def __init__(self, broker: Broker, spec: SubscriptionSpec) -> None:
        self.broker = broker
        self.spec = spec
        self.wake = threading.Event()
        self.activity = _Activity()
        self._replay_requested = threading.Event()
        self._replayed = 0
        self._thread = threading.Thread(target=self._run, name=f"pump {spec.name}", daemon=True)
        self._conn = open_database(broker._path)
        self._position = 0
        self._pending: dict[int, _Pending] = {}
        self._load()

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def request_replay(self) -> int:
        """Runs on the caller's thread: it writes through the broker's connection, never the pump's own,
        which the pump thread may be using for a transaction of its own at this very moment."""
        conn = self.broker._conn
        with self.broker._lock, transaction(conn):
            rows = conn.execute(
                'SELECT "offset", key FROM dead_letters WHERE subscription = ?', (self.spec.name,)
            ).fetchall()
            conn.executemany(
                'INSERT OR REPLACE INTO pending (subscription, "offset", key, attempts, next_attempt_at) '
                "VALUES (?, ?, ?, 0, 0)",
                [(self.spec.name, offset, key) for offset, key in rows],
            )
            conn.execute("DELETE FROM dead_letters WHERE subscription = ?", (self.spec.name,))
        self._replay_requested.set()
        self.wake.set()
        return len(rows)

    def _load(self) -> None:
        self._position = self._conn.execute(
            "SELECT position FROM subscriptions WHERE name = ?", (self.spec.name,)
        ).fetchone()[0]
        self._pending = {
            offset: _Pending(key, attempts, next_at, error)
            for offset, key, attempts, next_at, error in self._conn.execute(
                'SELECT "offset", key, attempts, next_attempt_at, last_error FROM pending '
                "WHERE subscription = ?",
                (self.spec.name,),
            )
        }

    def _run(self) -> None:
        backoff = _Backoff(self.broker.settings.unavailable_cap)
        stopped = self.broker._stopped
        while not stopped.is_set():
            try:
                self._turn(backoff)
            except Exception as exc:  # never let the pump thread die: log, back off, try again
                log.exception("%s: delivery turn failed", self.spec.name)
                self.activity.in_flight = 0
                self.activity.last_error = f"{type(exc).__name__}: {exc}"
                stopped.wait(backoff.next())

    def _turn(self, backoff: _Backoff) -> None:
        """Deliver one batch (or wait for one) and commit what the subscriber reported."""
        stopped = self.broker._stopped
        if self._replay_requested.is_set():
            self._replay_requested.clear()
            self._load()
        now = self.broker._clock()
        batch = self._next_batch(now)
        if not batch.deliveries:
            if batch.blocked or batch.new_position is not None:
                self._commit(batch, DeliveryReport(), now)
                return
            self.activity.state = "idle" if not self._pending else "retrying"
            self.wake.wait(self._idle_wait(now))
            self.wake.clear()
            return
        self.activity.in_flight = len(batch.deliveries)
        self.activity.state = "delivering"
        try:
            report = self.broker._transport.deliver(
                self.spec.subscriber, batch.deliveries, self.broker.settings.delivery_timeout)
        except SubscriberUnavailable as exc:
            self.activity.in_flight = 0
            self.activity.state = "unavailable"
            self.activity.last_error = str(exc)
            if self.activity.unavailable_since is None:
                self.activity.unavailable_since = now
            stopped.wait(backoff.next())
            return
        backoff.reset()
        self.activity.unavailable_since = None
        self.activity.in_flight = 0
        self._commit(batch, report, self.broker._clock())

    def _idle_wait(self, now: float) -> float:
        due = [p.next_attempt_at for p in self._pending.values() if p.next_attempt_at > now]
        wait = self.broker.settings.idle_poll
        if due:
            wait = min(wait, max(0.0, min(due) - now))
        return max(wait, 0.001)

    def _next_batch(self, now: float) -> _Batch:
        limit = self.broker.settings.batch_size
        batch = _Batch()
        heads: dict[str, _Pending] = {}
        for offset in sorted(self._pending):
            heads.setdefault(self._pending[offset].key, self._pending[offset])
        eligible = {key for key, head in heads.items() if head.next_attempt_at <= now}
        chosen = [o for o in sorted(self._pending) if self._pending[o].key in eligible][:limit]
        chosen_set = set(chosen)
        held = {p.key for o, p in self._pending.items() if o not in chosen_set}
        if chosen:
            marks = ",".join("?" * len(chosen))
            bodies = dict(self._conn.execute(
                f'SELECT "offset", body FROM events WHERE "offset" IN ({marks})', chosen).fetchall())
            for offset in chosen:
                if offset in bodies:
                    batch.deliveries.append((offset, bodies[offset]))
                    batch.keys[offset] = self._pending[offset].key
        room = limit - len(batch.deliveries)
        if room > 0:
            rows = self._conn.execute(
                'SELECT "offset", key, body FROM events WHERE topic = ? AND "offset" > ? '
                'ORDER BY "offset" LIMIT ?',
                (self.spec.topic, self._position, room),
            ).fetchall()
            for offset, key, body in rows:
                if key in held:
                    batch.blocked.append((offset, key))
                    continue
                batch.deliveries.append((offset, body))
                batch.keys[offset] = key
            if rows:
                batch.new_position = rows[-1][0]
        return batch

    def _commit(self, batch: _Batch, report: DeliveryReport, now: float) -> None:
        name = self.spec.name
        acked = set(report.acked)
        redelivered = sum(1 for o in acked if o in self._pending and self._pending[o].attempts > 0)
        with transaction(self._conn):
            for offset, _ in batch.deliveries:
                key = batch.keys[offset]
                if offset in acked:
                    if self._pending.pop(offset, None) is not None:
                        self._conn.execute(
                            'DELETE FROM pending WHERE subscription = ? AND "offset" = ?', (name, offset))
                elif offset in report.failed:
                    self._fail(offset, key, report.failed[offset], now)
                else:
                    self._hold(offset, key)
            for offset, key in batch.blocked:
                self._hold(offset, key)
            if batch.new_position is not None:
                self._position = batch.new_position
            self._conn.execute(
                "UPDATE subscriptions SET position = ?, delivered = delivered + ?, "
                "redelivered = redelivered + ? WHERE name = ?",
                (self._position, len(acked), redelivered, name),
            )
        if report.failed:
            self.activity.last_error = next(iter(report.failed.values()))

    def _hold(self, offset: int, key: str) -> None:
        entry = self._pending.setdefault(offset, _Pending(key, 0, 0.0))
        self._conn.execute(
            'INSERT OR REPLACE INTO pending (subscription, "offset", key, attempts, next_attempt_at, '
            "last_error) VALUES (?, ?, ?, ?, ?, ?)",
            (self.spec.name, offset, key, entry.attempts, entry.next_attempt_at, entry.last_error),
        )

    def _fail(self, offset: int, key: str, error: str, now: float) -> None:
        settings = self.broker.settings
        entry = self._pending.get(offset) or _Pending(key, 0, 0.0)
        entry.attempts += 1
        entry.last_error = error
        if entry.attempts >= settings.max_attempts:
            self._pending.pop(offset, None)
            self._conn.execute(
                'DELETE FROM pending WHERE subscription = ? AND "offset" = ?', (self.spec.name, offset))
            self._conn.execute(
                'INSERT OR REPLACE INTO dead_letters (subscription, "offset", event_id, type, key, body, '
                "attempts, error, dead_at) "
                'SELECT ?, "offset", id, type, key, body, ?, ?, ? FROM events WHERE "offset" = ?',
                (self.spec.name, entry.attempts, error, now, offset),
            )
            log.warning("%s: event %s moved to dead letters after %d attempts: %s",
                        self.spec.name, offset, entry.attempts, error)
            return
        entry.next_attempt_at = now + min(settings.retry_cap, settings.retry_base * 2 ** (entry.attempts - 1))
        self._pending[offset] = entry
        self._conn.execute(
            'INSERT OR REPLACE INTO pending (subscription, "offset", key, attempts, next_attempt_at, '
            "last_error) VALUES (?, ?, ?, ?, ?, ?)",
            (self.spec.name, offset, key, entry.attempts, entry.next_attempt_at, error),
        )
