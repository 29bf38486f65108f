"""The provisioning saga: the pure state machine step by step, then the coordinator and the services
end to end in one process (LocalCluster, no Ray)."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from scimsaga.actors.host import ServiceHost
from scimsaga.actors.profile import ProfileService
from scimsaga.actors.saga import (
    COMPENSATED,
    COMPENSATING,
    COMPLETED,
    DEPROVISIONING,
    FAILED,
    FINISHING,
    MAX_COMPENSATION_ATTEMPTS,
    PROVISIONING,
    RUNNING,
    Saga,
    SagaCoordinator,
    Send,
    advance,
    finish,
    start,
)
from scimsaga.actors.service import BusinessRuleViolation, Reply
from scimsaga.actors.topology import TOPOLOGY
from scimsaga.bus.envelope import Envelope, new_message
from scimsaga.scim.errors import NotFound
from scimsaga.scim.resource import parse_resource
from scimsaga.scim.schema import ENTERPRISE_USER_URN, PROVISIONING_URN, USER, USER_SCHEMA_URN
from tests.polling import wait_until

AT = "2026-01-31T09:30:00.000Z"
IDENTITY_COMMANDS = "identity.commands"
BARBARA = {"id": "u1", "userName": "bjensen", "meta": {"version": 1}}


def user_created(user_id: str = "u1") -> Envelope:
    return new_message("identity.UserCreated", user_id, {"user": {**BARBARA, "id": user_id}}, at=AT,
                       correlation_id="request-1")


def reply_to(command: Send, *, ok: bool = True, reference: str | None = None, error: str | None = None,
             type: str | None = None) -> Envelope:
    """A service's reply to a saga command, carrying back its saga, step and phase."""
    payload: dict[str, Any] = {key: command.payload[key] for key in ("saga_id", "step", "phase")}
    payload.update(ok=ok, user_id="u1")
    if reference is not None:
        payload["reference"] = reference
    if error is not None:
        payload["error"] = error
    return new_message(type or f"{command.type}.Reply", "u1", payload, at=AT)


def identity_answer(type: str, saga: Saga) -> Envelope:
    return new_message(type, saga.user_id, {"saga_id": saga.id}, at=AT)


def the_command(sends: list[Send]) -> Send:
    """The one command among ``sends`` that is not a progress report to identity."""
    [command] = [s for s in sends if s.type != "identity.RecordProvisioning"]
    return command


def progress_reports(sends: list[Send]) -> list[Send]:
    return [s for s in sends if s.type == "identity.RecordProvisioning"]


def run_steps(saga: Saga, sends: list[Send], succeed: int) -> list[Send]:
    """Answer the next ``succeed`` action commands with ok replies."""
    for _ in range(succeed):
        sends = advance(PROVISIONING, saga, reply_to(the_command(sends), reference="ref"), AT)
    return sends


# --- the pure state machine -----------------------------------------------------------------------


def test_start_makes_a_running_saga_and_sends_the_first_step():
    saga, sends = start(PROVISIONING, "saga-1", user_created(), AT)

    assert (saga.id, saga.definition, saga.user_id, saga.correlation_id) == (
        "saga-1", "provision", "u1", "request-1")
    assert (saga.status, saga.step, saga.phase, saga.attempts) == (RUNNING, 0, "action", 0)
    assert saga.user == BARBARA
    assert saga.services == [{"name": "profile", "state": "pending"}, {"name": "access", "state": "pending"},
                             {"name": "billing", "state": "pending"}]
    assert saga.history == [{"at": AT, "event": "started by identity.UserCreated"}]
    assert sends == [Send("profile.commands", "profile.CreateProfile", {
        "saga_id": "saga-1", "step": 0, "phase": "action", "user": BARBARA,
        "idempotency_key": "saga-1/0/action",
    })]


