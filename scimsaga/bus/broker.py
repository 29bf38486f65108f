"""The broker: a durable log per topic, and one delivery pump per subscription.

Promises (each kept in SQLite, so a broker restart keeps them):

- publish is acknowledged only after the events are committed to the log; an event id already in the
  log is ignored, so a publisher may resend;
- a subscription's position and its retry state are committed after every batch the subscriber
  acknowledged, so a subscriber resumes where it stopped;
- delivery is at least once: an event counts as delivered only when the subscriber's report acks it;
- order per key: while an event of key K waits for a retry, later events of K wait behind it;
- an event that keeps failing moves to the subscription's dead letters after ``max_attempts``, with a
  copy of the event and its last error, and the events behind it flow on; dead letters can be listed
  and replayed;
- one batch in flight per subscription, of at most ``batch_size`` events: a slow subscriber slows only
  itself;
- events stay in the log for ``retention`` seconds after publication, and after that only as long as
  some subscription still needs them (not yet delivered, or waiting for a retry); a subscription can
  be rewound to an offset or a time within what the log still holds, to rebuild a read model.

Operators change a subscription (replay, rewind) from another thread while its pump may be in the
middle of a delivery. Such a change is written under the pump's ``state_lock`` and bumps its
``epoch``; the pump commits a delivery only while the epoch it loaded is current, and otherwise drops
the report and reloads, so a change is never overwritten by a delivery that started before it (the
subscriber's inbox makes the resulting redelivery harmless).

Fan-out timing: when the last subscription of a topic acknowledges an event, the broker notes how
long it took from the event's ``occurred_at`` (the publisher's outbox commit) to that acknowledgement,
in memory, in a bounded reservoir per topic and event type (:class:`FanoutTimer`); ``status()`` shows
the figures. It costs a few dictionary operations per acknowledgement and no I/O.
"""

from __future__ import annotations

import bisect
import functools
import logging
import math
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from ..settings import BusSettings
from ..storage import open_database, transaction
from . import codec
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
    topic TEXT,
    published_at REAL,
    PRIMARY KEY (subscription, "offset")
);
"""

ADDED_COLUMNS = {"dead_letters": {"topic": "TEXT", "published_at": "REAL"}}
"""Columns later versions added to tables a data directory of an earlier version already has."""

COMPACT_CHUNK = 5000
"""Events deleted per transaction when compacting, so a publisher never waits long for the lock."""

FANOUT_WINDOW = 8192
"""Fan-out samples kept per topic and event type: the most recent ones."""
FANOUT_WAITING_LIMIT = 100_000
"""Events per topic the fan-out timer remembers while some subscription has not acknowledged them;
past it the oldest is forgotten (a subscriber down for long, a dead letter, a rewound subscription
acknowledging an event again), so memory stays bounded and no figure is ever made up."""
CDF_POINTS = 101
"""Quantiles ``status()`` gives per event type, at 0, 1, ..., 100 percent: enough to draw a CDF."""


class BusError(ValueError):
    """An operator's request the bus cannot carry out; the message says why and what to do."""


class UnknownSubscription(BusError):
    pass


@dataclass(frozen=True)
class SubscriptionSpec:
    """A subscriber's interest in one topic. Its name is its identity in the log."""

    topic: str
    subscriber: str

    @property
    def name(self) -> str:
        return f"{self.subscriber}<-{self.topic}"


def occurred_at(body: str) -> float:
    """The envelope's ``occurred_at`` as epoch seconds, read from its JSON without parsing all of it.

    ``Envelope.to_json`` sorts the keys, so the first ``"occurred_at":"`` is the envelope's own (the
    keys before it hold strings, in which a quote is always escaped); any other JSON is parsed.
    """
    at = body.find('"occurred_at":"')
    if at >= 0:
        start = at + 15
        text = body[start:body.index('"', start)]
    else:
        text = str(codec.loads(body)["occurred_at"])
    return _epoch(text)


@functools.lru_cache(maxsize=4096)
def _epoch(text: str) -> float:
    # Timestamps have millisecond resolution, so a busy outbox writes many events with the same one:
    # remembering the recent ones spares most of the parsing (a tenth of the broker's time unremembered).
    if text.endswith(("Z", "z")):  # Python 3.10's fromisoformat does not take the Z
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text).timestamp()


