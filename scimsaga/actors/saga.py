"""The saga coordinator: orchestration of provisioning and deprovisioning across the services.

Saga definitions are data: their steps, each a command with its compensation. The coordinator sends
one step's command at a time over the bus, waits for the service's reply, and moves on. When a step
fails (a business rejection is never retried), the steps that completed are compensated in reverse
order, then identity is told to compensate the user; when all succeed, identity is told to activate it.

The state machine (:func:`start`, :func:`advance`) is pure; :class:`SagaCoordinator` keeps each saga in
its SQLite file, in the same transaction as the inbox record of the message that moved it, so a
coordinator killed mid-saga carries on where it stopped.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..bus.consumer import Handler
from ..bus.envelope import Envelope, Outgoing
from .host import ServiceHost
from .identity import COMMANDS as IDENTITY_COMMANDS
from .service import ANY_MESSAGE, Service

ACTION, COMPENSATION = "action", "compensation"
RUNNING, COMPENSATING, FINISHING = "running", "compensating", "finishing"
COMPLETED, COMPENSATED, FAILED = "completed", "compensated", "failed"
OPEN_STATES = (RUNNING, COMPENSATING, FINISHING)
MAX_COMPENSATION_ATTEMPTS = 5


@dataclass(frozen=True)
class Step:
    """One step: a command to a service and the command that undoes it."""

    service: str
    action: str
    compensation: str | None = None

    @property
    def topic(self) -> str:
        return f"{self.service}.commands"


@dataclass(frozen=True)
class SagaDefinition:
    """A saga as data: what starts it, its steps in order, and what identity is told at the end."""

    name: str
    trigger: str
    steps: tuple[Step, ...]
    on_success: str | None = None
    on_failure: str | None = None
    report_progress: bool = False


PROVISIONING = SagaDefinition(
    name="provision",
    trigger="identity.UserCreated",
    steps=(
        Step("profile", "profile.CreateProfile", "profile.RemoveProfile"),
        Step("access", "access.GrantDefaults", "access.RevokeAll"),
        Step("billing", "billing.CreateCustomer", "billing.CloseCustomer"),
    ),
    on_success="identity.ActivateUser",
    on_failure="identity.CompensateUser",
    report_progress=True,
)

DEPROVISIONING = SagaDefinition(
    name="deprovision",
    trigger="identity.UserDeleted",
    steps=(
        Step("billing", "billing.CloseCustomer"),
        Step("access", "access.RevokeAll"),
        Step("profile", "profile.RemoveProfile"),
    ),
)

DEFINITIONS = (PROVISIONING, DEPROVISIONING)


@dataclass
class Saga:
    """One saga's durable state."""

    id: str
    definition: str
    user_id: str
    user: dict[str, Any]
    correlation_id: str
    status: str = RUNNING
    step: int = 0
    phase: str = ACTION
    attempts: int = 0
    reason: str | None = None
    services: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    def note(self, at: str, what: str) -> None:
        self.history.append({"at": at, "event": what})


@dataclass(frozen=True)
class Send:
    """A command the coordinator sends."""

    topic: str
    type: str
    payload: dict[str, Any]


def start(definition: SagaDefinition, saga_id: str, trigger: Envelope, at: str) -> tuple[Saga, list[Send]]:
    """A new saga for the user in ``trigger``, and its first command."""
    saga = Saga(
        id=saga_id,
        definition=definition.name,
        user_id=trigger.key,
        user=dict(trigger.payload.get("user") or {}),
        correlation_id=trigger.correlation_id,
        services=[{"name": s.service, "state": "pending"} for s in definition.steps],
    )
    saga.note(at, f"started by {trigger.type}")
    return saga, _next(definition, saga, at)


