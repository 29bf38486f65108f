"""The load of ``scimsaga bench``: ``POST /Users`` (RFC 7644 §3.3) over real HTTP, closed or open loop.

- Closed loop (``concurrency``): that many workers, each on its own kept-alive connection, send the
  next user as soon as their previous answer arrived.
- Open loop (``rate``): user *i* is due at ``start + i / rate`` whether or not earlier answers came
  back; up to ``concurrency`` requests are in flight, and a due request waits for a free worker. Its
  latency counts from when it was due (``intended``), so a server that falls behind shows it in the
  figures instead of silently slowing the client down (coordinated omission).

Both stop at the deadline even with users left to send. Each worker uses the demo's stdlib client
(``demo_client.ScimClient``), so the client costs the same in the bench and in the demo.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from .demo_client import Answer, DeploymentError, ScimClient, new_user

USER_PREFIX = "bench"
PAD_ADDRESS = {"type": "work", "streetAddress": "", "locality": "Springfield", "region": "IL",
               "postalCode": "62701", "country": "US"}


@dataclass(frozen=True)
class Outcome:
    """One request: when it was due, sent and answered (epoch seconds), what came back, and whether
    that was what the load expected (``ok``)."""

    index: int
    intended: float
    sent: float
    received: float
    status: int
    ok: bool
    user_id: str | None = None
    created: str | None = None
    error: str | None = None

    @property
    def ack_ms(self) -> float:
        """The HTTP acknowledgement as the client saw it: request sent to answer read."""
        return (self.received - self.sent) * 1000

    @property
    def from_intended_ms(self) -> float:
        """From when the request was due (open loop) to its answer."""
        return (self.received - self.intended) * 1000


@dataclass
class Load:
    """What one load phase did."""

    outcomes: list[Outcome]
    started: float
    finished: float
    open_loop: bool


def user_name(tag: str, index: int) -> str:
    return f"{USER_PREFIX}-{tag}-{index:06d}@example.com"


def user_body(tag: str, index: int, payload_bytes: int = 0) -> dict[str, Any]:
    """A SCIM user (RFC 7643 §4.1) whose JSON is about ``payload_bytes`` long (never shorter than the
    plain user): work addresses fill it, as an IdP sending rich profiles would."""
    user = new_user(user_name(tag, index), display_name=f"Bench User {index}")
    size = len(json.dumps(user))
    if payload_bytes <= size:
        return user
    addresses: list[dict[str, Any]] = []
    user["addresses"] = addresses
    room = payload_bytes - len(json.dumps(user))
    base = len(json.dumps(PAD_ADDRESS)) + 2
    while room > base:
        street = "x" * min(200, room - base)
        addresses.append({**PAD_ADDRESS, "streetAddress": f"{street}"})
        room -= base + len(street)
    return user


class Progress:
    """Counts answers, for a progress bar the caller draws; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.done = 0
        self.failed = 0

    def add(self, ok: bool) -> None:
        with self._lock:
            self.done += 1
            self.failed += 0 if ok else 1


Send = Callable[[ScimClient, int, "float | None"], Outcome]
"""Sends request ``index`` on a client (due at ``intended``, or now when None) and tells what came of it."""


def post_user(bodies: Sequence[dict[str, Any]], tag: str) -> Send:
    """``POST /Users`` of ``bodies[index]``; the request id (the saga's correlation id) names the run."""

    def send(client: ScimClient, index: int, intended: float | None) -> Outcome:
        try:
            answer = client.create_user(bodies[index], f"{tag}-{index}")
        except DeploymentError as exc:
            return _failed(index, intended, exc)
        if answer.status == 201 and isinstance(answer.body, dict):
            meta = answer.body.get("meta") or {}
            return _answered(index, intended, answer, True, answer.body.get("id"), meta.get("created"))
        return _answered(index, intended, answer, False)

    return send


def find_user(names: Sequence[str]) -> Send:
    """``GET /Users?filter=userName eq "..."`` (RFC 7644 §3.4.2.2) of ``names[index]``; it must find one."""

    def send(client: ScimClient, index: int, intended: float | None) -> Outcome:
        try:
            answer = client.list_users(f'userName eq "{names[index]}"')
        except DeploymentError as exc:
            return _failed(index, intended, exc)
        found = isinstance(answer.body, dict) and answer.body.get("totalResults") == 1
        return _answered(index, intended, answer, answer.status == 200 and found)

    return send


def _answered(index: int, intended: float | None, answer: Answer, ok: bool, user_id: str | None = None,
              created: str | None = None) -> Outcome:
    return Outcome(index, answer.sent if intended is None else intended, answer.sent, answer.received,
                   answer.status, ok, user_id, created, None if ok else str(answer.body)[:300])


def _failed(index: int, intended: float | None, exc: Exception) -> Outcome:
    now = time.time()
    return Outcome(index, now if intended is None else intended, now, now, 0, False, error=str(exc))


def closed_loop(clients: Sequence[ScimClient], count: int, send: Send, deadline: float,
                progress: Progress) -> Load:
    """Each client a worker; request *i* goes to whichever worker is free; stop at ``deadline``."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    indexes = iter(range(count))

    def work(client: ScimClient) -> None:
        while time.time() < deadline:
            with lock:
                index = next(indexes, None)
            if index is None:
                return
            outcome = send(client, index, None)
            with lock:
                outcomes.append(outcome)
            progress.add(outcome.ok)

    started = time.time()
    _run_workers([partial(work, client) for client in clients])
    return Load(sorted(outcomes, key=lambda o: o.index), started, time.time(), open_loop=False)


def open_loop(clients: Sequence[ScimClient], count: int, send: Send, rate: float, deadline: float,
              progress: Progress) -> Load:
    """Request *i* due at ``start + i / rate``; as many in flight as there are clients."""
    due: queue.Queue[tuple[int, float] | None] = queue.Queue()
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def work(client: ScimClient) -> None:
        while (item := due.get()) is not None:
            outcome = send(client, *item)
            with lock:
                outcomes.append(outcome)
            progress.add(outcome.ok)

    workers = [threading.Thread(target=work, args=(client,), daemon=True) for client in clients]
    for worker in workers:
        worker.start()
    started = time.time()
    for index in range(count):
        intended = started + index / rate
        if intended >= deadline:
            break
        wait = intended - time.time()
        if wait > 0:
            time.sleep(wait)
        due.put((index, intended))
    for _ in workers:
        due.put(None)
    for worker in workers:
        worker.join()
    return Load(sorted(outcomes, key=lambda o: o.index), started, time.time(), open_loop=True)


def _run_workers(jobs: Sequence[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=job, daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
