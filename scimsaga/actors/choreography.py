"""Choreography: the same sagas without a coordinator.

Each service reacts to identity's events itself: it finds its own step in the saga definition the
event starts, runs the step's command through the same idempotent handler orchestration uses, and
publishes the reply as an event on its own topic. When another service reports a failure, each
service undoes its own step (if it did it) and says so; if it had not got to it yet, it remembers the
saga as cancelled and never does it. Identity watches the outcomes (:class:`Outcomes`) and activates
the user when every service is done, or compensates it once the failure is settled everywhere.

Same definitions, same commands, same replies, same end states as orchestration: only who decides
what happens next differs, which is the comparison the two modes exist for.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..bus import codec
from ..bus.consumer import Handler
from ..bus.envelope import Envelope, Outgoing
from .saga_machine import ACTION, COMPENSATION, SagaDefinition, Step
from .service import ANY_MESSAGE, Service

USER_EVENTS = ("identity.UserCreated", "identity.UserUpdated", "identity.UserDeleted")

CHOREOGRAPHY_SCHEMA = """
CREATE TABLE IF NOT EXISTS cancelled_sagas (
    saga_id TEXT PRIMARY KEY
);
"""


def saga_id_for(definition: SagaDefinition, trigger_id: str) -> str:
    """The id every participant gives the saga an identity event starts: derived, so all agree."""
    return f"{definition.name}-{trigger_id}"


@dataclass(frozen=True)
class Choice:
    """Which saga an identity event starts (the same rule in both modes)."""

    definition: SagaDefinition
    cause: str


def choose(event_type: str, payload: Mapping[str, Any], definitions: Mapping[str, SagaDefinition]) -> Choice:
    """The saga for a user event: provisioning, deprovisioning, (de/re)activation, or an update."""
    if event_type == "identity.UserCreated":
        return Choice(definitions["provision"], "a new user")
    if event_type == "identity.UserDeleted":
        return Choice(definitions["deprovision"], "a deleted user")
    before = payload.get("previous_requested_active", True) is not False
    after = payload.get("requested_active", True) is not False
    if before and not after:
        return Choice(definitions["deactivate"], "active: false")
    if after and not before:
        return Choice(definitions["reactivate"], "active: true")
    return Choice(definitions["update"], "a changed user")


class Participant:
    """Makes a service take part in choreographed sagas: its extra handlers and its memory."""

    def __init__(self, service: Service, definitions: Sequence[SagaDefinition]) -> None:
        self.service = service
        self.definitions = {d.name: d for d in definitions}

    def install(self, conn: sqlite3.Connection) -> None:
        conn.executescript(CHOREOGRAPHY_SCHEMA)

    def handlers(self, commands: Mapping[str, Handler]) -> dict[str, Handler]:
        """Reactions to identity's events and to other services' failures, built on ``commands``."""
        self._commands = commands
        table: dict[str, Handler] = dict.fromkeys(USER_EVENTS, self.on_user_event)
        table[ANY_MESSAGE] = self.on_other_event
        return table

    def on_user_event(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        choice = choose(envelope.type, envelope.payload, self.definitions)
        saga_id = saga_id_for(choice.definition, envelope.id)
        mine = self._my_step(choice.definition)
        if mine is None:
            return ()
        index, step = mine
        if conn.execute("SELECT 1 FROM cancelled_sagas WHERE saga_id = ?", (saga_id,)).fetchone():
            return ()  # another service failed first; this step was settled as never done
        return self._run(envelope, conn, step.action, saga_id, index, ACTION)

    def on_other_event(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        """Another service's reply: a failure of a step makes this service undo its own."""
        payload = envelope.payload
        if payload.get("phase") != ACTION or payload.get("ok") or "saga_id" not in payload:
            return ()
        saga_id = str(payload["saga_id"])
        definition = self.definitions.get(saga_id.split("-", 1)[0])
        mine = self._my_step(definition) if definition else None
        if definition is None or mine is None:
            return ()
        index, step = mine
        did = self._did(conn, saga_id, index)
        if did is None:
            conn.execute("INSERT OR IGNORE INTO cancelled_sagas (saga_id) VALUES (?)", (saga_id,))
            return [self._settled(envelope, saga_id, index)]
        if not did or step.compensation is None:
            return ()
        return self._run(envelope, conn, step.compensation, saga_id, index, COMPENSATION)

    def _my_step(self, definition: SagaDefinition | None) -> tuple[int, Step] | None:
        if definition is None:
            return None
        return next(((i, s) for i, s in enumerate(definition.steps) if s.service == self.service.name), None)

    def _did(self, conn: sqlite3.Connection, saga_id: str, index: int) -> bool | None:
        """Whether this service did its step of the saga (True/False), or has not got to it (None)."""
        row = conn.execute("SELECT reply FROM idempotency WHERE key = ?",
                           (f"{saga_id}/{index}/{ACTION}",)).fetchone()
        return None if row is None else bool(codec.loads(row[0]).get("ok"))

    def _run(self, cause: Envelope, conn: sqlite3.Connection, command: str, saga_id: str, index: int,
             phase: str) -> Sequence[Outgoing]:
        handler = self._commands.get(command)
        if handler is None:
            return ()
        envelope = cause.caused(command, {
            "saga_id": saga_id, "step": index, "phase": phase,
            "user": cause.payload.get("user") or {}, "idempotency_key": f"{saga_id}/{index}/{phase}",
        }, key=cause.key if phase == ACTION else str(cause.payload.get("user_id", cause.key)),
            at=self.service.clock())
        return handler(envelope, conn)

    def _settled(self, cause: Envelope, saga_id: str, index: int) -> Outgoing:
        """Tell the others this service's step is settled without having been done."""
        return Outgoing(self.service.topic, cause.caused(
            f"{self.service.name}.StepSkipped",
            {"saga_id": saga_id, "step": index, "phase": COMPENSATION, "ok": True, "skipped": True,
             "user_id": cause.payload.get("user_id", cause.key)},
            at=self.service.clock()))