def test_the_happy_path_step_by_step():
    saga, sends = start(PROVISIONING, "saga-1", user_created(), AT)

    sends = advance(PROVISIONING, saga, reply_to(sends[0], reference="u1"), AT)
    [progress] = progress_reports(sends)
    assert progress.topic == IDENTITY_COMMANDS
    assert progress.payload["services"][0] == {"name": "profile", "state": "done", "reference": "u1"}
    assert the_command(sends).type == "access.GrantDefaults"
    assert the_command(sends).payload["step"] == 1

    sends = advance(PROVISIONING, saga, reply_to(the_command(sends), reference="wiki:read"), AT)
    assert the_command(sends).type == "billing.CreateCustomer"
    assert the_command(sends).topic == "billing.commands"

    sends = advance(PROVISIONING, saga, reply_to(the_command(sends), reference="cus_1"), AT)
    activate = the_command(sends)
    assert activate == Send(IDENTITY_COMMANDS, "identity.ActivateUser", {
        "saga_id": "saga-1",
        "services": [{"name": "profile", "state": "done", "reference": "u1"},
                     {"name": "access", "state": "done", "reference": "wiki:read"},
                     {"name": "billing", "state": "done", "reference": "cus_1"}],
        "reason": None,
        "idempotency_key": "saga-1/identity.ActivateUser",
    })
    assert saga.status == FINISHING

    finish(saga, identity_answer("identity.UserActivated", saga), AT)

    assert saga.status == COMPLETED
    assert [h["event"] for h in saga.history] == [
        "started by identity.UserCreated",
        "profile: profile.CreateProfile.Reply (u1)",
        "access: access.GrantDefaults.Reply (wiki:read)",
        "billing: billing.CreateCustomer.Reply (cus_1)",
        "identity.UserActivated",
    ]


@pytest.mark.parametrize(("failing_step", "compensations"), [
    (0, []),
    (1, ["profile.RemoveProfile"]),
    (2, ["access.RevokeAll", "profile.RemoveProfile"]),
])
def test_a_failed_step_compensates_the_completed_ones_in_reverse_order(failing_step, compensations):
    saga, sends = start(PROVISIONING, "saga-1", user_created(), AT)
    sends = run_steps(saga, sends, failing_step)
    service = PROVISIONING.steps[failing_step].service

    sends = advance(PROVISIONING, saga, reply_to(the_command(sends), ok=False, error="said no",
                                                 type=f"{service}.Rejected"), AT)
    sent = []
    command = the_command(sends)
    while command.topic != IDENTITY_COMMANDS:
        assert saga.status == COMPENSATING
        assert command.payload["phase"] == "compensation"
        sent.append(command.type)
        command = the_command(advance(PROVISIONING, saga, reply_to(command), AT))

    assert sent == compensations
    assert command.type == "identity.CompensateUser"
    assert command.payload["reason"] == f"{service}: said no"
    assert saga.status == FINISHING
    states = [s["state"] for s in saga.services]
    assert states == ["compensated"] * failing_step + ["failed"] + ["pending"] * (2 - failing_step)
    assert saga.services[failing_step]["error"] == "said no"
    assert f"{service}: {service}.Rejected: said no" in [h["event"] for h in saga.history]

    finish(saga, identity_answer("identity.UserCompensated", saga), AT)
    assert saga.status == COMPENSATED


def test_duplicate_and_stale_replies_are_ignored():
    saga, sends = start(PROVISIONING, "saga-1", user_created(), AT)
    first_reply = reply_to(sends[0], reference="u1")
    sends = advance(PROVISIONING, saga, first_reply, AT)
    before = copy.deepcopy(saga)

    assert advance(PROVISIONING, saga, first_reply, AT) == []
    assert advance(PROVISIONING, saga, replace_payload(first_reply, phase="compensation", step=1), AT) == []
    assert saga == before

    run_steps(saga, sends, 2)
    finish(saga, identity_answer("identity.UserActivated", saga), AT)
    done = copy.deepcopy(saga)
    assert advance(PROVISIONING, saga, first_reply, AT) == []
    finish(saga, identity_answer("identity.UserCompensated", saga), AT)
    assert saga == done


def replace_payload(envelope: Envelope, **changes: Any) -> Envelope:
    return replace(envelope, payload={**envelope.payload, **changes})


def test_finish_is_ignored_before_the_saga_is_finishing():
    saga, _ = start(PROVISIONING, "saga-1", user_created(), AT)

    finish(saga, identity_answer("identity.UserActivated", saga), AT)

    assert saga.status == RUNNING


