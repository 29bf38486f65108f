"""The saga state machine, pure: definitions as data, and the transitions of one saga.

A definition is a sequence of stages; a stage is one step, or several steps run in parallel. Each step
is a command to a service, the command that undoes it (its compensation), and a retry policy. The
machine sends the commands of a stage, waits for every reply, and moves on; when a step fails for good
(a business rejection, which is never retried, or no reply within the step's patience) the steps that
completed are compensated in reverse order. Timeouts re-send a command under the same idempotency key,
so the service does the work once and repeats its reply.

Nothing here does I/O: every function takes the saga and the current moment and returns the commands
to send. ``saga.py`` keeps sagas in SQLite and feeds them replies and timer ticks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# saga status
QUEUED, RUNNING, COMPENSATING, FINISHING = "queued", "running", "compensating", "finishing"
COMPLETED, COMPENSATED, FAILED = "completed", "compensated", "failed"
OPEN = (RUNNING, COMPENSATING, FINISHING)
FINAL = (COMPLETED, COMPENSATED, FAILED)

# step state
PENDING, ACTIVE, DONE, REJECTED = "pending", "running", "done", "failed"
UNDOING, UNDONE = "compensating", "compensated"

ACTION, COMPENSATION, FINISH = "action", "compensation", "finish"


@dataclass(frozen=True)
class Retry:
    """How long to wait for a reply, how often to ask again, and when to give up."""

    timeout: float = 5.0
    factor: float = 2.0
    max_timeout: float = 30.0
    give_up_after: float = 600.0

    def wait(self, attempt: int) -> float:
        """Seconds to wait for a reply to ``attempt`` (1-based) before asking again."""
        return float(min(self.max_timeout, self.timeout * self.factor ** (attempt - 1)))


@dataclass(frozen=True)
class Step:
    """A command to a service, and the command that undoes it."""

    service: str
    action: str
    compensation: str | None = None
    retry: Retry = field(default_factory=Retry)

    @property
    def topic(self) -> str:
        return f"{self.service}.commands"


@dataclass(frozen=True)
class Parallel:
    """Steps sent together; the stage is done when every one of them is."""

    steps: tuple[Step, ...]

    def __init__(self, *steps: Step) -> None:
        object.__setattr__(self, "steps", tuple(steps))


Stage = Step | Parallel


@dataclass(frozen=True)
class SagaDefinition:
    """A saga as data: its stages in order, and what identity is told at the end.

    ``on_success``/``on_failure`` name the identity command sent when all steps succeeded, or when the
    completed ones have been compensated; None means there is nothing to tell identity.
    """

    name: str
    stages: tuple[Stage, ...]
    on_success: str | None = None
    on_failure: str | None = None
    report_progress: bool = False
    finish_retry: Retry = field(default_factory=Retry)

    @property
    def steps(self) -> list[Step]:
        """Every step, in order (the stages flattened)."""
        return [step for stage in self.stages for step in _steps_of(stage)]

    def stage_indices(self, stage: int) -> range:
        """The step indices of one stage."""
        first = sum(len(_steps_of(s)) for s in self.stages[:stage])
        return range(first, first + len(_steps_of(self.stages[stage])))


def _steps_of(stage: Stage) -> tuple[Step, ...]:
    return stage.steps if isinstance(stage, Parallel) else (stage,)


@dataclass(frozen=True)
class Moment:
    """Now, as seconds since the epoch (for deadlines) and as text (for the history)."""

    epoch: float
    text: str


@dataclass(frozen=True)
class Send:
    """A command the coordinator sends."""

    topic: str
    type: str
    payload: dict[str, Any]


@dataclass
class StepState:
    """One step's progress within a saga."""

    name: str
    state: str = PENDING
    attempts: int = 0
    started: float | None = None
    due: float | None = None
    refusals: int = 0
    reference: str | None = None
    error: str | None = None


