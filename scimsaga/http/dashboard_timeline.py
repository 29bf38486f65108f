"""Saga timelines for the dashboard: a waterfall from the IdP's request to the saga's last step.

The front door remembers when it received and answered each recent write (:class:`RecentWrites`, a
Falcon middleware); the saga's correlation id is that request's id, so the two can be put on one time
axis. Both clocks are wall clocks of the machines involved (one machine, unless Ray spans several).
The saga's history is read as it is written (``{"at": ..., "event": "profile: profile.ProfileCreated"}``):
nothing here depends on how the coordinator stores its state beyond that.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import falcon

from .middleware import REQUEST_ID_HEADER


@dataclass(frozen=True)
class WriteRecord:
    """One write as the front door saw it: wall-clock seconds of arrival and of the response."""

    request_id: str
    method: str
    path: str
    code: int
    received: float
    answered: float


class RecentWrites:
    """Falcon middleware remembering the last ``capacity`` writes under the SCIM base path, by request id."""

    def __init__(self, base_path: str, capacity: int = 2000, clock: Callable[[], float] = time.time) -> None:
        self._base = base_path
        self._capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()
        self._records: OrderedDict[str, WriteRecord] = OrderedDict()

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.write_received = self._clock()

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         req_succeeded: bool) -> None:
        received = req.context.get("write_received")
        if received is None or req.method in ("GET", "HEAD", "OPTIONS"):
            return
        if not req.path.startswith(self._base):
            return
        request_id = req.context.get("request_id") or resp.get_header(REQUEST_ID_HEADER)
        if not request_id:
            return
        record = WriteRecord(request_id, req.method, req.path, int(resp.status_code or 500), received,
                             self._clock())
        with self._lock:
            self._records[request_id] = record
            self._records.move_to_end(request_id)
            while len(self._records) > self._capacity:
                self._records.popitem(last=False)

    def get(self, request_id: str) -> WriteRecord | None:
        with self._lock:
            return self._records.get(request_id)


def epoch_ms(text: Any) -> float | None:
    """An RFC 3339 timestamp (``2026-11-29T23:00:01.373Z``) as milliseconds since the epoch."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp() * 1000


STEP, FAILED, COMPENSATION, RETRY, FINISH = "step", "failed", "compensation", "retry", "finish"
WAITING = "waiting"
OPEN_STATUSES = ("queued", "running", "compensating", "finishing")
BUSY_STEPS = ("running", "compensating")
FAILURE_WORDS = ("rejected", "failed", "refused", "gave up", "error")


def classify(event: str, services: Iterable[str]) -> tuple[str | None, str]:
    """The service an entry of the history is about (or None) and the kind of segment it closes."""
    service, sep, _ = event.partition(": ")
    who = service if sep and service in services else None
    lower = event.lower()
    if event.startswith("identity."):
        return None, FAILED if "failed" in lower else FINISH
    if "compensat" in lower:
        return who, COMPENSATION if "refused" not in lower and "gave up" not in lower else FAILED
    if who is not None:
        if "no reply" in lower or "asking again" in lower:
            return who, RETRY
        return who, FAILED if any(word in lower for word in FAILURE_WORDS) else STEP
    return None, "note"


def waterfall(saga: Mapping[str, Any], request: WriteRecord | None,
              now_ms: float | None = None) -> dict[str, Any]:
    """One saga as segments on a time axis in milliseconds, 0 being the request's arrival if known.

    A step's segment runs from when its command went out (the step's own start when the coordinator
    reports one, as for parallel steps; else the previous entry of the history) to the entry that
    closed it. A saga still open ends in a segment that grows until ``now_ms``: what it waits for.
    Marks are instants: the 201 leaving the front door, the saga starting.
    """
    history = [h for h in saga.get("history") or [] if isinstance(h, Mapping)]
    moments = [(epoch_ms(h.get("at")), str(h.get("event", ""))) for h in history]
    entries = [(t, event) for t, event in moments if t is not None]
    steps = [s for s in saga.get("steps") or saga.get("services") or [] if isinstance(s, Mapping)]
    names = [str(s.get("name")) for s in steps if s.get("name")]
    started = {str(s["name"]): float(s["started"]) * 1000 for s in steps
               if s.get("name") and isinstance(s.get("started"), (int, float))}
    first = entries[0][0] if entries else epoch_ms(saga.get("started_at")) or 0.0
    origin = request.received * 1000 if request is not None else first
    segments: list[dict[str, Any]] = []
    marks: list[dict[str, Any]] = []
    if request is not None:
        answered = request.answered * 1000
        segments.append(_segment(f"{request.method} → {request.code}", "the front door and identity",
                                 "request", 0, answered - origin))
        marks.append({"label": str(request.code), "at_ms": round(answered - origin, 1)})
        if first > answered:
            segments.append(_segment("outbox → bus", "identity's outbox relay and the bus", "bus",
                                     answered - origin, first - origin))
    if entries:
        marks.append({"label": "saga", "at_ms": round(first - origin, 1)})
    previous = first
    for at, event in entries[1:]:
        service, kind = classify(event, names)
        if kind == "note":
            previous = at
            continue
        begin = previous
        own = started.get(service or "")
        if own is not None and first <= own <= at:
            begin = min(own, at)
        label = service or event.split(";")[0].removeprefix("identity.")
        segments.append(_segment(label, event, kind, begin - origin, at - origin))
        previous = at
    if now_ms is not None and saga.get("status") in OPEN_STATUSES and now_ms > previous:
        busy = [str(s.get("name")) for s in steps if s.get("state") in BUSY_STEPS]
        label = f"waiting for {', '.join(busy)}" if busy else "waiting"
        segments.append(_segment(label, f"{label}: the saga is {saga.get('status')}", WAITING,
                                 previous - origin, now_ms - origin))
    end = max([0.0, *(s["end_ms"] for s in segments), *(m["at_ms"] for m in marks)])
    user = saga.get("user") if isinstance(saga.get("user"), Mapping) else {}
    return {
        "id": saga.get("id"),
        "definition": saga.get("definition"),
        "status": saga.get("status"),
        "user_id": saga.get("user_id"),
        "user": (user or {}).get("userName") or saga.get("user_id"),
        "reason": saga.get("reason"),
        "origin_ms": round(origin, 1),
        "duration_ms": round(end, 1),
        "from_request": request is not None,
        "segments": segments,
        "marks": marks,
    }


def _segment(label: str, detail: str, kind: str, start: float, end: float) -> dict[str, Any]:
    start = max(0.0, start)
    return {"label": label, "detail": detail, "kind": kind, "start_ms": round(start, 1),
            "end_ms": round(max(start, end), 1)}
