"""Faults lose no accepted data: kills, a service down, a restart of the whole deployment.

After each fault every user ends active, each service holds exactly one record per user, and no saga
is left open.
"""

from __future__ import annotations

import ray

from tests.integration.conftest import start_deployment
from tests.polling import wait_until


def _create(deployment, count: int, prefix: str) -> list[str]:
    return [deployment.create_user(f"{prefix}{i}@example.com").id for i in range(count)]


def _assert_consistent(deployment, user_ids: list[str]) -> None:
    deployment.wait_all_active(user_ids)
    wait_until(deployment.settled, message="no saga open and no lag")
    customers = {deployment.state_of("billing", u)["customer_id"] for u in user_ids}
    assert len(customers) == len(user_ids), "one customer per user, none twice"
    assert all(deployment.state_of("profile", u) for u in user_ids)
    assert all(deployment.state_of("access", u) for u in user_ids)
    assert deployment.sagas() == {"completed": len(user_ids)}
    billing = deployment.call("billing", "status")
    assert billing["customers"] == {"open": len(user_ids)}


def test_the_coordinator_killed_mid_saga_is_restarted_and_finishes_every_saga(deployment):
    deployment.attached.chaos("billing", latency_ms=300)
    user_ids = _create(deployment, 20, "coord")
    wait_until(lambda: deployment.sagas().get("running", 0) > 0, message="sagas under way")

    deployment.attached.kill("saga")

    deployment.attached.chaos("billing", latency_ms=0)
    _assert_consistent(deployment, user_ids)


def test_the_broker_killed_in_a_stream_of_events_loses_none(deployment):
    user_ids = _create(deployment, 150, "stream")
    deployment.attached.kill("broker")
    user_ids += _create(deployment, 150, "after")

    _assert_consistent(deployment, user_ids)


def test_a_service_down_holds_users_pending_and_catches_up_when_back(deployment):
    deployment.attached.chaos("billing", down=True)
    user_ids = _create(deployment, 30, "down")

    assert all(not deployment.is_active(u) for u in user_ids), "201 at once, but pending"
    wait_until(lambda: deployment.subscription("billing<-billing.commands")["lag"] > 0,
               message="billing lag grows")
    wait_until(lambda: deployment.subscription("billing<-billing.commands")["state"] == "unavailable",
               message="the broker sees billing unavailable")

    deployment.attached.chaos("billing", down=False)
    _assert_consistent(deployment, user_ids)
    assert deployment.subscription("billing<-billing.commands")["dead_letters"] == 0


def test_a_subscriber_killed_while_it_holds_a_batch_gets_it_again(deployment):
    deployment.attached.chaos("profile", latency_ms=400)
    user_ids = _create(deployment, 20, "batch")
    wait_until(lambda: deployment.subscription("profile<-profile.commands")["in_flight"] > 0,
               message="a batch in flight to profile")

    deployment.attached.kill("profile")

    wait_until(lambda: deployment.cluster.ready(), message="profile restarted")
    deployment.attached.chaos("profile", latency_ms=0)
    _assert_consistent(deployment, user_ids)


def test_the_whole_deployment_restarted_from_its_data_directory_carries_on(ray_address, tmp_path, namespace):
    data_dir = tmp_path / "data"
    first = start_deployment(data_dir, namespace)
    first.attached.chaos("billing", down=True)
    user_ids = _create(first, 25, "restart")
    wait_until(lambda: first.sagas().get("running", 0) == 25, message="every saga waiting on billing")
    first.cluster.stop()
    assert not any(_alive(namespace, name) for name in first.cluster.names or ["broker"])

    second = start_deployment(data_dir, namespace)
    try:
        assert second.call("billing", "status")["state"] == "down", "chaos switches survive a restart"
        assert all(not second.is_active(u) for u in user_ids)
        second.attached.chaos("billing", down=False)
        _assert_consistent(second, user_ids)
    finally:
        second.cluster.stop()


def _alive(namespace: str, name: str) -> bool:
    try:
        ray.get_actor(name, namespace=namespace)
    except ValueError:
        return False
    return True