@dataclass
class Saga:
    """One saga's durable state (stored as JSON)."""

    id: str
    definition: str
    user_id: str
    user: dict[str, Any]
    correlation_id: str
    status: str = QUEUED
    stage: int = 0
    reason: str | None = None
    steps: list[StepState] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    finish_attempts: int = 0
    finish_started: float | None = None
    finish_due: float | None = None
    final_command: str | None = None

    def note(self, now: Moment, what: str) -> None:
        self.history.append({"at": now.text, "event": what})

    @property
    def wake_at(self) -> float | None:
        """The earliest moment the saga must be looked at again without a reply."""
        dues = [s.due for s in self.steps if s.state in (ACTIVE, UNDOING) and s.due is not None]
        if self.status == FINISHING and self.finish_due is not None:
            dues.append(self.finish_due)
        return min(dues) if dues and self.status in OPEN else None

    def services(self) -> list[dict[str, Any]]:
        """The steps as identity shows them in the provisioning extension."""
        out = []
        for step in self.steps:
            entry: dict[str, Any] = {"name": step.name, "state": _shown(step.state)}
            if step.reference is not None:
                entry["reference"] = step.reference
            if step.error is not None:
                entry["error"] = step.error
            out.append(entry)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The state as plain data, for JSON. Shallow on purpose: ``asdict`` would deep-copy the user
        snapshot and the history on every save, which measured as a third of the coordinator's CPU."""
        return {**vars(self), "steps": [dict(vars(step)) for step in self.steps]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Saga:
        steps = [StepState(**s) for s in data.get("steps", [])]
        return cls(**{**data, "steps": steps})


def _shown(state: str) -> str:
    return {ACTIVE: "pending", UNDOING: "done"}.get(state, state)


def new_saga(definition: SagaDefinition, saga_id: str, user_id: str, user: dict[str, Any],
             correlation_id: str, now: Moment, cause: str) -> Saga:
    """A queued saga; :func:`start` sets it going."""
    saga = Saga(saga_id, definition.name, user_id, user, correlation_id,
                steps=[StepState(step.service) for step in definition.steps])
    saga.note(now, f"{definition.name} saga for {cause}")
    return saga


def start(definition: SagaDefinition, saga: Saga, now: Moment) -> list[Send]:
    """Send the first stage's commands."""
    saga.status = RUNNING
    saga.stage = 0
    saga.note(now, "started")
    return _continue(definition, saga, now)


def on_reply(definition: SagaDefinition, saga: Saga, reply_type: str, payload: dict[str, Any],
             now: Moment) -> list[Send]:
    """A service answered a command: apply it if the saga waits for it, ignore it otherwise."""
    index, phase = payload.get("step"), payload.get("phase")
    if not isinstance(index, int) or not 0 <= index < len(saga.steps) or saga.status not in OPEN:
        return []
    step, state = definition.steps[index], saga.steps[index]
    ok = bool(payload.get("ok"))
    if phase == ACTION and state.state == ACTIVE:
        if ok:
            state.state, state.reference, state.error, state.due = DONE, payload.get("reference"), None, None
            saga.note(now, f"{step.service}: {reply_type}" + _ref(payload))
        else:
            _reject(saga, index, f"{payload.get('error')}", now, f"{step.service}: {reply_type}")
        return _progress_and_continue(definition, saga, now)
    if phase == COMPENSATION and state.state == UNDOING:
        if ok:
            state.state, state.due = UNDONE, None
            saga.note(now, f"{step.service}: {reply_type} (compensated)")
            return _progress_and_continue(definition, saga, now)
        state.refusals += 1
        state.due = now.epoch + step.retry.wait(state.refusals)
        saga.note(now, f"{step.service}: compensation refused ({payload.get('error')}), "
                       f"retrying in {state.due - now.epoch:.1f}s")
        return []
    return []


def on_identity(saga: Saga, event_type: str, now: Moment) -> None:
    """Identity confirmed the final command: the saga is over."""
    if saga.status != FINISHING:
        return
    saga.status = COMPLETED if saga.reason is None else COMPENSATED
    saga.finish_due = None
    saga.note(now, f"{event_type}; {saga.status}")


def on_timer(definition: SagaDefinition, saga: Saga, now: Moment) -> list[Send]:
    """Deadlines passed: ask again, or give a step up as failed for good."""
    sends: list[Send] = []
    for index, state in enumerate(saga.steps):
        if state.due is None or state.due > now.epoch or state.state not in (ACTIVE, UNDOING):
            continue
        step = definition.steps[index]
        waited = now.epoch - (state.started if state.started is not None else now.epoch)
        if state.state == ACTIVE and waited >= step.retry.give_up_after:
            _reject(saga, index, f"no reply from {step.service} within {step.retry.give_up_after:.0f}s",
                    now, f"{step.service}: gave up")
            sends += _progress_and_continue(definition, saga, now)
        elif state.state == UNDOING and waited >= step.retry.give_up_after:
            saga.status = FAILED
            saga.reason = f"{saga.reason}; compensating {step.service} did not succeed"
            saga.note(now, f"{step.service}: compensation gave up after {waited:.0f}s; saga failed")
            return _tell_identity_failed(definition, saga)
        else:
            sends.append(_ask_again(definition, saga, index, now))
    if saga.status == FINISHING and saga.finish_due is not None and saga.finish_due <= now.epoch:
        sends.append(_finish_command(definition, saga, now, again=True))
    return sends


def cancel(definition: SagaDefinition, saga: Saga, reason: str, now: Moment) -> list[Send]:
    """Stop a saga because of what happened to the user: undo what it did, in reverse order."""
    if saga.status == QUEUED:
        saga.status, saga.reason = COMPENSATED, reason
        saga.note(now, f"dropped before it started: {reason}")
        return []
    if saga.status not in (RUNNING, COMPENSATING):
        return []
    saga.reason = saga.reason or reason
    saga.status = COMPENSATING
    saga.note(now, f"cancelled: {reason}")
    return _continue(definition, saga, now)


# --- internals --------------------------------------------------------------------------------------


def _reject(saga: Saga, index: int, error: str, now: Moment, what: str) -> None:
    state = saga.steps[index]
    state.state, state.error, state.due = REJECTED, error, None
    saga.reason = saga.reason or f"{state.name}: {error}"
    saga.status = COMPENSATING
    saga.note(now, f"{what}: {error}")


def _continue(definition: SagaDefinition, saga: Saga, now: Moment) -> list[Send]:
    if saga.status == RUNNING:
        indices = definition.stage_indices(saga.stage)
        if any(saga.steps[i].state == PENDING for i in indices):
            return [_send_action(definition, saga, i, now) for i in indices if saga.steps[i].state == PENDING]
        if all(saga.steps[i].state == DONE for i in indices):
            saga.stage += 1
            if saga.stage < len(definition.stages):
                return _continue(definition, saga, now)
            return _finish(definition, saga, definition.on_success, now)
        return []
    if saga.status == COMPENSATING:
        if any(s.state in (ACTIVE, UNDOING) for s in saga.steps):
            return []  # wait for replies still out: a step in flight may yet succeed and need undoing
        done = [i for i, s in enumerate(saga.steps) if s.state == DONE]
        for index in reversed(done):
            if definition.steps[index].compensation is not None:
                return [_send_compensation(definition, saga, index, now)]
            saga.steps[index].state = UNDONE
        return _finish(definition, saga, definition.on_failure, now)
    return []


def _send_action(definition: SagaDefinition, saga: Saga, index: int, now: Moment) -> Send:
    state, step = saga.steps[index], definition.steps[index]
    state.state, state.attempts, state.started = ACTIVE, 1, now.epoch
    state.due = now.epoch + step.retry.wait(1)
    return _command(saga, index, step.topic, step.action, ACTION, state.attempts)


def _send_compensation(definition: SagaDefinition, saga: Saga, index: int, now: Moment) -> Send:
    state, step = saga.steps[index], definition.steps[index]
    state.state, state.attempts, state.started, state.refusals = UNDOING, 1, now.epoch, 0
    state.due = now.epoch + step.retry.wait(1)
    return _command(saga, index, step.topic, step.compensation or "", COMPENSATION, state.attempts)


def _ask_again(definition: SagaDefinition, saga: Saga, index: int, now: Moment) -> Send:
    state, step = saga.steps[index], definition.steps[index]
    state.attempts += 1
    state.due = now.epoch + step.retry.wait(state.attempts)
    phase = ACTION if state.state == ACTIVE else COMPENSATION
    command = step.action if phase == ACTION else step.compensation or ""
    saga.note(now, f"{step.service}: no reply yet, asking again (attempt {state.attempts})")
    return _command(saga, index, step.topic, command, phase, state.attempts)


def _command(saga: Saga, index: int, topic: str, command: str, phase: str, attempt: int) -> Send:
    key = f"{saga.id}/{index}/{phase}"
    refusals = saga.steps[index].refusals
    if phase == COMPENSATION and refusals:
        key += f"/retry-{refusals}"  # a refused compensation must be tried again, not answered from memory
    return Send(topic, command, {
        "saga_id": saga.id, "step": index, "phase": phase, "user": saga.user,
        "idempotency_key": key, "attempt": attempt,
    })


def _finish(definition: SagaDefinition, saga: Saga, command: str | None, now: Moment) -> list[Send]:
    final = COMPLETED
    if saga.reason is not None:  # a failure: undone where there was something to undo
        final = COMPENSATED if any(s.compensation for s in definition.steps) else FAILED
    if command is None:
        saga.status = final
        saga.note(now, final)
        return []
    saga.status = FINISHING
    saga.final_command = command
    saga.finish_started = now.epoch
    return [_finish_command(definition, saga, now, again=False)]


def _finish_command(definition: SagaDefinition, saga: Saga, now: Moment, again: bool) -> Send:
    saga.finish_attempts += 1
    saga.finish_due = now.epoch + definition.finish_retry.wait(saga.finish_attempts)
    if again:
        saga.note(now, f"no answer from identity yet, asking again (attempt {saga.finish_attempts})")
    command = saga.final_command or ""
    return Send("identity.commands", command, {
        "saga_id": saga.id, "services": saga.services(), "reason": saga.reason,
        "idempotency_key": f"{saga.id}/{command}",
    })


def _tell_identity_failed(definition: SagaDefinition, saga: Saga) -> list[Send]:
    if not definition.report_progress:
        return []
    return [Send("identity.commands", "identity.RecordProvisioning",
                 {"saga_id": saga.id, "services": saga.services(), "state": "failed"})]


def _progress_and_continue(definition: SagaDefinition, saga: Saga, now: Moment) -> list[Send]:
    """Show identity the step just settled, then take the saga on; when that ends it, the final command
    to identity carries every step's state already, and a progress report before it would be one more
    message and one more write for the same news."""
    progress = _progress(definition, saga)
    following = _continue(definition, saga, now)
    if saga.status == FINISHING and any(send.type == saga.final_command for send in following):
        return following
    return progress + following


def _progress(definition: SagaDefinition, saga: Saga) -> list[Send]:
    if not definition.report_progress:
        return []
    return [Send("identity.commands", "identity.RecordProvisioning",
                 {"saga_id": saga.id, "services": saga.services()})]


def _ref(payload: dict[str, Any]) -> str:
    return f" ({payload['reference']})" if payload.get("reference") else ""


def sends_of_type(sends: Sequence[Send], command: str) -> list[Send]:
    """The sends that carry one command type (handy for callers and tests)."""
    return [s for s in sends if s.type == command]
