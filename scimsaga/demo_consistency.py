"""Scenario ``consistency``: reads from identity at once against the profile read model eventually.

Round one measures the window on a quiet system from the coordinator's history: when the profile
service reported the profile written, against when the 201 reached the IdP. Round two stops the
profile service for a moment, so the window can be watched from outside: identity answers 200 at
once while the profile service's own count of profiles does not move; then it catches up.
"""

from __future__ import annotations

import time
from typing import Any

from .demo_client import new_user
from .demo_narration import Verdict, fmt_ms, percentile
from .demo_stage import Stage, begin, has_coordinator, history, sagas_by_user, service_in, step_names

NAME = "consistency"
LESSON = ("Identity is the system of record: read your write at once. The profile service keeps a read "
          "model: it has the user eventually. Measure the window between the two.")
READ_MODEL = "profile"
DEFAULT_USERS = 10
BEHIND_USERS = 3
HOLD_SECONDS = 3.0
TIMEOUT = 30.0


def run(stage: Stage) -> Verdict:
    if (not_run := begin(stage, NAME, LESSON)) is not None:
        return not_run
    reads = Reads()
    windows = _round_one(stage, reads)
    before = stage.deployment.operations.chaos(READ_MODEL)  # no change: the faults to put back
    try:
        behind, caught_up, lag_windows = _round_two(stage, reads)
    finally:
        stage.deployment.operations.chaos(READ_MODEL, down=bool(before.get("down")))

    checks = [
        ("identity answers every read right after the write", reads.ok == reads.total > 0),
        ("the profile read model does not have the users while the profile service is behind", behind),
        (f"the profile read model catches up within {TIMEOUT:.0f}s", caught_up),
    ]
    held = all(ok for _, ok in checks)
    quick = f"{fmt_ms(percentile(windows, 0.5))} later (p50, max {fmt_ms(max(windows))})" if windows \
        else "later"
    line = (f"identity answered {reads.ok}/{reads.total} reads at once; the profile read model followed "
            f"{quick}, and {fmt_ms(max(lag_windows, default=0.0))} later when it had been stopped: "
            "consistent, eventually."
            if held else "; ".join(claim for claim, ok in checks if not ok) + " — did not happen")
    return Verdict(NAME, held, line, checks)


class Reads:
    """Reads from identity right after a write: how many, and how many saw the write."""

    def __init__(self) -> None:
        self.ok = 0
        self.total = 0

    def check(self, stage: Stage, created: Any) -> None:
        read = stage.deployment.scim.get_user(created["id"])
        self.total += 1
        if read.status == 200 and read.body.get("userName") == created["userName"]:
            self.ok += 1


def _round_one(stage: Stage, reads: Reads) -> list[float]:
    n, d = stage.narrator, stage.deployment
    count = stage.count(DEFAULT_USERS)
    n.step(f"Round one: {count} users; each POST is followed at once by a GET from identity")
    created: dict[str, float] = {}
    with n.counted(f"POST then GET x {count}", count) as progress:
        for i in range(count):
            answer = d.scim.create_user(new_user(stage.user_name("eve", i)), f"demo-cons-{stage.tag}-{i}")
            if answer.status == 201:
                reads.check(stage, answer.body)
                created[answer.body["id"]] = answer.received * 1000
            progress(i + 1)
    n.good(f"identity answered {reads.ok} of {reads.total} reads at once, with what was just written")

    def measure() -> dict[str, float]:
        sagas = sagas_by_user(stage)
        return {user_id: w for user_id, answered in created.items()
                if (w := _profile_window(sagas.get(user_id), answered)) is not None}

    if not has_coordinator(stage):
        n.note("no coordinator history to time the read model by (choreography has no coordinator); "
               "round two measures from outside")
        return []
    watched = n.watch(lambda w: f"reading the coordinator's record ({len(w)} of {len(created)})", measure,
                      lambda w: len(w) == len(created), timeout=TIMEOUT, interval=0.1,
                      progress=lambda w: (len(w), max(len(created), 1)))
    windows = list(watched.value.values())
    if windows:
        n.good(f"the profile read model had each user {fmt_ms(percentile(windows, 0.5))} after the 201 "
               f"reached the IdP (p50; min {fmt_ms(min(windows))}, max {fmt_ms(max(windows))})")
        n.info("measured from the coordinator's record of the profile service's reply")
    else:
        n.note("no coordinator history to time the read model by (choreography has no coordinator)")
    return windows