def test_a_failed_compensation_is_retried_with_a_fresh_idempotency_key_then_the_saga_fails():
    saga, sends = start(PROVISIONING, "saga-1", user_created(), AT)
    sends = run_steps(saga, sends, 2)
    revoke = the_command(advance(PROVISIONING, saga, reply_to(the_command(sends), ok=False, error="no"), AT))
    assert revoke.type == "access.RevokeAll"

    keys = [revoke.payload["idempotency_key"]]
    for attempt in range(1, MAX_COMPENSATION_ATTEMPTS):
        [retry] = advance(PROVISIONING, saga, reply_to(revoke, ok=False, error="access is read-only"), AT)
        assert (retry.type, retry.payload["step"], retry.payload["phase"]) == ("access.RevokeAll", 1,
                                                                               "compensation")
        assert saga.attempts == attempt
        keys.append(retry.payload["idempotency_key"])
        revoke = retry

    assert len(set(keys)) == MAX_COMPENSATION_ATTEMPTS  # a retry is done again, not answered from memory
    assert advance(PROVISIONING, saga, reply_to(revoke, ok=False, error="access is read-only"), AT) == []
    assert saga.status == FAILED
    assert saga.history[-1]["event"] == (
        f"access: compensation failed (access is read-only), attempt {MAX_COMPENSATION_ATTEMPTS}")


def test_a_compensation_that_succeeds_on_retry_carries_on_backwards():
    saga, sends = start(PROVISIONING, "saga-1", user_created(), AT)
    sends = run_steps(saga, sends, 2)
    revoke = the_command(advance(PROVISIONING, saga, reply_to(the_command(sends), ok=False, error="no"), AT))
    [retry] = advance(PROVISIONING, saga, reply_to(revoke, ok=False, error="busy"), AT)

    remove = the_command(advance(PROVISIONING, saga, reply_to(retry), AT))

    assert remove.type == "profile.RemoveProfile"
    assert remove.payload["idempotency_key"] == "saga-1/0/compensation"
    assert saga.attempts == 0


def test_a_saga_without_compensations_fails_at_once_and_tells_no_one():
    saga, sends = start(DEPROVISIONING, "saga-2", user_created(), AT)
    assert sends[0].type == "billing.CloseCustomer"

    assert advance(DEPROVISIONING, saga, reply_to(sends[0], ok=False, error="no"), AT) == []
    assert saga.status == FAILED
    assert saga.reason == "billing: no"


def test_a_saga_without_a_final_command_completes_on_its_last_reply():
    saga, sends = start(DEPROVISIONING, "saga-2", user_created(), AT)

    for expected in ("billing.CloseCustomer", "access.RevokeAll", "profile.RemoveProfile"):
        [command] = sends
        assert command.type == expected
        sends = advance(DEPROVISIONING, saga, reply_to(command), AT)

    assert sends == []  # no progress reports, no identity command
    assert saga.status == COMPLETED
    assert saga.history[-1]["event"] == COMPLETED


# --- the coordinator on its own SQLite file ---------------------------------------------------------


def test_the_coordinator_keeps_a_saga_across_a_restart(settings, deliver, queued, clock):
    coordinator = ServiceHost(SagaCoordinator(settings, clock=clock), settings, publish=None)
    deliver(coordinator, user_created())
    [(topic, create_profile)] = queued(coordinator)
    assert (topic, create_profile.type, create_profile.key) == (
        "profile.commands", "profile.CreateProfile", "u1")
    coordinator.stop()

    restarted = ServiceHost(SagaCoordinator(settings, clock=clock), settings, publish=None)
    reply = create_profile.caused("profile.ProfileCreated", {**create_profile.payload, "ok": True,
                                                             "reference": "u1"}, at=AT)
    deliver(restarted, reply)

    assert [e.type for _, e in queued(restarted)][-2:] == [
        "identity.RecordProvisioning", "access.GrantDefaults"]
    [state] = restarted.state_of("u1")["sagas"]
    assert (state["status"], state["step"]) == (RUNNING, 1)
    assert restarted.status()["sagas"] == {RUNNING: 1}


