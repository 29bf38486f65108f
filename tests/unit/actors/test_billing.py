"""Billing: a customer per user, the cost-center rule, idempotent commands; and the host's chaos switches."""

from __future__ import annotations

import random

import pytest

from scimsaga.actors.billing import BillingService
from scimsaga.actors.host import ServiceHost
from scimsaga.bus.consumer import SubscriberUnavailable
from scimsaga.scim.schema import ENTERPRISE_USER_URN
from scimsaga.settings import Settings


@pytest.fixture
def billing(settings, clock):
    host = ServiceHost(BillingService(settings, clock=clock), settings, publish=None)
    yield host
    host.stop()


def enterprise_user(user_id: str, cost_center: str | None) -> dict:
    user: dict = {"id": user_id, "userName": "bjensen"}
    if cost_center is not None:
        user[ENTERPRISE_USER_URN] = {"costCenter": cost_center}
    return user


def test_create_customer_opens_one_and_replies_with_its_id(billing, deliver, queued, command):
    create = command("billing.CreateCustomer", "u1", user=enterprise_user("u1", "CC-4130"), step=2)

    report = deliver(billing, create)

    assert report.acked == [1]
    [(topic, reply)] = queued(billing)
    assert topic == "billing"
    assert reply.type == "billing.CustomerCreated"
    assert reply.key == "u1"
    assert reply.causation_id == create.id
    assert reply.correlation_id == create.correlation_id
    assert reply.payload["ok"] is True
    assert reply.payload["reference"].startswith("cus_")
    assert {k: reply.payload[k] for k in ("saga_id", "step", "phase", "user_id")} == {
        "saga_id": "saga-1", "step": 2, "phase": "action", "user_id": "u1"}
    assert billing.state_of("u1") == {
        "customer_id": reply.payload["reference"], "cost_center": "CC-4130", "status": "open"}


def test_a_user_without_a_cost_center_gets_a_customer(billing, deliver, queued, command):
    deliver(billing, command("billing.CreateCustomer", "u1", user=enterprise_user("u1", None)))

    [(_, reply)] = queued(billing)
    assert reply.payload["ok"] is True
    assert billing.state_of("u1")["cost_center"] is None


@pytest.mark.parametrize("cost_center", ["4130", "CC-413", "CC-41300", "cc-4130", ""])
def test_a_cost_center_that_breaks_the_rule_is_rejected_as_a_business_decision(
        billing, deliver, queued, command, cost_center):
    create = command("billing.CreateCustomer", "u1", user=enterprise_user("u1", cost_center))

    report = deliver(billing, create)

    assert report.acked == [1]  # a business "no" is an answer, not a delivery failure
    assert report.failed == {}
    [(_, reply)] = queued(billing)
    assert reply.type == "billing.CustomerRejected"
    assert reply.payload["ok"] is False
    assert reply.payload["business"] is True
    assert f"costCenter '{cost_center}'" in reply.payload["error"]
    assert billing.state_of("u1") is None


def test_the_cost_center_rule_comes_from_the_settings(tmp_path, deliver, queued, command, clock):
    settings = Settings(data_dir=tmp_path / "strict", cost_center_pattern=r"\d{4}")
    host = ServiceHost(BillingService(settings, clock=clock), settings, publish=None)

    deliver(host, command("billing.CreateCustomer", "u1", user=enterprise_user("u1", "4130"),
                          saga_id="s1"))
    deliver(host, command("billing.CreateCustomer", "u2", user=enterprise_user("u2", "CC-4130"),
                          saga_id="s2"))

    assert [reply.type for _, reply in queued(host)] == [
        "billing.CustomerCreated", "billing.CustomerRejected"]


def test_the_same_idempotency_key_twice_opens_one_customer_and_gives_the_same_reply(
        billing, deliver, queued, command):
    first = command("billing.CreateCustomer", "u1", idempotency_key="saga-1/2/action")
    resent = command("billing.CreateCustomer", "u1", idempotency_key="saga-1/2/action")
    assert first.id != resent.id  # a re-sent command is a new message with the same key

    deliver(billing, first)
    deliver(billing, resent)

    [(_, a), (_, b)] = queued(billing)
    assert a.payload == b.payload
    assert a.type == b.type == "billing.CustomerCreated"
    assert billing.status()["customers"] == {"open": 1}
    assert billing.state_of("u1")["customer_id"] == a.payload["reference"]


def test_a_redelivered_command_is_not_answered_twice(billing, deliver, queued, command):
    create = command("billing.CreateCustomer", "u1")

    assert deliver(billing, create).acked == [1]
    assert deliver(billing, create).acked == [2]

    assert len(queued(billing)) == 1
    assert billing.status()["processed"] == 1