def _round_two(stage: Stage, reads: Reads) -> tuple[bool, bool, list[float]]:
    n, d = stage.narrator, stage.deployment
    n.step(f"Round two: stop the {READ_MODEL} service (a read model that fell behind), create "
           f"{BEHIND_USERS} users")
    profiles = _profiles(stage)
    d.operations.chaos(READ_MODEL, down=True)
    answered: dict[str, float] = {}
    for i in range(BEHIND_USERS):
        answer = d.scim.create_user(new_user(stage.user_name("eve-behind", i)), f"demo-cons2-{stage.tag}-{i}")
        if answer.status == 201:
            reads.check(stage, answer.body)
            answered[answer.body["id"]] = answer.received
            n.at(answer.ms, f"user {i + 1}: [bold green]201[/], and identity answers its GET at once")

    n.step(f"For {HOLD_SECONDS:.0f} seconds, ask both: identity, and the {READ_MODEL} read model")
    disagreements = {"asked": 0, "behind": 0}

    def ask() -> float:
        identity_has = sum(d.scim.get_user(user_id).status == 200 for user_id in answered)
        model_has = _profiles(stage) - profiles
        disagreements["asked"] += 1
        disagreements["behind"] += identity_has == len(answered) and model_has == 0
        return time.monotonic() - started

    started = time.monotonic()
    n.watch(lambda _: f"identity: {len(answered)} of {len(answered)} · {READ_MODEL} read model: 0",
            ask, lambda elapsed: elapsed >= HOLD_SECONDS, timeout=HOLD_SECONDS + 10, interval=0.1,
            progress=lambda elapsed: (min(elapsed, HOLD_SECONDS), HOLD_SECONDS))
    behind = len(answered) == BEHIND_USERS and disagreements["behind"] == disagreements["asked"] > 0
    if behind:
        n.good(f"{disagreements['asked']} times in a row, identity had all {len(answered)} users and the "
               f"{READ_MODEL} read model none: they disagree, and that is allowed")
    else:
        n.bad(f"identity and the read model agreed {disagreements['asked'] - disagreements['behind']} times")

    n.step(f"Start the {READ_MODEL} service again and time how long its read model takes to catch up")
    d.operations.chaos(READ_MODEL, down=False)
    back = time.time()
    target = profiles + len(answered)
    watched = n.watch(lambda k: f"{READ_MODEL} read model: {k - profiles} of {len(answered)}",
                      lambda: _profiles(stage), lambda k: k >= target, timeout=TIMEOUT, interval=0.02,
                      progress=lambda k: (k - profiles, max(len(answered), 1)))
    done = time.time()
    windows = [(done - at) * 1000 for at in answered.values()]
    if watched.met:
        n.good(f"the {READ_MODEL} read model has all {len(answered)} users "
               f"{fmt_ms((done - back) * 1000)} after the service came back; the window was "
               f"{fmt_ms(max(windows))} for the first user")
    return behind, watched.met, windows


def _profiles(stage: Stage) -> int:
    """How many profiles the profile service holds (its own database, as its status reports it)."""
    return int(stage.deployment.operations.service(READ_MODEL).get("profiles") or 0)


def _profile_window(saga: dict[str, Any] | None, answered_ms: float) -> float | None:
    if saga is None:
        return None
    names = step_names(saga)
    for at, event in history(saga):
        if service_in(event, names) == READ_MODEL and "(compensated)" not in event:
            return max(0.0, at - answered_ms)
    return None