def advance(definition: SagaDefinition, saga: Saga, reply: Envelope, at: str) -> list[Send]:
    """Apply a service's reply to the step the saga waits for; ignore any other (a duplicate)."""
    payload = reply.payload
    if saga.status not in (RUNNING, COMPENSATING) or payload.get("step") != saga.step \
            or payload.get("phase") != saga.phase:
        return []
    step = definition.steps[saga.step]
    entry = saga.services[saga.step]
    if saga.phase == ACTION and payload.get("ok"):
        entry.update(state="done", reference=payload.get("reference"))
        entry.pop("error", None)
        saga.note(at, f"{step.service}: {reply.type}" + _ref(payload))
        saga.step += 1
        return _progress(definition, saga) + _next(definition, saga, at)
    if saga.phase == ACTION:
        entry.update(state="failed", error=payload.get("error"))
        saga.reason = f"{step.service}: {payload.get('error')}"
        saga.note(at, f"{step.service}: {reply.type}: {payload.get('error')}")
        if not any(s.compensation for s in definition.steps):
            saga.status = FAILED
            return _progress(definition, saga)
        saga.status, saga.phase = COMPENSATING, COMPENSATION
        saga.step -= 1
        return _progress(definition, saga) + _next(definition, saga, at)
    if payload.get("ok"):
        entry["state"] = "compensated"
        saga.note(at, f"{step.service}: {reply.type} (compensated)")
        saga.step -= 1
        saga.attempts = 0
        return _progress(definition, saga) + _next(definition, saga, at)
    saga.attempts += 1
    saga.note(at, f"{step.service}: compensation failed ({payload.get('error')}), attempt {saga.attempts}")
    if saga.attempts >= MAX_COMPENSATION_ATTEMPTS:
        saga.status = FAILED
        return []
    return [_command(definition, saga, step.compensation or "")]


def finish(saga: Saga, envelope: Envelope, at: str) -> None:
    """Identity confirmed the end of the saga."""
    if saga.status != FINISHING:
        return
    saga.status = COMPLETED if envelope.type == "identity.UserActivated" else COMPENSATED
    saga.note(at, envelope.type)


def _next(definition: SagaDefinition, saga: Saga, at: str) -> list[Send]:
    if saga.phase == ACTION:
        if saga.step < len(definition.steps):
            return [_command(definition, saga, definition.steps[saga.step].action)]
        return _finish(definition, saga, definition.on_success, COMPLETED, at)
    while saga.step >= 0 and definition.steps[saga.step].compensation is None:
        saga.step -= 1
    if saga.step >= 0:
        return [_command(definition, saga, definition.steps[saga.step].compensation or "")]
    return _finish(definition, saga, definition.on_failure, COMPENSATED, at)


def _finish(definition: SagaDefinition, saga: Saga, command: str | None, final: str, at: str) -> list[Send]:
    if command is None:
        saga.status = final
        saga.note(at, final)
        return []
    saga.status = FINISHING
    saga.step = -1
    return [Send(IDENTITY_COMMANDS, command, {
        "saga_id": saga.id, "services": saga.services, "reason": saga.reason,
        "idempotency_key": f"{saga.id}/{command}",
    })]


def _command(definition: SagaDefinition, saga: Saga, command: str) -> Send:
    step = definition.steps[saga.step]
    key = f"{saga.id}/{saga.step}/{saga.phase}"
    if saga.attempts:  # a retry must be done again: under the same key the service only repeats its reply
        key += f"/retry-{saga.attempts}"
    return Send(step.topic, command, {
        "saga_id": saga.id, "step": saga.step, "phase": saga.phase, "user": saga.user,
        "idempotency_key": key,
    })


def _progress(definition: SagaDefinition, saga: Saga) -> list[Send]:
    if not definition.report_progress:
        return []
    return [Send(IDENTITY_COMMANDS, "identity.RecordProvisioning",
                 {"saga_id": saga.id, "services": [dict(s) for s in saga.services]})]


def _ref(payload: Mapping[str, Any]) -> str:
    return f" ({payload['reference']})" if payload.get("reference") else ""


class SagaHost(ServiceHost):
    """The coordinator's actor: a service host that can also list its recent sagas."""

    service: SagaCoordinator

    def recent_sagas(self, limit: int = 20) -> list[dict[str, Any]]:
        return self.service.recent(self.conn, max(1, min(limit, 500)))


