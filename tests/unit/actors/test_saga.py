"""Sagas: the pure state machine step by step, the coordinator on its own SQLite file with a fake
clock, then the coordinator and the services end to end in one process (LocalCluster, no Ray)."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from scimsaga.actors.definitions import DEACTIVATION, DEPROVISIONING, PROVISIONING, with_retry
from scimsaga.actors.profile import ProfileService
from scimsaga.actors.saga import SagaCoordinator, SagaHost
from scimsaga.actors.saga_machine import (
    COMPENSATED,
    COMPENSATING,
    COMPLETED,
    FAILED,
    FINISHING,
    QUEUED,
    RUNNING,
    Moment,
    Parallel,
    Retry,
    Saga,
    SagaDefinition,
    Send,
    Step,
    cancel,
    new_saga,
    on_identity,
    on_reply,
    on_timer,
    start,
)
from scimsaga.actors.service import BusinessRuleViolation, Reply
from scimsaga.actors.topology import TOPOLOGY
from scimsaga.bus.envelope import Envelope, new_message
from scimsaga.scim.errors import NotFound
from scimsaga.scim.resource import parse_resource
from scimsaga.scim.schema import ENTERPRISE_USER_URN, PROVISIONING_URN, USER, USER_SCHEMA_URN
from scimsaga.settings import SagaSettings
from tests.polling import wait_until

AT = "2026-01-31T09:30:00.000Z"
IDENTITY = "identity.commands"
BARBARA = {"id": "u1", "userName": "bjensen", "meta": {"version": 1}}
QUICK = Retry(timeout=1.0, factor=2.0, max_timeout=4.0, give_up_after=10.0)


def at(epoch: float) -> Moment:
    return Moment(epoch, AT)


def quick(definition: SagaDefinition) -> SagaDefinition:
    return with_retry(definition, QUICK)


PROVISION = quick(PROVISIONING)


def running(definition: SagaDefinition = PROVISION, epoch: float = 0.0) -> tuple[Saga, list[Send]]:
    saga = new_saga(definition, "saga-1", "u1", BARBARA, "request-1", at(epoch), "a new user")
    return saga, start(definition, saga, at(epoch))


def reply(definition: SagaDefinition, saga: Saga, command: Send, *, ok: bool = True,
          reference: str | None = None, error: str | None = None, epoch: float = 0.0) -> list[Send]:
    payload: dict[str, Any] = {k: command.payload[k] for k in ("saga_id", "step", "phase")}
    payload["ok"] = ok
    if reference is not None:
        payload["reference"] = reference
    if error is not None:
        payload["error"] = error
    return on_reply(definition, saga, f"{command.type}.Reply", payload, at(epoch))


def commands(sends: list[Send]) -> list[Send]:
    """The commands to services (not progress reports to identity)."""
    return [s for s in sends if s.type != "identity.RecordProvisioning"]


def the_command(sends: list[Send]) -> Send:
    [command] = commands(sends)
    return command


def states(saga: Saga) -> list[str]:
    return [s.state for s in saga.steps]


# --- the pure state machine -----------------------------------------------------------------------


def test_start_sends_the_first_stage_with_an_idempotency_key_per_step():
    saga, sends = running()

    assert saga.status == RUNNING
    assert sends == [Send("profile.commands", "profile.CreateProfile", {
        "saga_id": "saga-1", "step": 0, "phase": "action", "user": BARBARA,
        "idempotency_key": "saga-1/0/action", "attempt": 1,
    })]
    assert saga.wake_at == QUICK.timeout


def test_the_happy_path_step_by_step_reports_progress_then_activates():
    saga, sends = running()

    sends = reply(PROVISION, saga, the_command(sends), reference="u1")
    progress = [s for s in sends if s.type == "identity.RecordProvisioning"]
    assert progress[0].payload["services"][0] == {"name": "profile", "state": "done", "reference": "u1"}
    assert the_command(sends).type == "access.GrantDefaults"
    sends = reply(PROVISION, saga, the_command(sends), reference="wiki:read")
    assert the_command(sends).type == "billing.CreateCustomer"
    sends = reply(PROVISION, saga, the_command(sends), reference="cus_1")

    activate = the_command(sends)
    assert (activate.topic, activate.type) == (IDENTITY, "identity.ActivateUser")
    assert [s["state"] for s in activate.payload["services"]] == ["done", "done", "done"]
    assert activate.payload["reason"] is None
    assert saga.status == FINISHING

    on_identity(saga, "identity.UserActivated", at(1))
    assert saga.status == COMPLETED
    assert saga.wake_at is None


def test_the_reply_that_ends_a_saga_sends_identity_one_command_that_carries_every_step():
    saga, sends = running()
    for reference in ("u1", "wiki:read"):
        sends = reply(PROVISION, saga, the_command(sends), reference=reference)
        assert [s.type for s in sends if s.topic == IDENTITY] == ["identity.RecordProvisioning"]

    sends = reply(PROVISION, saga, the_command(sends), reference="cus_1")

    assert [s.type for s in sends] == ["identity.ActivateUser"]
    assert [s.get("reference") for s in sends[0].payload["services"]] == ["u1", "wiki:read", "cus_1"]


def test_the_last_compensation_is_reported_by_the_final_command_alone():
    saga, sends = running()
    sends = reply(PROVISION, saga, the_command(sends), reference="u1")
    sends = reply(PROVISION, saga, the_command(sends), ok=False, error="said no")
    assert [s.type for s in sends] == ["identity.RecordProvisioning", "profile.RemoveProfile"]

    sends = reply(PROVISION, saga, the_command(sends))

    assert [s.type for s in sends] == ["identity.CompensateUser"]
    assert [s["state"] for s in sends[0].payload["services"]] == ["compensated", "failed", "pending"]


@pytest.mark.parametrize(("failing_step", "undo"), [
    (0, []),
    (1, ["profile.RemoveProfile"]),
    (2, ["access.RevokeAll", "profile.RemoveProfile"]),
])
def test_a_failed_step_compensates_the_completed_ones_in_reverse_order(failing_step, undo):
    saga, sends = running()
    for _ in range(failing_step):
        sends = reply(PROVISION, saga, the_command(sends), reference="ref")

    sends = reply(PROVISION, saga, the_command(sends), ok=False, error="said no")
    sent = []
    command = the_command(sends)
    while command.topic != IDENTITY:
        assert saga.status == COMPENSATING
        assert command.payload["phase"] == "compensation"
        sent.append(command.type)
        command = the_command(reply(PROVISION, saga, command))

    assert sent == undo
    assert command.type == "identity.CompensateUser"
    service = PROVISION.steps[failing_step].service
    assert command.payload["reason"] == f"{service}: said no"
    assert states(saga) == ["compensated"] * failing_step + ["failed"] + ["pending"] * (2 - failing_step)
    on_identity(saga, "identity.UserCompensated", at(1))
    assert saga.status == COMPENSATED


def test_replies_the_saga_does_not_wait_for_are_ignored():
    saga, sends = running()
    first = the_command(sends)
    reply(PROVISION, saga, first, reference="u1")
    before = copy.deepcopy(saga)

    assert reply(PROVISION, saga, first, reference="u1") == []  # a duplicate
    assert on_reply(PROVISION, saga, "x", {"step": 7, "phase": "action", "ok": True}, at(0)) == []
    assert on_reply(PROVISION, saga, "x", {"step": 0, "phase": "compensation", "ok": True}, at(0)) == []
    assert saga == before


def test_a_late_reply_is_asked_for_again_under_the_same_key_then_given_up():
    saga, sends = running()
    first = the_command(sends)

    assert on_timer(PROVISION, saga, at(0.5)) == []  # not yet due
    [again] = on_timer(PROVISION, saga, at(1.0))
    assert (again.type, again.payload["idempotency_key"], again.payload["attempt"]) == (
        "profile.CreateProfile", first.payload["idempotency_key"], 2)
    assert saga.wake_at == 1.0 + QUICK.wait(2)

    sends = on_timer(PROVISION, saga, at(QUICK.give_up_after))
    assert saga.status == FINISHING  # nothing to undo: straight to identity
    assert the_command(sends).type == "identity.CompensateUser"
    assert saga.reason == "profile: no reply from profile within 10s"


def test_a_parallel_stage_waits_for_every_step_before_undoing():
    stages = (Parallel(Step("a", "a.Do", "a.Undo"), Step("b", "b.Do", "b.Undo")), Step("c", "c.Do", "c.Undo"))
    definition = quick(SagaDefinition("p", stages, on_failure="identity.CompensateUser"))
    saga = new_saga(definition, "s", "u1", BARBARA, "r", at(0), "test")
    a, b = start(definition, saga, at(0))
    assert (a.type, b.type) == ("a.Do", "b.Do")

    assert reply(definition, saga, b, ok=False, error="no") == []  # a is still out: wait
    assert saga.status == COMPENSATING
    [undo_a] = reply(definition, saga, a)
    assert undo_a.type == "a.Undo"
    [finish] = reply(definition, saga, undo_a)
    assert finish.type == "identity.CompensateUser"
    assert states(saga) == ["compensated", "failed", "pending"]


def test_a_refused_compensation_is_retried_later_under_a_fresh_key_until_it_gives_up():
    saga, sends = running()
    sends = reply(PROVISION, saga, the_command(sends))
    sends = reply(PROVISION, saga, the_command(sends), ok=False, error="no")
    undo = the_command(sends)
    assert undo.payload["idempotency_key"] == "saga-1/0/compensation"

    assert reply(PROVISION, saga, undo, ok=False, error="on hold", epoch=1) == []
    [retry] = on_timer(PROVISION, saga, at(1 + QUICK.wait(1)))
    assert retry.payload["idempotency_key"] == "saga-1/0/compensation/retry-1"

    sends = on_timer(PROVISION, saga, at(QUICK.give_up_after + 1))
    assert saga.status == FAILED
    assert sends[0].type == "identity.RecordProvisioning"
    assert sends[0].payload["state"] == "failed"
    assert "compensation gave up" in saga.history[-1]["event"]


def test_identity_is_asked_again_when_it_does_not_confirm_the_end():
    saga, sends = running()
    for _ in range(3):
        sends = reply(PROVISION, saga, the_command(sends))
    assert saga.status == FINISHING

    [again] = on_timer(PROVISION, saga, at(QUICK.timeout))
    assert again.type == "identity.ActivateUser"
    assert again.payload["idempotency_key"] == "saga-1/identity.ActivateUser"


def test_cancelling_undoes_what_was_done_including_the_step_in_flight():
    saga, sends = running()
    sends = reply(PROVISION, saga, the_command(sends))  # profile done, access in flight
    access = the_command(sends)

    assert cancel(PROVISION, saga, "deleted", at(1)) == []  # waits for access
    undo_access = the_command(reply(PROVISION, saga, access))
    assert undo_access.type == "access.RevokeAll"
    [undo_profile] = commands(reply(PROVISION, saga, undo_access))
    assert undo_profile.type == "profile.RemoveProfile"
    assert the_command(reply(PROVISION, saga, undo_profile)).type == "identity.CompensateUser"
    assert saga.reason == "deleted"


def test_a_saga_without_compensations_or_final_command_ends_on_its_last_reply():
    definition = quick(DEPROVISIONING)
    saga, sends = running(definition)
    assert sorted(s.type for s in sends) == ["access.RevokeAll", "billing.CloseCustomer",
                                             "profile.RemoveProfile"]
    for command in sends:
        assert reply(definition, saga, command) == []
    assert saga.status == COMPLETED


def test_a_deprovisioning_step_that_fails_for_good_leaves_the_saga_failed():
    definition = quick(DEPROVISIONING)
    saga, sends = running(definition)
    for command in sends[1:]:
        reply(definition, saga, command)

    reply(definition, saga, sends[0], ok=False, error="no")

    assert saga.status == FAILED
    assert saga.reason == "billing: no"


def test_a_saga_survives_json_round_trips():
    saga, sends = running()
    reply(PROVISION, saga, the_command(sends), reference="u1")

    assert Saga.from_dict(copy.deepcopy(saga.to_dict())) == saga


# --- the coordinator on its own SQLite file, with a clock the test turns --------------------------


class Clock:
    def __init__(self) -> None:
        self.epoch = 1_000.0

    def __call__(self) -> float:
        return self.epoch


@pytest.fixture
def fast_sagas(settings):
    return replace(settings, saga=SagaSettings(step_timeout=1.0, max_step_timeout=4.0, give_up_after=10.0,
                                               tick_interval=3600))


@pytest.fixture
def coordinator(fast_sagas, clock):
    timer = Clock()
    host = SagaHost(SagaCoordinator(fast_sagas, clock=clock, timer=timer), fast_sagas, publish=None)
    host.timer = timer
    yield host
    host.stop()


def identity_event(type: str, user_id: str = "u1", **payload: Any) -> Envelope:
    return new_message(type, user_id, {"user": {**BARBARA, "id": user_id}, **payload}, at=AT,
                       correlation_id="request-1")


def answer(command: Envelope, ok: bool = True, **payload: Any) -> Envelope:
    return command.caused(f"{command.type}.Reply", {**{k: command.payload[k] for k in ("saga_id", "step",
                                                                                     "phase")},
                                                    "ok": ok, **payload}, at=AT)


def sent_commands(queued, host) -> list[Envelope]:
    return [e for _, e in queued(host) if e.type != "identity.RecordProvisioning"]


def test_the_coordinator_keeps_a_saga_across_a_restart(fast_sagas, deliver, queued, clock, coordinator):
    deliver(coordinator, identity_event("identity.UserCreated"))
    [create_profile] = sent_commands(queued, coordinator)
    coordinator.stop()

    restarted = SagaHost(SagaCoordinator(fast_sagas, clock=clock, timer=coordinator.timer), fast_sagas,
                         publish=None)
    try:
        deliver(restarted, answer(create_profile, reference="u1"))
        assert sent_commands(queued, restarted)[-1].type == "access.GrantDefaults"
        assert restarted.status()["sagas"] == {RUNNING: 1}
    finally:
        restarted.stop()


def test_the_timer_asks_again_for_late_replies(deliver, queued, coordinator):
    deliver(coordinator, identity_event("identity.UserCreated"))
    assert coordinator.tick() == 0

    coordinator.timer.epoch += 1.0
    assert coordinator.tick() == 1
    first, again = sent_commands(queued, coordinator)
    assert again.payload["idempotency_key"] == first.payload["idempotency_key"]
    assert again.payload["attempt"] == 2


def test_a_change_during_provisioning_waits_in_line_and_runs_after_it(deliver, queued, coordinator):
    deliver(coordinator, identity_event("identity.UserCreated"))
    deliver(coordinator, identity_event("identity.UserUpdated", requested_active=True))
    assert [s["status"] for s in coordinator.state_of("u1")["sagas"]] == [RUNNING, QUEUED]

    for _ in range(3):
        deliver(coordinator, answer(sent_commands(queued, coordinator)[-1]))
    deliver(coordinator, new_message("identity.UserActivated", "u1", {
        "saga_id": coordinator.state_of("u1")["sagas"][0]["id"]}, at=AT))

    assert [s["status"] for s in coordinator.state_of("u1")["sagas"]] == [COMPLETED, RUNNING]
    assert sent_commands(queued, coordinator)[-1].type == "profile.UpdateProfile"


def test_active_false_deactivates_and_active_true_reactivates(deliver, queued, coordinator):
    deliver(coordinator, identity_event("identity.UserCreated", requested_active=True))
    deliver(coordinator, identity_event("identity.UserUpdated", requested_active=False))
    deliver(coordinator, identity_event("identity.UserUpdated", requested_active=True))

    assert [s["definition"] for s in coordinator.state_of("u1")["sagas"]] == [
        "provision", DEACTIVATION.name, "reactivate"]


def test_deleting_a_user_being_provisioned_cancels_it_and_drops_what_waits(deliver, queued, coordinator):
    deliver(coordinator, identity_event("identity.UserCreated"))
    deliver(coordinator, answer(sent_commands(queued, coordinator)[-1]))  # profile done
    deliver(coordinator, identity_event("identity.UserUpdated", requested_active=True))

    deliver(coordinator, identity_event("identity.UserDeleted"))

    sagas = coordinator.state_of("u1")["sagas"]
    assert [(s["definition"], s["status"]) for s in sagas] == [("provision", COMPENSATING),
                                                                ("update", COMPENSATED)]
    access = sent_commands(queued, coordinator)[-1]
    assert access.type == "access.GrantDefaults"  # still out: its answer decides what to undo
    deliver(coordinator, answer(access))
    assert sent_commands(queued, coordinator)[-1].type == "access.RevokeAll"


def test_the_coordinator_ignores_replies_to_sagas_it_does_not_know(deliver, queued, coordinator):
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
    assert events[-1] == "identity.UserCompensated; compensated"


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
    assert any(h["event"].startswith("profile: compensation refused (the profile is on hold), retrying in")
               for h in saga["history"])
    assert cluster.hosts["profile"].state_of(user_id) is None
    assert is_gone(cluster, user_id)