class Reservoir:
    """The most recent ``size`` samples (seconds), and how many were ever added. Not thread-safe by
    itself: :class:`FanoutTimer` guards it."""

    def __init__(self, size: int) -> None:
        self._samples: deque[float] = deque(maxlen=size)
        self.count = 0
        self._summary: tuple[int, dict[str, Any]] | None = None

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)
        self.count += 1

    def snapshot(self) -> tuple[int, list[float]] | dict[str, Any]:
        """What :func:`summarize` needs, or the summary itself when nothing was added since the last."""
        if self._summary is not None and self._summary[0] == self.count:
            return self._summary[1]
        return self.count, list(self._samples)

    def remember(self, count: int, summary: dict[str, Any]) -> None:
        self._summary = (count, summary)


def summarize(count: int, samples: Sequence[float]) -> dict[str, Any]:
    """``events`` ever timed, ``window`` samples held, their p50/p95/p99/max and ``cdf_ms``, the
    quantiles at 0, 1, ..., 100 percent (nearest rank), all in milliseconds."""
    ordered = sorted(samples)
    n = len(ordered)

    def at(share: float) -> float:
        return round(ordered[min(n - 1, max(0, math.ceil(share * n) - 1))] * 1000, 3) if n else 0.0

    return {"events": count, "window": n, "p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99),
            "max_ms": at(1.0), "cdf_ms": [at(i / (CDF_POINTS - 1)) for i in range(CDF_POINTS)] if n else []}


class FanoutTimer:
    """How long each event took from its ``occurred_at`` to the last acknowledgement of it among the
    subscriptions of its topic: the fan-out latency.

    Each subscription of a topic has a bit; an event's entry holds the bits of the subscriptions that
    have not acknowledged it yet. When the last bit clears, the sample goes into the reservoir of
    (topic, event type). A topic with one subscription needs no entry. Entries are kept in memory
    only, at most ``waiting_limit`` per topic: an event some subscription never acknowledges in this
    broker's life (dead-lettered, or acknowledged before a restart) is never timed, rather than timed
    wrong. Thread-safe: every pump reports here.
    """

    def __init__(self, subscriptions: Sequence[SubscriptionSpec], window: int = FANOUT_WINDOW,
                 waiting_limit: int = FANOUT_WAITING_LIMIT) -> None:
        self._window = window
        self._waiting_limit = waiting_limit
        self._lock = threading.Lock()
        self._bit: dict[str, tuple[str, int]] = {}
        self._all: dict[str, int] = {}
        for spec in subscriptions:
            bit = 1 << sum(1 for topic, _ in self._bit.values() if topic == spec.topic)
            self._bit[spec.name] = (spec.topic, bit)
            self._all[spec.topic] = self._all.get(spec.topic, 0) | bit
        self._waiting: dict[str, dict[int, list[Any]]] = {topic: {} for topic in self._all}
        self._reservoirs: dict[str, dict[str, Reservoir]] = {topic: {} for topic in self._all}
        self._forgotten: dict[str, int] = dict.fromkeys(self._all, 0)

    def acknowledged(self, subscription: str, events: Iterable[tuple[int, str, str]], now: float) -> None:
        """``subscription`` acknowledged these ``(offset, body, type)`` at ``now`` (epoch seconds)."""
        topic, bit = self._bit[subscription]
        everyone = self._all[topic]
        waiting = self._waiting[topic]
        with self._lock:
            for offset, body, type_ in events:
                entry = waiting.get(offset)
                if entry is None:
                    try:
                        entry = [everyone, occurred_at(body), type_]
                    except (ValueError, KeyError, TypeError):  # not an envelope: nothing to time
                        continue
                    if everyone != bit:
                        waiting[offset] = entry
                        if len(waiting) > self._waiting_limit:
                            waiting.pop(next(iter(waiting)))
                            self._forgotten[topic] += 1
                entry[0] &= ~bit
                if entry[0] == 0:
                    waiting.pop(offset, None)
                    self._reservoir(topic, entry[2]).add(max(0.0, now - entry[1]))

    def _reservoir(self, topic: str, type_: str) -> Reservoir:
        reservoir = self._reservoirs[topic].get(type_)
        if reservoir is None:
            reservoir = self._reservoirs[topic][type_] = Reservoir(self._window)
        return reservoir

    def summary(self, topic: str) -> dict[str, Any]:
        """``waiting``: events of the topic not yet acknowledged by every subscription (as far as this
        broker's memory goes); ``forgotten``: events dropped from memory unfinished; ``types``: per
        event type, what :func:`summarize` gives."""
        with self._lock:
            waiting = len(self._waiting.get(topic, ()))
            forgotten = self._forgotten.get(topic, 0)
            reservoirs = sorted(self._reservoirs.get(topic, {}).items())
            snapshots = [(type_, reservoir, reservoir.snapshot()) for type_, reservoir in reservoirs]
        types = {}
        for type_, reservoir, snapshot in snapshots:  # sorting runs outside the lock the pumps take
            if isinstance(snapshot, dict):
                types[type_] = snapshot
                continue
            types[type_] = summarize(*snapshot)
            with self._lock:
                reservoir.remember(snapshot[0], types[type_])
        return {"waiting": waiting, "forgotten": forgotten, "types": types}


