"""The request path runs ahead of the fan-out: identity at Ray's worker priority, the rest below it.

The shared test session runs its workers at Ray's default niceness; a cluster ``scimsaga up`` starts
runs them at 0 (tests/e2e/test_command_line.py)."""

from __future__ import annotations

import os

import ray

from tests.polling import wait_until

BACKGROUND = ("broker", "billing", "profile", "access")


def test_identity_keeps_the_workers_priority_the_coordinator_comes_next_the_rest_last(deployment):
    settings = deployment.cluster.settings
    identity = deployment.call("identity", "process")["niceness"]
    coordinator = deployment.call("saga", "process")["niceness"]

    assert {name: deployment.call(name, "process")["niceness"] for name in BACKGROUND} == dict.fromkeys(
        BACKGROUND, settings.background_niceness)
    assert coordinator == max(identity, settings.coordinator_niceness)
    assert identity <= coordinator < settings.background_niceness  # equal when workers start above 10


def test_the_coordinator_never_preempts_identity_on_waking(deployment):
    names = ("identity", "saga", *BACKGROUND)
    policies = {name: deployment.call(name, "process")["policy"] for name in names}

    batch = "batch" if hasattr(os, "SCHED_BATCH") else "normal"  # a system without policies reports normal
    assert policies == {"identity": "normal", "saga": batch, **dict.fromkeys(BACKGROUND, "normal")}


def test_a_background_actor_restarted_by_ray_runs_in_the_background_again(deployment):
    before = deployment.call("billing", "process")

    deployment.attached.kill("billing")

    def restarted() -> bool:
        try:
            return deployment.call("billing", "process", timeout=5)["pid"] != before["pid"]
        except ray.exceptions.RayError:
            return False

    wait_until(restarted, message="billing restarted by Ray")
    after = deployment.call("billing", "process")
    assert (after["niceness"], after["policy"]) == (before["niceness"], before["policy"])
