"""The request path runs ahead of the fan-out: identity at Ray's worker priority, the rest below it.

The shared test session runs its workers at Ray's default niceness; a cluster ``scimsaga up`` starts
runs them at 0 (tests/e2e/test_command_line.py)."""

from __future__ import annotations

import ray

from tests.polling import wait_until

BACKGROUND = ("broker", "saga", "billing", "profile", "access")


def test_only_the_actor_answering_requests_keeps_the_workers_priority(deployment):
    identity = deployment.call("identity", "process")
    background = deployment.cluster.settings.background_niceness

    assert {name: deployment.call(name, "process")["niceness"] for name in BACKGROUND} == dict.fromkeys(
        BACKGROUND, background)
    assert identity["niceness"] < background


def test_a_background_actor_restarted_by_ray_runs_in_the_background_again(deployment):
    before = deployment.call("billing", "process")

    deployment.attached.kill("billing")

    def restarted() -> bool:
        try:
            return deployment.call("billing", "process", timeout=5)["pid"] != before["pid"]
        except ray.exceptions.RayError:
            return False

    wait_until(restarted, message="billing restarted by Ray")
    assert deployment.call("billing", "process")["niceness"] == before["niceness"]