class SagaCoordinator(Service):
    """Runs the saga definitions; its state lives in ``saga.sqlite``."""

    name = "saga"
    tables = """
    CREATE TABLE IF NOT EXISTS sagas (
        id TEXT PRIMARY KEY,
        definition TEXT NOT NULL,
        user_id TEXT NOT NULL,
        status TEXT NOT NULL,
        state TEXT NOT NULL,
        started_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS sagas_by_user ON sagas (user_id, started_at);
    CREATE INDEX IF NOT EXISTS sagas_by_status ON sagas (status);
    """
    definitions: Sequence[SagaDefinition] = DEFINITIONS

    def handlers(self) -> Mapping[str, Handler]:
        table: dict[str, Handler] = {d.trigger: self.begin for d in self.definitions}
        table["identity.UserActivated"] = self.conclude
        table["identity.UserCompensated"] = self.conclude
        table[ANY_MESSAGE] = self.on_reply
        return table

    def begin(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        definition = next(d for d in self.definitions if d.trigger == envelope.type)
        now = self.clock()
        saga, sends = start(definition, f"{definition.name}-{envelope.id}", envelope, now)
        conn.execute(
            "INSERT INTO sagas (id, definition, user_id, status, state, started_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (saga.id, saga.definition, saga.user_id, saga.status, json.dumps(asdict(saga)), now, now),
        )
        return self._outgoing(saga, envelope, sends)

    def on_reply(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        if "phase" not in envelope.payload:
            return ()
        saga = self._load(conn, envelope.payload.get("saga_id"))
        if saga is None:
            return ()
        definition = self._definition(saga)
        sends = advance(definition, saga, envelope, self.clock())
        self._save(conn, saga)
        return self._outgoing(saga, envelope, sends)

    def conclude(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        saga = self._load(conn, envelope.payload.get("saga_id"))
        if saga is not None:
            finish(saga, envelope, self.clock())
            self._save(conn, saga)
        return ()

    def describe(self, conn: sqlite3.Connection) -> dict[str, Any]:
        return {"sagas": dict(conn.execute("SELECT status, count(*) FROM sagas GROUP BY status"))}

    def state_of(self, conn: sqlite3.Connection, user_id: str) -> dict[str, Any] | None:
        rows = conn.execute("SELECT state FROM sagas WHERE user_id = ? ORDER BY started_at, id",
                            (user_id,)).fetchall()
        return {"sagas": [json.loads(r[0]) for r in rows]} if rows else None

    def recent(self, conn: sqlite3.Connection, limit: int) -> list[dict[str, Any]]:
        """The latest sagas, newest first, with their history (for the dashboard)."""
        rows = conn.execute("SELECT state, started_at, updated_at FROM sagas "
                            "ORDER BY started_at DESC, id DESC LIMIT ?", (limit,)).fetchall()
        return [{**json.loads(state), "started_at": started, "updated_at": updated}
                for state, started, updated in rows]

    def _definition(self, saga: Saga) -> SagaDefinition:
        return next(d for d in self.definitions if d.name == saga.definition)

    def _load(self, conn: sqlite3.Connection, saga_id: Any) -> Saga | None:
        row = conn.execute("SELECT state FROM sagas WHERE id = ?", (saga_id,)).fetchone()
        return Saga(**json.loads(row[0])) if row else None

    def _save(self, conn: sqlite3.Connection, saga: Saga) -> None:
        conn.execute("UPDATE sagas SET status = ?, state = ?, updated_at = ? WHERE id = ?",
                     (saga.status, json.dumps(asdict(saga)), self.clock(), saga.id))

    def _outgoing(self, saga: Saga, cause: Envelope, sends: list[Send]) -> list[Outgoing]:
        at = self.clock()
        return [Outgoing(s.topic, cause.caused(s.type, s.payload, key=saga.user_id, at=at)) for s in sends]
