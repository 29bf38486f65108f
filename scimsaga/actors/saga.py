"""The saga coordinator (orchestration): which saga a user's change starts, and keeping sagas durable.

Definitions are data (below). The coordinator reads identity's events in order and starts, per user,
one saga at a time: a change that arrives while the user's saga runs waits in line behind it, so the
services end in the state the IdP asked for last. Deleting a user whose provisioning is still under
way cancels that provisioning: what it did is undone, in reverse order.

Each saga lives in ``saga.sqlite``, written in the same transaction as the inbox record of the message
that moved it; a timer thread in :class:`SagaHost` re-sends commands whose reply is late and gives up
on steps that stay silent too long. A coordinator killed mid-saga carries on where it stopped.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..bus import codec, outbox
from ..bus.consumer import Handler
from ..bus.envelope import Envelope, Outgoing
from ..settings import Clock, IdGenerator, Settings, new_uuid, utc_now
from ..storage import transaction
from .choreography import choose
from .definitions import (
    DEFINITIONS,
    DEPROVISIONING,
    IDENTITY_ANSWERS,
    PROVISIONING,
    STARTS_SERVICES,
    requested_active,
    with_retry,
)
from .host import ServiceHost
from .saga_machine import (
    FINAL,
    OPEN,
    QUEUED,
    Moment,
    Retry,
    Saga,
    SagaDefinition,
    Send,
    cancel,
    new_saga,
    on_identity,
    on_reply,
    on_timer,
    start,
)
from .service import ANY_MESSAGE, Service

log = logging.getLogger(__name__)

class SagaCoordinator(Service):
    """Runs the saga definitions; its state lives in ``saga.sqlite``."""

    name = "saga"
    tables = """
    CREATE TABLE IF NOT EXISTS sagas (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        definition TEXT NOT NULL,
        user_id TEXT NOT NULL,
        status TEXT NOT NULL,
        wake_at REAL,
        state TEXT NOT NULL,
        started_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS sagas_by_user ON sagas (user_id, seq);
    CREATE INDEX IF NOT EXISTS sagas_by_seq ON sagas (seq);
    CREATE INDEX IF NOT EXISTS sagas_by_status ON sagas (status);
    CREATE INDEX IF NOT EXISTS sagas_by_wake ON sagas (wake_at) WHERE wake_at IS NOT NULL;
    CREATE TABLE IF NOT EXISTS known_users (
        user_id TEXT PRIMARY KEY,
        requested_active INTEGER NOT NULL
    );
    """
    definitions: Sequence[SagaDefinition] = DEFINITIONS

    def __init__(self, settings: Settings, clock: Clock = utc_now, ids: IdGenerator = new_uuid,
                 timer: Callable[[], float] = time.time) -> None:
        super().__init__(settings, clock, ids)
        self.timer = timer
        retry = Retry(settings.saga.step_timeout, 2.0, settings.saga.max_step_timeout,
                      settings.saga.give_up_after)
        self._by_name = {d.name: with_retry(d, retry) for d in self.definitions}

    def handlers(self) -> Mapping[str, Handler]:
        table: dict[str, Handler] = {
            "identity.UserCreated": self.user_created,
            "identity.UserUpdated": self.user_updated,
            "identity.UserDeleted": self.user_deleted,
        }
        for answer in IDENTITY_ANSWERS:
            table[answer] = self.identity_answered
        table[ANY_MESSAGE] = self.service_replied
        return table

    def now(self) -> Moment:
        return Moment(self.timer(), self.clock())

    # --- what starts sagas ---------------------------------------------------------------------

    def user_created(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        self._remember(conn, envelope.key, requested_active(envelope.payload))
        return self._enqueue(conn, PROVISIONING, envelope, "a new user")

    def user_updated(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        payload = dict(envelope.payload)
        payload.setdefault("previous_requested_active", self._requested(conn, envelope.key))
        self._remember(conn, envelope.key, requested_active(payload))
        choice = choose(envelope.type, payload, self._by_name)
        return self._enqueue(conn, choice.definition, envelope, choice.cause)

    def user_deleted(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        """A deletion cancels provisioning still under way; otherwise it deprovisions, in line."""
        user_id = envelope.key
        conn.execute("DELETE FROM known_users WHERE user_id = ?", (user_id,))
        now, out = self.now(), []
        cancelled = False
        for saga in self._sagas_of(conn, user_id, statuses=(QUEUED, *OPEN)):
            if saga.status == QUEUED:
                cancel(self._by_name[saga.definition], saga, "the user was deleted", now)
                self._save(conn, saga)
            elif saga.definition in STARTS_SERVICES:
                out += self._outgoing(saga, envelope,
                                      cancel(self._by_name[saga.definition], saga, "deleted while "
                                             "provisioning", now))
                self._save(conn, saga)
                cancelled = True
        if cancelled:
            return out
        return out + self._enqueue(conn, DEPROVISIONING, envelope, "a deleted user")

    # --- what moves sagas ----------------------------------------------------------------------

    def service_replied(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        if "phase" not in envelope.payload:
            return ()
        saga = self._load(conn, envelope.payload.get("saga_id"))
        if saga is None:
            return ()
        sends = on_reply(self._by_name[saga.definition], saga, envelope.type, envelope.payload, self.now())
        return self._moved(conn, saga, envelope, sends)

    def identity_answered(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        saga = self._load(conn, envelope.payload.get("saga_id"))
        if saga is None:
            return ()
        now = self.now()
        on_identity(saga, envelope.type, now)
        if envelope.payload.get("deleted") or envelope.payload.get("found") is False:
            for waiting in self._sagas_of(conn, saga.user_id, statuses=(QUEUED,)):  # the user is gone
                cancel(self._by_name[waiting.definition], waiting, "the user no longer exists", now)
                self._save(conn, waiting)
        return self._moved(conn, saga, envelope, [])

    def tick(self, conn: sqlite3.Connection) -> list[Outgoing]:
        """Handle every saga whose deadline has passed; call inside a transaction."""
        now = self.now()
        rows = conn.execute("SELECT state FROM sagas WHERE wake_at IS NOT NULL AND wake_at <= ? "
                            "ORDER BY wake_at LIMIT 500", (now.epoch,)).fetchall()
        out: list[Outgoing] = []
        for (state,) in rows:
            saga = Saga.from_dict(codec.loads(state))
            sends = on_timer(self._by_name[saga.definition], saga, now)
            out += self._moved(conn, saga, None, sends)
        return out

    # --- observation -----------------------------------------------------------------------------

    def describe(self, conn: sqlite3.Connection) -> dict[str, Any]:
        return {"sagas": dict(conn.execute("SELECT status, count(*) FROM sagas GROUP BY status"))}

    def state_of(self, conn: sqlite3.Connection, user_id: str) -> dict[str, Any] | None:
        sagas = self._sagas_of(conn, user_id)
        return {"sagas": [s.to_dict() for s in sagas]} if sagas else None

    def recent(self, conn: sqlite3.Connection, limit: int) -> list[dict[str, Any]]:
        """The latest sagas, newest first, with their history (for the dashboard)."""
        rows = conn.execute("SELECT state, started_at, updated_at FROM sagas "
                            "ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [{**codec.loads(state), "started_at": started, "updated_at": updated}
                for state, started, updated in rows]

    # --- persistence -----------------------------------------------------------------------------

    def _enqueue(self, conn: sqlite3.Connection, definition: SagaDefinition, trigger: Envelope,
                 cause: str) -> list[Outgoing]:
        definition = self._by_name[definition.name]  # as configured: with this deployment's patience
        now = self.now()
        saga = new_saga(definition, f"{definition.name}-{trigger.id}", trigger.key,
                        dict(trigger.payload.get("user") or {}), trigger.correlation_id, now, cause)
        seq = conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM sagas").fetchone()[0]
        conn.execute(
            "INSERT INTO sagas (id, seq, definition, user_id, status, wake_at, state, started_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?)",
            (saga.id, seq, saga.definition, saga.user_id, saga.status, codec.dumps(saga.to_dict()),
             now.text, now.text),
        )
        if self._sagas_of(conn, trigger.key, statuses=OPEN):
            saga.note(now, "waits for the user's running saga")
            self._save(conn, saga)
            return []
        return self._moved(conn, saga, trigger, start(definition, saga, now))

    def _moved(self, conn: sqlite3.Connection, saga: Saga, cause: Envelope | None,
               sends: list[Send]) -> list[Outgoing]:
        self._save(conn, saga)
        out = self._outgoing(saga, cause, sends)
        if saga.status in FINAL:
            out += self._start_next(conn, saga.user_id, cause)
        return out

    def _start_next(self, conn: sqlite3.Connection, user_id: str, cause: Envelope | None) -> list[Outgoing]:
        if self._sagas_of(conn, user_id, statuses=OPEN):
            return []
        queued = self._sagas_of(conn, user_id, statuses=(QUEUED,))
        if not queued:
            return []
        saga = queued[0]
        sends = start(self._by_name[saga.definition], saga, self.now())
        return self._moved(conn, saga, cause, sends)

    def _outgoing(self, saga: Saga, cause: Envelope | None, sends: list[Send]) -> list[Outgoing]:
        at = self.clock()
        out = []
        for send in sends:
            if cause is not None:
                envelope = cause.caused(send.type, send.payload, key=saga.user_id, at=at, id=self.ids())
            else:
                envelope = Envelope(self.ids(), send.type, saga.user_id, saga.correlation_id, saga.id, at,
                                    send.payload)
            out.append(Outgoing(send.topic, envelope))
        return out

    def _save(self, conn: sqlite3.Connection, saga: Saga) -> None:
        conn.execute("UPDATE sagas SET status = ?, wake_at = ?, state = ?, updated_at = ? WHERE id = ?",
                     (saga.status, saga.wake_at, codec.dumps(saga.to_dict()), self.clock(), saga.id))

    def _load(self, conn: sqlite3.Connection, saga_id: Any) -> Saga | None:
        row = conn.execute("SELECT state FROM sagas WHERE id = ?", (saga_id,)).fetchone()
        return Saga.from_dict(codec.loads(row[0])) if row else None

    def _sagas_of(self, conn: sqlite3.Connection, user_id: str,
                  statuses: Sequence[str] | None = None) -> list[Saga]:
        query, params = "SELECT state FROM sagas WHERE user_id = ?", [user_id]
        if statuses is not None:
            query += f" AND status IN ({','.join('?' * len(statuses))})"
            params += list(statuses)
        rows = conn.execute(query + " ORDER BY seq", params).fetchall()
        return [Saga.from_dict(codec.loads(r[0])) for r in rows]

    def _remember(self, conn: sqlite3.Connection, user_id: str, active: bool) -> None:
        conn.execute("INSERT OR REPLACE INTO known_users (user_id, requested_active) VALUES (?, ?)",
                     (user_id, int(active)))

    def _requested(self, conn: sqlite3.Connection, user_id: str) -> bool:
        row = conn.execute("SELECT requested_active FROM known_users WHERE user_id = ?",
                           (user_id,)).fetchone()
        return bool(row[0]) if row else True


class SagaHost(ServiceHost):
    """The coordinator's actor: a service host with a timer thread and a view of recent sagas."""

    service: SagaCoordinator

    def __init__(self, service: SagaCoordinator, settings: Settings, publish: outbox.Publish | None,
                 **options: Any) -> None:
        super().__init__(service, settings, publish, **options)
        self._stopped = threading.Event()
        self._timer = threading.Thread(target=self._run_timer, name="saga-timer", daemon=True)
        self._timer.start()

    def recent_sagas(self, limit: int = 20) -> list[dict[str, Any]]:
        with self.lock:
            return self.service.recent(self.conn, max(1, min(limit, 500)))

    def tick(self) -> int:
        """Handle the sagas whose deadlines passed; returns how many messages that sent."""
        with self.lock, transaction(self.conn):
            messages = self.service.tick(self.conn)
            outbox.add(self.conn, messages)
        if messages:
            self.notify_relay()
        return len(messages)

    def _run_timer(self) -> None:
        while not self._stopped.wait(self.settings.saga.tick_interval):
            try:
                self.tick()
            except Exception:
                log.exception("saga timer tick failed; trying again")

    def stop(self) -> None:
        self._stopped.set()
        super().stop()