def test_the_coordinator_ignores_replies_to_sagas_it_does_not_know(settings, deliver, queued, clock):
    coordinator = ServiceHost(SagaCoordinator(settings, clock=clock), settings, publish=None)

    unknown_saga = {"saga_id": "nope", "step": 0, "phase": "action", "ok": True}

    report = deliver(coordinator, new_message("billing.CustomerCreated", "u1", unknown_saga, at=AT),
                     new_message("billing.Unrelated", "u1", {"ok": True}, at=AT))

    assert report.acked == [1, 2]
    assert queued(coordinator) == []


# --- end to end through LocalCluster ----------------------------------------------------------------


def create(cluster, user_name: str = "bjensen", cost_center: str | None = None, **attributes: Any) -> str:
    body: dict[str, Any] = {"schemas": [USER_SCHEMA_URN], "userName": user_name, **attributes}
    if cost_center is not None:
        body[ENTERPRISE_USER_URN] = {"costCenter": cost_center}
    return cluster.identity().create_user(parse_resource(USER, body), f"request-{user_name}").id


def provisioning(cluster, user_id: str) -> dict[str, Any]:
    return cluster.identity().get_user(user_id).attributes[PROVISIONING_URN]


def sagas_of(cluster, user_id: str) -> list[dict[str, Any]]:
    state = cluster.hosts["saga"].state_of(user_id)
    return state["sagas"] if state else []


def saga_status(cluster, user_id: str, definition: str = "provision") -> str | None:
    return next((s["status"] for s in sagas_of(cluster, user_id) if s["definition"] == definition), None)


def is_gone(cluster, user_id: str) -> bool:
    try:
        cluster.identity().get_user(user_id)
    except NotFound:
        return True
    return False


def eventually(condition, message: str = "condition"):
    return wait_until(condition, timeout=10.0, interval=0.01, message=message)


def test_a_new_user_becomes_active_once_every_service_is_done(local_cluster):
    cluster = local_cluster()
    user_id = create(cluster, cost_center="CC-4130", displayName="Babs Jensen")
    assert cluster.identity().get_user(user_id).attributes["active"] is False

    eventually(lambda: saga_status(cluster, user_id) == COMPLETED, "the saga to complete")

    stored = cluster.identity().get_user(user_id)
    assert stored.attributes["active"] is True
    assert provisioning(cluster, user_id)["state"] == "active"
    services = provisioning(cluster, user_id)["services"]
    assert [(s["name"], s["state"]) for s in services] == [("profile", "done"), ("access", "done"),
                                                            ("billing", "done")]
    billing = cluster.hosts["billing"].state_of(user_id)
    assert services[2]["reference"] == billing["customer_id"]
    assert billing["cost_center"] == "CC-4130"
    assert cluster.hosts["profile"].state_of(user_id)["display_name"] == "Babs Jensen"
    assert cluster.hosts["access"].state_of(user_id) == {"entitlements": ["chat:member", "wiki:read"]}


def test_a_rejected_cost_center_deletes_the_user_and_undoes_every_service(local_cluster):
    cluster = local_cluster()
    user_id = create(cluster, cost_center="4130")

    eventually(lambda: saga_status(cluster, user_id) == COMPENSATED, "the saga to be compensated")

    assert is_gone(cluster, user_id)
    for service in ("profile", "access", "billing"):
        assert cluster.hosts[service].state_of(user_id) is None, service
    [saga] = sagas_of(cluster, user_id)
    assert saga["reason"] == "billing: costCenter '4130' does not match the rule CC-\\d{4}"
    events = [h["event"] for h in saga["history"]]
    assert "billing: billing.CustomerRejected: costCenter '4130' does not match the rule CC-\\d{4}" in events
    assert events.index("access: access.AccessRevoked (compensated)") < events.index(
        "profile: profile.ProfileRemoved (compensated)")
    assert events[-1] == "identity.UserCompensated"


def test_on_failure_deactivate_keeps_the_user_inactive_and_failed(local_cluster):
    cluster = local_cluster(on_failure="deactivate")
    user_id = create(cluster, cost_center="4130", active=True)

    eventually(lambda: saga_status(cluster, user_id) == COMPENSATED, "the saga to be compensated")

    stored = cluster.identity().get_user(user_id)
    assert stored.attributes["active"] is False
    assert provisioning(cluster, user_id)["state"] == "failed"
    assert [(s["name"], s["state"]) for s in provisioning(cluster, user_id)["services"]] == [
        ("profile", "compensated"), ("access", "compensated"), ("billing", "failed")]
    assert cluster.hosts["billing"].state_of(user_id) is None


