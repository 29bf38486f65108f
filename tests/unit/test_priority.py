"""Lowering an actor's priority reaches every thread of its process, and only ever lowers it.

Each case runs in a child process: niceness and scheduling policy cannot be raised back without
privilege, and the test process must keep its own."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from scimsaga.priority import niceness, policy, run_at_niceness

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_getscheduler"), reason="Linux scheduling policies")

CHILD = textwrap.dedent("""
    import json, os, sys, threading
    from scimsaga.priority import describe_process, run_at_niceness

    def thread_state(tid):
        return [os.getpriority(os.PRIO_PROCESS, tid), os.sched_getscheduler(tid)]

    release = threading.Event()
    started_before = threading.Thread(target=release.wait)
    started_before.start()
    for niceness, policy in json.loads(sys.argv[1]):
        run_at_niceness(niceness, policy)
    tids = {}
    running = threading.Event()
    def started_after():
        tids["after"] = threading.get_native_id()
        running.set()
        release.wait()
    after = threading.Thread(target=started_after)
    after.start()
    running.wait()
    print(json.dumps({"process": describe_process(),
                      "before": thread_state(started_before.native_id),
                      "after": thread_state(tids["after"]),
                      "main": thread_state(threading.get_native_id())}))
    release.set()
""")


def in_child(*steps: tuple[int | None, str | None]) -> dict:
    """What a child process's threads run at after ``run_at_niceness`` was called with each step."""
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(steps)],
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def test_background_priority_reaches_threads_started_before_and_after():
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    seen = in_child((19, "idle"))

    assert seen["process"]["policy"] == "idle"
    assert seen["process"]["niceness"] == 19
    for thread in ("main", "before", "after"):
        assert seen[thread] == [19, os.SCHED_IDLE], (thread, ours)


def test_batch_policy_for_the_coordinator():
    seen = in_child((10, "batch"))

    assert seen["process"]["policy"] == "batch"
    assert seen["before"][1] == seen["after"][1] == os.SCHED_BATCH


def test_never_raises_priority_and_none_leaves_it_alone():
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    untouched = in_child((None, None))
    assert untouched["process"] == {"pid": untouched["process"]["pid"], "niceness": ours, "policy": "normal"}

    # Asking for a higher priority than the process has, or a more favoured policy, changes nothing.
    assert in_child((19, "idle"), (10, "batch"))["process"] | {"pid": 0} == {
        "pid": 0, "niceness": 19, "policy": "idle"}


def test_a_system_that_refuses_a_change_leaves_the_threads_as_they_were_and_says_so(monkeypatch, caplog):
    def refuse(*args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    before = policy()
    with caplog.at_level(logging.WARNING, logger="scimsaga.priority"):
        assert run_at_niceness(None, "idle") == niceness()  # no exception: the actor still starts

    assert policy() == before
    assert "could not lower the priority" in caplog.text