Row = tuple[int, str, str, str]
"""One event of the log as a pump reads it: (offset, key, body, type)."""


class _Tail:
    """The newest events of one topic, kept as publish wrote them, so the topic's pumps share one copy
    instead of each reading the same rows back from the log.

    Every event of the topic with an offset past ``complete_after`` is here, in offset order: a pump
    whose position is at least that reads from here; one further behind (just started, rewound,
    long unavailable) reads the log. The oldest rows are dropped past ``2 * keep``. Thread-safe.
    """

    def __init__(self, complete_after: int, keep: int) -> None:
        self._lock = threading.Lock()
        self._rows: list[Row] = []
        self._keep = keep
        self.complete_after = complete_after

    def add(self, rows: Iterable[Row]) -> None:
        with self._lock:
            self._rows.extend(rows)
            if len(self._rows) > 2 * self._keep:
                cut = len(self._rows) - self._keep
                self.complete_after = self._rows[cut - 1][0]
                del self._rows[:cut]

    def reset(self, complete_after: int) -> None:
        """Forget every row (compaction deleted some of them from the log): past ``complete_after``
        is only what publish adds from now on."""
        with self._lock:
            self._rows.clear()
            self.complete_after = complete_after

    def read(self, position: int, limit: int) -> list[Row] | None:
        """Up to ``limit`` events past ``position``, or None when some of them may not be here."""
        with self._lock:
            if position < self.complete_after:
                return None
            start = bisect.bisect_right(self._rows, position, key=_offset)
            return self._rows[start:start + limit]


def _offset(row: Row) -> int:
    return row[0]


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
    last_ack_at: float | None = None


def _migrate(conn: sqlite3.Connection) -> None:
    for table, columns in ADDED_COLUMNS.items():
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for column, declaration in columns.items():
            if column not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