def test_deleting_an_active_user_deprovisions_it_everywhere(local_cluster):
    cluster = local_cluster()
    user_id = create(cluster)
    eventually(lambda: saga_status(cluster, user_id) == COMPLETED, "provisioning")

    cluster.identity().delete_user(user_id, "request-delete")

    eventually(lambda: saga_status(cluster, user_id, "deprovision") == COMPLETED, "deprovisioning")
    for service in ("profile", "access", "billing"):
        assert cluster.hosts[service].state_of(user_id) is None, service


def test_a_service_that_is_down_holds_the_saga_until_it_is_back(local_cluster):
    cluster = local_cluster()
    cluster.hosts["billing"].chaos(down=True)
    user_id = create(cluster)

    eventually(lambda: [s["state"] for s in provisioning(cluster, user_id)["services"]] == [
        "done", "done", "pending"], "profile and access to be done")
    billing_subscription = next(
        s for s in cluster.broker.status() if s["name"] == "billing<-billing.commands")
    assert billing_subscription["lag"] >= 1
    assert cluster.identity().get_user(user_id).attributes["active"] is False

    cluster.hosts["billing"].chaos(down=False)
    eventually(lambda: saga_status(cluster, user_id) == COMPLETED, "the saga to complete")
    assert cluster.identity().get_user(user_id).attributes["active"] is True


def test_a_failing_service_is_retried_by_the_bus_until_it_recovers(local_cluster, fast_bus):
    cluster = local_cluster(bus=replace(fast_bus, max_attempts=10_000))
    cluster.hosts["profile"].chaos(fail_rate=1.0)
    user_id = create(cluster)

    def profile_retrying() -> bool:
        status = next(s for s in cluster.broker.status() if s["name"] == "profile<-profile.commands")
        return status["retrying"] == 1 and "InjectedFailure" in (status["last_error"] or "")

    eventually(profile_retrying, "the bus to retry the profile step")
    assert provisioning(cluster, user_id)["services"][0]["state"] == "pending"

    cluster.hosts["profile"].chaos(fail_rate=0.0)
    eventually(lambda: saga_status(cluster, user_id) == COMPLETED, "the saga to complete")


def test_a_step_in_dead_letters_completes_once_replayed(local_cluster, fast_bus):
    cluster = local_cluster(bus=replace(fast_bus, max_attempts=2))
    cluster.hosts["access"].chaos(fail_rate=1.0)
    user_id = create(cluster)
    subscription = "access<-access.commands"
    eventually(lambda: cluster.broker.dead_letters(subscription), "the access step to be dead-lettered")

    cluster.hosts["access"].chaos(fail_rate=0.0)
    assert cluster.broker.replay_dead_letters(subscription) == 1

    eventually(lambda: saga_status(cluster, user_id) == COMPLETED, "the saga to complete")


class RemovalRefused(BusinessRuleViolation):
    reply_type = "profile.RemovalRefused"


class ProfileRefusingOneRemoval(ProfileService):
    """A profile service whose first RemoveProfile is refused (e.g. a legal hold that is then lifted)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refusals_left = 1

    def remove_profile(self, envelope, conn) -> Reply:
        if self.refusals_left:
            self.refusals_left -= 1
            raise RemovalRefused("the profile is on hold")
        return super().remove_profile(envelope, conn)


def test_a_refused_compensation_is_done_again_when_retried(local_cluster):
    topology = tuple(replace(spec, build=ProfileRefusingOneRemoval) if spec.name == "profile" else spec
                     for spec in TOPOLOGY)
    cluster = local_cluster(topology)
    user_id = create(cluster, cost_center="4130")

    eventually(lambda: saga_status(cluster, user_id) in (COMPENSATED, FAILED), "the saga to end")

    [saga] = sagas_of(cluster, user_id)
    assert saga["status"] == COMPENSATED
    assert "profile: compensation failed (the profile is on hold), attempt 1" in [
        h["event"] for h in saga["history"]]
    assert cluster.hosts["profile"].state_of(user_id) is None
    assert is_gone(cluster, user_id)