def test_close_customer_closes_it(billing, deliver, queued, command):
    deliver(billing, command("billing.CreateCustomer", "u1"))
    customer_id = billing.state_of("u1")["customer_id"]

    deliver(billing, command("billing.CloseCustomer", "u1", step=2, phase="compensation"))

    closed = queued(billing)[-1][1]
    assert closed.type == "billing.CustomerClosed"
    assert closed.payload["ok"] is True
    assert closed.payload["reference"] == customer_id
    assert closed.payload["phase"] == "compensation"
    assert billing.state_of("u1") is None
    assert billing.status()["customers"] == {"closed": 1}


def test_closing_a_customer_that_does_not_exist_is_fine(billing, deliver, queued, command):
    deliver(billing, command("billing.CloseCustomer", "nobody"))

    [(_, reply)] = queued(billing)
    assert reply.payload["ok"] is True
    assert "reference" not in reply.payload


def test_a_closed_customer_is_reopened_by_a_new_create(billing, deliver, command):
    deliver(billing, command("billing.CreateCustomer", "u1", saga_id="s1"))
    deliver(billing, command("billing.CloseCustomer", "u1", saga_id="s2"))

    deliver(billing, command("billing.CreateCustomer", "u1", saga_id="s3"))

    assert billing.state_of("u1")["status"] == "open"
    assert billing.status()["customers"] == {"open": 1}


def test_messages_billing_has_no_handler_for_are_acked_and_ignored(billing, deliver, queued, command):
    report = deliver(billing, command("billing.SomethingElse", "u1"))

    assert report.acked == [1]
    assert queued(billing) == []


# --- the host's chaos switches (ServiceHost.chaos) -----------------------------------------------


def test_a_host_switched_down_refuses_deliveries_until_switched_up(billing, deliver, queued, command):
    assert billing.chaos(down=True)["down"] is True
    assert billing.status()["state"] == "down"

    with pytest.raises(SubscriberUnavailable, match="billing is down"):
        deliver(billing, command("billing.CreateCustomer", "u1"))
    assert queued(billing) == []

    billing.chaos(down=False)
    assert deliver(billing, command("billing.CreateCustomer", "u1")).acked == [2]
    assert billing.state_of("u1") is not None


def test_a_fail_rate_of_one_fails_every_event_as_a_transient_failure(
        settings, clock, deliver, queued, command):
    host = ServiceHost(BillingService(settings, clock=clock), settings, publish=None,
                       rng=random.Random(1234))
    host.chaos(fail_rate=1.0)

    report = deliver(host, command("billing.CreateCustomer", "u1", saga_id="s1"),
                     command("billing.CreateCustomer", "u2", saga_id="s2"))

    assert report.acked == []
    assert report.failed == {
        1: "InjectedFailure: billing failed on purpose (rate 1.0)",
        2: "InjectedFailure: billing failed on purpose (rate 1.0)",
    }
    assert queued(host) == []
    assert host.state_of("u1") is None

    host.chaos(fail_rate=0.0)
    assert deliver(host, command("billing.CreateCustomer", "u1", saga_id="s1")).acked == [3]


def test_a_seeded_fail_rate_fails_the_same_events_every_run(settings, clock, deliver, command):
    def failed_offsets(seed: int) -> list[int]:
        host = ServiceHost(BillingService(settings, clock=clock), settings, publish=None,
                           rng=random.Random(seed))
        host.chaos(fail_rate=0.5)
        commands = [command("billing.CreateCustomer", f"u{i}", saga_id=f"s{i}") for i in range(20)]
        return sorted(host.deliver([(i, c.to_json()) for i, c in enumerate(commands)]).failed)

    first = failed_offsets(7)
    assert first == failed_offsets(7)
    assert 0 < len(first) < 20


def test_chaos_switches_survive_a_restart_of_the_host(settings, clock, billing):
    billing.chaos(latency_ms=250, fail_rate=0.25)
    billing.stop()

    again = ServiceHost(BillingService(settings, clock=clock), settings, publish=None)

    assert again.status()["state"] == "slow 250ms, failing 25%"
    assert again.chaos() == {"down": False, "latency_ms": 250, "fail_rate": 0.25}


def test_chaos_values_are_clamped(billing):
    assert billing.chaos(latency_ms=-5, fail_rate=3.0) == {"down": False, "latency_ms": 0, "fail_rate": 1.0}
    assert billing.chaos(fail_rate=-1.0)["fail_rate"] == 0.0