# --- identity's side: watching the outcomes ------------------------------------------------------

OUTCOMES_SCHEMA = """
CREATE TABLE IF NOT EXISTS outcomes (
    saga_id TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outcomes_by_user ON outcomes (user_id);
CREATE INDEX IF NOT EXISTS outcomes_by_status ON outcomes (status);
"""

WATCHING, SUCCEEDED, FAILED_EVERYWHERE = "running", "completed", "compensated"


@dataclass
class Verdict:
    """What the outcomes so far decide: nothing yet, success, or a settled failure (with its reason)."""

    done: bool
    ok: bool = False
    reason: str | None = None


class Outcomes:
    """Identity's record of each choreographed saga's step outcomes, and the verdict they reach."""

    def __init__(self, definitions: Sequence[SagaDefinition]) -> None:
        self.definitions = {d.name: d for d in definitions}

    def install(self, conn: sqlite3.Connection) -> None:
        conn.executescript(OUTCOMES_SCHEMA)

    def watch(self, conn: sqlite3.Connection, definition: SagaDefinition, saga_id: str, user_id: str,
              at: str) -> None:
        """Start watching a saga identity's own event has just started (same transaction)."""
        state = {"steps": [{"name": s.service, "state": "pending"} for s in definition.steps], "history": []}
        conn.execute("INSERT OR IGNORE INTO outcomes (saga_id, definition, user_id, status, state, "
                     "started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (saga_id, definition.name, user_id, WATCHING, codec.dumps(state), at, at))

    def record(self, conn: sqlite3.Connection, reply: Envelope, at: str) -> tuple[str, Verdict] | None:
        """Apply a service's reply; returns (saga id, verdict) once the saga's outcome is decided."""
        payload = reply.payload
        saga_id = payload.get("saga_id")
        row = conn.execute("SELECT definition, status, state FROM outcomes WHERE saga_id = ?",
                           (saga_id,)).fetchone()
        index = payload.get("step")
        if row is None or row[1] != WATCHING or not isinstance(index, int):
            return None
        definition, state = self.definitions[row[0]], codec.loads(row[2])
        if not 0 <= index < len(state["steps"]):
            return None
        step = state["steps"][index]
        step.update(_outcome(payload, step))
        state["history"].append({"at": at, "event": f"{step['name']}: {reply.type}"})
        verdict = _verdict(definition, state["steps"])
        status = WATCHING if not verdict.done else (SUCCEEDED if verdict.ok else FAILED_EVERYWHERE)
        conn.execute("UPDATE outcomes SET status = ?, state = ?, updated_at = ? WHERE saga_id = ?",
                     (status, codec.dumps(state), at, saga_id))
        return (str(saga_id), verdict) if verdict.done else None

    def services(self, conn: sqlite3.Connection, saga_id: str) -> list[dict[str, Any]]:
        row = conn.execute("SELECT state FROM outcomes WHERE saga_id = ?", (saga_id,)).fetchone()
        return list(codec.loads(row[0])["steps"]) if row else []

    def counts(self, conn: sqlite3.Connection) -> dict[str, int]:
        return dict(conn.execute("SELECT status, count(*) FROM outcomes GROUP BY status").fetchall())


def _outcome(payload: Mapping[str, Any], step: Mapping[str, Any]) -> dict[str, Any]:
    ok = bool(payload.get("ok"))
    if payload.get("phase") == COMPENSATION:
        return {"state": "compensated"} if ok else {}
    if ok:
        return {"state": "done", **({"reference": payload["reference"]} if payload.get("reference") else {})}
    return {"state": "failed", "error": payload.get("error")}


def _verdict(definition: SagaDefinition, steps: Sequence[Mapping[str, Any]]) -> Verdict:
    states = [s["state"] for s in steps]
    if all(state == "done" for state in states):
        return Verdict(True, ok=True)
    failed = [s for s in steps if s["state"] == "failed"]
    if not failed:
        return Verdict(False)
    undoable = {s.service for s in definition.steps if s.compensation}
    settled = all(s["state"] in ("failed", "compensated")
                  or (s["state"] == "done" and s["name"] not in undoable) for s in steps)
    reason = f"{failed[0]['name']}: {failed[0].get('error')}"
    return Verdict(settled, ok=False, reason=reason)