class Broker:
    """The durable log and its delivery pumps. Thread-safe: publish from any thread."""

    def __init__(self, path: Path | str, subscriptions: Sequence[SubscriptionSpec], transport: Transport,
                 settings: BusSettings | None = None, clock: Callable[[], float] = time.time,
                 fanout_window: int = FANOUT_WINDOW) -> None:
        self._path = path
        self._settings = settings or BusSettings()
        self._transport = transport
        self._clock = clock
        self._lock = threading.Lock()
        """Guards the broker's own connection (publish, status, operators' changes)."""
        self._write_lock = threading.Lock()
        """Taken around every write transaction of the broker's connections, so that writers queue on
        a lock that wakes the next one at once, instead of SQLite's busy handler, which sleeps and
        polls (milliseconds at a time) while another connection of this process writes."""
        self._conn = open_database(path)
        self._conn.executescript(SCHEMA)
        _migrate(self._conn)
        with transaction(self._conn):
            for spec in subscriptions:
                self._conn.execute(
                    "INSERT INTO subscriptions (name, topic, subscriber) VALUES (?, ?, ?) "
                    "ON CONFLICT(name) DO NOTHING",
                    (spec.name, spec.topic, spec.subscriber),
                )
        self.fanout = FanoutTimer(subscriptions, window=fanout_window)
        logged_through = self._last_offset()
        self._tails = {spec.topic: _Tail(logged_through, keep=4 * self._settings.batch_size)
                       for spec in subscriptions}
        self._pumps = {spec.name: _Pump(self, spec) for spec in subscriptions}
        self._stopped = threading.Event()
        self._housekeeper = threading.Thread(target=self._housekeep, name="bus housekeeping", daemon=True)

    @property
    def settings(self) -> BusSettings:
        return self._settings

    def start(self) -> None:
        for pump in self._pumps.values():
            pump.start()
        self._housekeeper.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        for pump in self._pumps.values():
            pump.wake.set()
        for pump in self._pumps.values():
            pump.join(timeout)
        if self._housekeeper.is_alive():
            self._housekeeper.join(timeout)

    def publish(self, records: Sequence[Record]) -> int:
        """Append events to their topics' logs; return how many were new (the rest were duplicates)."""
        now = self._clock()
        rows = []
        topics = set()
        for topic, body in records:
            envelope = codec.loads(body)
            # As text, the way the log stores them, so a pump compares keys alike from the tail or the log.
            rows.append((str(envelope["id"]), topic, str(envelope["key"]), str(envelope["type"]), body, now))
            topics.add(topic)
        with self._lock:
            with self._write_lock, transaction(self._conn):
                before, first = self._conn.total_changes, self._last_offset() + 1
                self._conn.executemany(
                    "INSERT OR IGNORE INTO events (id, topic, key, type, body, published_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
                added = self._conn.total_changes - before
                logged = self._logged(rows, first, added) if added else {}
            # Committed, so the pumps may see them; still under the lock, so tails grow in log order.
            for topic, topic_rows in logged.items():
                self._tails[topic].add(topic_rows)
        for pump in self._pumps.values():
            if pump.spec.topic in topics:
                pump.wake.set()
        return added

    def _last_offset(self) -> int:
        row = self._conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return int(row[0]) if row else 0

    def _logged(self, rows: Sequence[tuple[str, str, str, str, str, float]], first: int,
                added: int) -> dict[str, list[Row]]:
        """The events publish just logged, from offset ``first`` on, per topic that has a tail."""
        if added == len(rows) and self._last_offset() - first + 1 == added:
            # Nothing was a duplicate: the log numbered the rows one by one in the order given.
            logged: Iterable[tuple[int, str, str, str, str]] = (
                (first + i, topic, key, body, type_)
                for i, (_, topic, key, type_, body, _) in enumerate(rows))
        else:
            logged = self._conn.execute(
                'SELECT "offset", topic, key, body, type FROM events WHERE "offset" >= ? ORDER BY "offset"',
                (first,)).fetchall()
        by_topic: dict[str, list[Row]] = {}
        for offset, topic, key, body, type_ in logged:
            if topic in self._tails:
                by_topic.setdefault(topic, []).append((offset, key, body, type_))
        return by_topic

    def status(self) -> list[dict[str, Any]]:
        """Per subscription, what an operator and ``/metrics`` need to see.

        ``lag``: events published but not acknowledged (not yet delivered, or waiting for a retry);
        ``oldest_unacked_age_s``: the age of the oldest of those; ``in_flight``: events in the batch
        the subscriber holds now; ``retrying``: events waiting for a retry (and those held behind them
        by key); ``dead_letters``; ``delivered``: events acknowledged; ``redelivered``: acknowledged
        events that needed more than one attempt; ``position``: the offset up to which the log was
        read; ``head``: the topic's latest offset; ``last_ack_at``: when the subscriber last
        acknowledged (epoch seconds, None yet in this broker's life); ``state``: idle, delivering,
        retrying or unavailable; ``last_error``; ``fanout``: the topic's fan-out figures (the same for
        every subscription of the topic, see :meth:`FanoutTimer.summary`).
        """
        now = self._clock()
        out = []
        fanout = {topic: self.fanout.summary(topic) for topic in {p.spec.topic for p in self._pumps.values()}}
        with self._lock:
            for name, pump in self._pumps.items():
                topic = pump.spec.topic
                position, delivered, redelivered = self._conn.execute(
                    "SELECT position, delivered, redelivered FROM subscriptions WHERE name = ?", (name,)
                ).fetchone()
                unread = self._conn.execute(
                    'SELECT count(*) FROM events WHERE topic = ? AND "offset" > ?', (topic, position)
                ).fetchone()[0]
                first_unread = self._conn.execute(
                    'SELECT published_at FROM events WHERE topic = ? AND "offset" > ? ORDER BY "offset" '
                    "LIMIT 1", (topic, position)
                ).fetchone()
                retrying, oldest_retrying = self._conn.execute(
                    "SELECT count(*), min(e.published_at) FROM pending p "
                    'JOIN events e ON e."offset" = p."offset" WHERE p.subscription = ?',
                    (name,),
                ).fetchone()
                dead = self._conn.execute(
                    "SELECT count(*) FROM dead_letters WHERE subscription = ?", (name,)
                ).fetchone()[0]
                head = self._conn.execute(
                    'SELECT max("offset") FROM events WHERE topic = ?', (topic,)).fetchone()[0]
                candidates = (first_unread[0] if first_unread else None, oldest_retrying)
                oldest = min((t for t in candidates if t is not None), default=None)
                activity = pump.activity
                out.append({
                    "name": name,
                    "topic": topic,
                    "subscriber": pump.spec.subscriber,
                    "position": position,
                    "head": head or 0,
                    "lag": unread + retrying,
                    "retrying": retrying,
                    "in_flight": activity.in_flight,
                    "dead_letters": dead,
                    "delivered": delivered,
                    "redelivered": redelivered,
                    "oldest_unacked_age_s": round(max(0.0, now - oldest), 3) if oldest is not None else 0.0,
                    "last_ack_at": activity.last_ack_at,
                    "state": activity.state,
                    "last_error": activity.last_error,
                    "fanout": fanout[topic],
                })
        return out

    def _pump(self, subscription: str) -> _Pump:
        pump = self._pumps.get(subscription)
        if pump is None:
            known = ", ".join(self._pumps) or "none"
            raise UnknownSubscription(f"no subscription '{subscription}'; the subscriptions are: {known}")
        return pump

    def dead_letters(self, subscription: str) -> list[dict[str, Any]]:
        """A subscription's dead letters, oldest offset first, each with its last error."""
        self._pump(subscription)
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
        return self._pump(subscription).replay()

    def rewind(self, subscription: str, *, to_offset: int | None = None,
               to_time: float | None = None) -> dict[str, Any]:
        """Deliver a subscription's events again from an offset, or from the first event published at
        or after a time (epoch seconds), as far as the log still holds them.

        Rewinding moves back only: events the subscription has not read yet are never skipped. The
        subscriber's inbox recognises the events it already handled; a read model that should be
        rebuilt forgets its state (and its inbox) first.
        """
        if (to_offset is None) == (to_time is None):
            raise BusError("rewind needs either an offset or a time")
        return self._pump(subscription).rewind(to_offset, to_time)

    def compact(self) -> int:
        """Delete the events past retention that no subscription needs any more; return how many.

        Needed: not yet read by a subscription of this broker (offset past its position), or waiting
        for a retry. Dead letters keep their own copy, so a dead-lettered event does not pin the log.
        Subscriptions a data directory remembers but this broker no longer serves do not count.
        """
        cutoff = self._clock() - self._settings.retention
        names = list(self._pumps)
        marks = ",".join("?" * len(names)) or "NULL"
        statement = (
            'DELETE FROM events WHERE "offset" IN (SELECT e."offset" FROM events e '
            "WHERE e.published_at < ? "
            f"AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.name IN ({marks}) "
            'AND s.topic = e.topic AND s.position < e."offset") '
            f"AND NOT EXISTS (SELECT 1 FROM pending p WHERE p.subscription IN ({marks}) "
            'AND p."offset" = e."offset") '
            'ORDER BY e."offset" LIMIT ?)'
        )
        deleted = 0
        while not self._stopped.is_set():
            with self._lock:
                with self._write_lock, transaction(self._conn):
                    before = self._conn.total_changes
                    self._conn.execute(statement, (cutoff, *names, *names, COMPACT_CHUNK))
                    removed = self._conn.total_changes - before
                if removed:  # before a rewind (which takes the same lock) could read a deleted event
                    logged_through = self._last_offset()
                    for tail in self._tails.values():
                        tail.reset(logged_through)
            deleted += removed
            if removed < COMPACT_CHUNK:
                break
        if deleted:
            log.info("compacted the log: %d events past retention removed", deleted)
        return deleted

    def topic_size(self, topic: str) -> int:
        with self._lock:
            return int(self._conn.execute(
                "SELECT count(*) FROM events WHERE topic = ?", (topic,)).fetchone()[0])

    def _housekeep(self) -> None:
        while not self._stopped.wait(self._settings.compact_interval):
            try:
                self.compact()
            except Exception:  # a failed compaction only delays the next one
                log.exception("compacting the log failed")


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
    types: dict[int, str] = field(default_factory=dict)
    blocked: list[tuple[int, str]] = field(default_factory=list)
    gone: list[int] = field(default_factory=list)
    new_position: int | None = None


class _Pump:
    """Delivers one subscription's events, one batch at a time, on its own thread and connection."""

    def __init__(self, broker: Broker, spec: SubscriptionSpec) -> None:
        self.broker = broker
        self.spec = spec
        self.wake = threading.Event()
        self.activity = _Activity()
        self.state_lock = threading.Lock()
        self.epoch = 0
        self._thread = threading.Thread(target=self._run, name=f"pump {spec.name}", daemon=True)
        self._conn = open_database(broker._path)
        self._position = 0
        self._pending: dict[int, _Pending] = {}
        self._load()
        self._loaded_epoch = self.epoch

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    # --- operators' changes: run on the caller's thread, through the broker's connection ------------

    def replay(self) -> int:
        """Move the dead letters back into the retry line, restoring any event retention removed."""
        conn = self.broker._conn
        with self.state_lock, self.broker._lock, self.broker._write_lock, transaction(conn):
            rows = conn.execute(
                'SELECT "offset", event_id, type, key, body, topic, published_at, dead_at FROM dead_letters '
                "WHERE subscription = ?", (self.spec.name,)
            ).fetchall()
            conn.executemany(
                'INSERT OR IGNORE INTO events ("offset", id, topic, key, type, body, published_at) '
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(offset, event_id, topic or self.spec.topic, key, type_, body,
                  published_at if published_at is not None else dead_at)
                 for offset, event_id, type_, key, body, topic, published_at, dead_at in rows],
            )
            conn.executemany(
                'INSERT OR REPLACE INTO pending (subscription, "offset", key, attempts, next_attempt_at) '
                "VALUES (?, ?, ?, 0, 0)",
                [(self.spec.name, row[0], row[3]) for row in rows],
            )
            conn.execute("DELETE FROM dead_letters WHERE subscription = ?", (self.spec.name,))
            self.epoch += 1
        self.wake.set()
        return len(rows)

    def rewind(self, to_offset: int | None, to_time: float | None) -> dict[str, Any]:
        conn = self.broker._conn
        name, topic = self.spec.name, self.spec.topic
        with self.state_lock, self.broker._lock, self.broker._write_lock, transaction(conn):
            position = conn.execute(
                "SELECT position FROM subscriptions WHERE name = ?", (name,)).fetchone()[0]
            if to_offset is not None:
                if to_offset < 0:
                    raise BusError(f"an offset is 0 or more, not {to_offset}")
                if to_offset > position + 1:
                    raise BusError(
                        f"{name} has read up to offset {position}; rewinding moves back only, so give "
                        f"an offset of at most {position + 1}")
                target = max(0, to_offset - 1)
            else:
                row = conn.execute(
                    'SELECT min("offset") FROM events WHERE topic = ? AND published_at >= ? '
                    'AND "offset" <= ?',
                    (topic, to_time, position),
                ).fetchone()
                if row[0] is None:
                    raise BusError(f"{name} has read no event published at or after that time")
                target = row[0] - 1
            conn.execute('DELETE FROM pending WHERE subscription = ? AND "offset" > ?', (name, target))
            conn.execute("UPDATE subscriptions SET position = ? WHERE name = ?", (target, name))
            again, first = conn.execute(
                'SELECT count(*), min("offset") FROM events WHERE topic = ? AND "offset" > ? '
                'AND "offset" <= ?',
                (topic, target, position),
            ).fetchone()
            self.epoch += 1
        self.wake.set()
        log.info("%s rewound from position %d to %d: %d events to deliver again",
                 name, position, target, again)
        return {"subscription": name, "position": target, "previous_position": position,
                "redeliver": again, "from_offset": first}

    # --- the pump's own thread ---------------------------------------------------------------------

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

    def _sync(self) -> None:
        """Reload position and retry state when an operator changed them since the last load."""
        with self.state_lock:
            if self._loaded_epoch != self.epoch:
                self._load()
                self._loaded_epoch = self.epoch

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
                self._loaded_epoch = -1  # the memory may be ahead of the database now: reload it
                stopped.wait(backoff.next())

    def _turn(self, backoff: _Backoff) -> None:
        """Deliver one batch (or wait for one) and commit what the subscriber reported."""
        stopped = self.broker._stopped
        self._sync()
        now = self.broker._clock()
        batch = self._next_batch(now)
        if not batch.deliveries:
            if batch.blocked or batch.gone or batch.new_position is not None:
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
        held: set[str] = set()
        if self._pending:
            in_order = sorted(self._pending)
            heads: dict[str, _Pending] = {}
            for offset in in_order:
                heads.setdefault(self._pending[offset].key, self._pending[offset])
            eligible = {key for key, head in heads.items() if head.next_attempt_at <= now}
            chosen = [o for o in in_order if self._pending[o].key in eligible][:limit]
            chosen_set = set(chosen)
            held = {p.key for o, p in self._pending.items() if o not in chosen_set}
            if chosen:
                marks = ",".join("?" * len(chosen))
                found = {offset: (body, type_) for offset, body, type_ in self._conn.execute(
                    f'SELECT "offset", body, type FROM events WHERE "offset" IN ({marks})', chosen)}
                for offset in chosen:
                    if offset in found:
                        batch.deliveries.append((offset, found[offset][0]))
                        batch.keys[offset] = self._pending[offset].key
                        batch.types[offset] = found[offset][1]
                    else:  # cannot happen while compaction spares pending events; never wedge a key on it
                        log.error("%s: event %d waits for a retry but is gone from the log; dropping it",
                                  self.spec.name, offset)
                        batch.gone.append(offset)
        room = limit - len(batch.deliveries)
        if room > 0:
            rows = self.broker._tails[self.spec.topic].read(self._position, room)
            if rows is None:
                rows = self._conn.execute(
                    'SELECT "offset", key, body, type FROM events WHERE topic = ? AND "offset" > ? '
                    'ORDER BY "offset" LIMIT ?',
                    (self.spec.topic, self._position, room),
                ).fetchall()
            if held:
                for offset, key, body, type_ in rows:
                    if key in held:
                        batch.blocked.append((offset, key))
                        continue
                    batch.deliveries.append((offset, body))
                    batch.keys[offset] = key
                    batch.types[offset] = type_
            else:
                batch.deliveries.extend((offset, body) for offset, _, body, _ in rows)
                batch.keys.update((offset, key) for offset, key, _, _ in rows)
                batch.types.update((offset, type_) for offset, _, _, type_ in rows)
            if rows:
                batch.new_position = rows[-1][0]
        return batch

    def _commit(self, batch: _Batch, report: DeliveryReport, now: float) -> None:
        name = self.spec.name
        acked = set(report.acked)
        with self.state_lock:
            if self._loaded_epoch != self.epoch:
                log.info("%s changed by an operator during a delivery; delivering again from the new state",
                         name)
                return
            redelivered = sum(1 for o in self._pending if o in acked and self._pending[o].attempts > 0)
            # The common case, every event of a fresh batch acknowledged, needs no look at each event.
            everything_acked = not self._pending and not report.failed and acked.issuperset(batch.keys)
            with self.broker._write_lock, transaction(self._conn):
                for offset, _ in () if everything_acked else batch.deliveries:
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
                for offset in batch.gone:
                    self._pending.pop(offset, None)
                    self._conn.execute(
                        'DELETE FROM pending WHERE subscription = ? AND "offset" = ?', (name, offset))
                if batch.new_position is not None:
                    self._position = batch.new_position
                self._conn.execute(
                    "UPDATE subscriptions SET position = ?, delivered = delivered + ?, "
                    "redelivered = redelivered + ? WHERE name = ?",
                    (self._position, len(acked), redelivered, name),
                )
        if acked:
            self.activity.last_ack_at = now
            self.broker.fanout.acknowledged(
                name, ((offset, body, batch.types[offset]) for offset, body in batch.deliveries
                       if offset in acked), now)
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
                "attempts, error, dead_at, topic, published_at) "
                'SELECT ?, "offset", id, type, key, body, ?, ?, ?, topic, published_at FROM events '
                'WHERE "offset" = ?',
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
