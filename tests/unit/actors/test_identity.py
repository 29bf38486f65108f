"""Identity: the authoritative user store, its events, and what the saga tells it."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from scimsaga.actors.identity import IdentityHost, IdentityService
from scimsaga.bus.envelope import Envelope, new_message
from scimsaga.bus.outbox import Record
from scimsaga.scim.errors import NotFound, Uniqueness
from scimsaga.scim.listing import ListQuery
from scimsaga.scim.resource import parse_resource
from scimsaga.scim.schema import ENTERPRISE_USER_URN, PROVISIONING_URN, USER, USER_SCHEMA_URN
from scimsaga.settings import Settings
from tests.polling import wait_until

AT = "2026-01-31T09:30:00.000Z"
STEPS = ("profile", "access", "billing")


class SequentialIds:
    """The id generator: u1, u2, ..."""

    def __init__(self) -> None:
        self._numbers = itertools.count(1)

    def __call__(self) -> str:
        return f"u{next(self._numbers)}"


class RecordingPublisher:
    """The relay's publish function, keeping what the broker would have been handed."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self._lock = threading.Lock()

    def __call__(self, records: Sequence[Record]) -> None:
        with self._lock:
            self.records.extend(records)

    def types(self) -> list[str]:
        with self._lock:
            return [Envelope.from_json(body).type for _, body in self.records]


def make_identity(settings: Settings, clock, publish=None) -> IdentityHost:
    service = IdentityService(settings, clock=clock, ids=SequentialIds(), provisioned_by=STEPS)
    return IdentityHost(service, settings, publish)


@pytest.fixture
def identity(settings, clock):
    host = make_identity(settings, clock)
    yield host
    host.stop()


def user(user_name: str = "bjensen", **attributes: Any) -> dict[str, Any]:
    """A create request as the protocol layer hands it over."""
    return parse_resource(USER, {"schemas": [USER_SCHEMA_URN], "userName": user_name, **attributes})


def identity_command(type: str, user_id: str, services: list[dict[str, Any]] | None = None,
                     reason: str | None = None) -> Envelope:
    """A command the saga coordinator sends identity."""
    return new_message(type, user_id, {
        "saga_id": "saga-1",
        "services": services if services is not None else [{"name": s, "state": "done"} for s in STEPS],
        "reason": reason,
        "idempotency_key": f"saga-1/{type}",
    }, at=AT, correlation_id="request-1")


def users_total(identity: IdentityHost) -> int:
    return identity.query_users(ListQuery(count=0)).total


# --- SCIM writes and reads ------------------------------------------------------------------------


def test_a_new_user_is_pending_and_reads_inactive(identity, clock):
    created = identity.create_user(user(active=True), "request-1")

    assert created.id == "u1"
    assert (created.version, created.created, created.last_modified) == (1, clock(), clock())
    assert created.attributes["active"] is False
    assert created.attributes["schemas"] == [USER_SCHEMA_URN, PROVISIONING_URN]
    assert created.attributes[PROVISIONING_URN] == {
        "state": "pending",
        "services": [{"name": "profile", "state": "pending"}, {"name": "access", "state": "pending"},
                     {"name": "billing", "state": "pending"}],
    }
    assert identity.get_user("u1") == created
    assert identity.status()["users"] == {"pending": 1}


def test_create_queues_user_created_with_a_snapshot_in_the_same_transaction(identity, queued):
    identity.create_user(user(displayName="Babs"), "request-1")

    [(topic, created)] = queued(identity)
    assert (topic, created.type, created.key) == ("identity", "identity.UserCreated", "u1")
    assert created.correlation_id == "request-1"
    assert created.payload["user"]["id"] == "u1"
    assert created.payload["user"]["userName"] == "bjensen"
    assert created.payload["user"]["displayName"] == "Babs"
    assert created.payload["user"]["meta"] == {"version": 1}


def test_the_password_is_stored_only_as_a_salted_hash(identity, queued):
    identity.create_user(user(password="t1meMa$heen"), "request-1")

    assert "password" not in identity.get_user("u1").attributes
    resource, password_hash = identity.conn.execute(
        "SELECT resource, password_hash FROM users WHERE id = 'u1'").fetchone()
    assert "t1meMa$heen" not in resource
    assert "t1meMa$heen" not in password_hash
    assert password_hash.startswith("scrypt$16384$8$1$")
    assert "password" not in queued(identity)[0][1].payload["user"]


def test_the_provisioning_schema_is_listed_once_even_when_the_client_sent_it(identity, queued):
    sent = parse_resource(USER, {"schemas": [USER_SCHEMA_URN, PROVISIONING_URN], "userName": "bjensen",
                                 PROVISIONING_URN: {"state": "active"}})

    created = identity.create_user(sent, "request-1")

    assert created.attributes["schemas"] == [USER_SCHEMA_URN, PROVISIONING_URN]
    assert created.attributes[PROVISIONING_URN]["state"] == "pending"
    assert queued(identity)[0][1].payload["user"]["schemas"] == [USER_SCHEMA_URN, PROVISIONING_URN]


@pytest.mark.parametrize(("taken", "wanted"), [
    ("bjensen", "bjensen"), ("bjensen", "BJensen"), ("BJENSEN@EXAMPLE.COM", "bjensen@example.com"),
    ("strasse", "STRAßE"),
])
def test_user_name_is_unique_without_regard_to_case(identity, queued, taken, wanted):
    identity.create_user(user(taken), "request-1")

    with pytest.raises(Uniqueness) as raised:
        identity.create_user(user(wanted), "request-2")

    assert wanted in raised.value.detail
    assert users_total(identity) == 1
    assert len(queued(identity)) == 1  # the refused create queued nothing


def test_an_unknown_user_is_not_found(identity):
    with pytest.raises(NotFound, match="nobody"):
        identity.get_user("nobody")
    with pytest.raises(NotFound):
        identity.delete_user("nobody", "request-1")


def test_query_filters_in_sql_and_pages_in_a_stable_order(identity):
    for name in ("carol", "alice", "bob"):
        identity.create_user(user(name, emails=[{"value": f"{name}@Example.com"}]), "request")

    by_name = identity.query_users(ListQuery(filter='userName eq "ALICE"'))
    by_email = identity.query_users(ListQuery(filter='emails.value eq "bob@example.COM"'))
    second_page = identity.query_users(ListQuery(start_index=2, count=1))
    count_only = identity.query_users(ListQuery(count=0))

    assert [u.attributes["userName"] for u in by_name.resources] == ["alice"]
    assert [u.attributes["userName"] for u in by_email.resources] == ["bob"]
    assert (second_page.total, second_page.start_index) == (3, 2)
    assert [u.id for u in second_page.resources] == ["u2"]
    assert (count_only.total, list(count_only.resources)) == (3, [])


def test_delete_removes_the_user_and_queues_user_deleted(identity, queued):
    identity.create_user(user(), "request-1")

    identity.delete_user("u1", "request-2")

    with pytest.raises(NotFound):
        identity.get_user("u1")
    topic, deleted = queued(identity)[-1]
    assert (topic, deleted.type, deleted.key, deleted.correlation_id) == (
        "identity", "identity.UserDeleted", "u1", "request-2")
    assert deleted.payload["user"]["userName"] == "bjensen"
    assert identity.create_user(user("BJENSEN"), "request-3").id == "u2"  # the name is free again


def test_the_relay_hands_queued_events_to_the_publisher(settings, clock):
    publisher = RecordingPublisher()
    host = make_identity(settings, clock, publish=publisher)
    try:
        host.create_user(user(), "request-1")
        host.delete_user("u1", "request-2")

        wait_until(lambda: publisher.types() == ["identity.UserCreated", "identity.UserDeleted"], timeout=5.0)
        wait_until(lambda: host.status()["outbox"] == 0, timeout=5.0)
    finally:
        host.stop()


# --- what the saga tells identity -------------------------------------------------------------


def test_record_provisioning_shows_progress_and_keeps_the_user_pending(identity, deliver, queued):
    identity.create_user(user(), "request-1")
    progress = [{"name": "profile", "state": "done", "reference": "u1"},
                {"name": "access", "state": "pending"}, {"name": "billing", "state": "pending"}]

    report = deliver(identity, identity_command("identity.RecordProvisioning", "u1", progress))

    assert report.acked == [1]
    stored = identity.get_user("u1")
    assert stored.attributes[PROVISIONING_URN] == {"state": "pending", "services": progress}
    assert stored.attributes["active"] is False
    assert (stored.version, stored.revision) == (1, 1)  # the provider's change: a revision, not a version
    assert len(queued(identity)) == 1  # only UserCreated: progress is not an event


def test_activate_makes_the_user_active_and_says_so(identity, deliver, queued):
    identity.create_user(user(), "request-1")
    command = identity_command("identity.ActivateUser", "u1")

    deliver(identity, command)

    stored = identity.get_user("u1")
    assert stored.attributes["active"] is True
    assert stored.attributes[PROVISIONING_URN]["state"] == "active"
    assert stored.attributes[PROVISIONING_URN]["services"] == command.payload["services"]
    assert identity.status()["users"] == {"active": 1}
    topic, activated = queued(identity)[-1]
    assert (topic, activated.type, activated.key) == ("identity", "identity.UserActivated", "u1")
    assert activated.payload == {"saga_id": "saga-1", "found": True}
    assert activated.causation_id == command.id


def test_a_user_the_client_created_inactive_stays_inactive_after_activation(identity, deliver):
    identity.create_user(user(active=False), "request-1")

    deliver(identity, identity_command("identity.ActivateUser", "u1"))

    assert identity.get_user("u1").attributes["active"] is False
    assert identity.get_user("u1").attributes[PROVISIONING_URN]["state"] == "active"


def test_activating_a_user_deleted_meanwhile_finds_nothing(identity, deliver, queued):
    deliver(identity, identity_command("identity.ActivateUser", "gone"))

    assert queued(identity)[-1][1].payload["found"] is False


def test_compensate_deletes_the_user_by_default(identity, deliver, queued):
    identity.create_user(user(), "request-1")

    deliver(identity, identity_command("identity.CompensateUser", "u1", reason="billing: no"))

    with pytest.raises(NotFound):
        identity.get_user("u1")
    compensated = queued(identity)[-1][1]
    assert compensated.type == "identity.UserCompensated"
    assert compensated.payload == {"saga_id": "saga-1", "deleted": True, "reason": "billing: no"}
    assert [t for t, e in queued(identity) if e.type == "identity.UserDeleted"] == []


def test_compensate_keeps_the_user_deactivated_when_so_configured(tmp_path, clock, deliver, queued):
    settings = Settings(data_dir=tmp_path / "deactivate", on_failure="deactivate")
    identity = make_identity(settings, clock)
    identity.create_user(user(active=True), "request-1")
    services = [{"name": "profile", "state": "compensated"}, {"name": "access", "state": "compensated"},
                {"name": "billing", "state": "failed", "error": "no"}]

    deliver(identity, identity_command("identity.CompensateUser", "u1", services, reason="billing: no"))

    stored = identity.get_user("u1")
    assert stored.attributes["active"] is False
    assert stored.attributes[PROVISIONING_URN] == {"state": "failed", "services": services}
    assert identity.status()["users"] == {"failed": 1}
    assert queued(identity)[-1][1].payload["deleted"] is False


def test_state_of_is_the_snapshot_of_the_user_or_none(identity):
    identity.create_user(user(), "request-1")

    assert identity.state_of("u1")["userName"] == "bjensen"
    assert identity.state_of("u1")["meta"] == {"version": 1}
    assert identity.state_of("nobody") is None


def test_the_enterprise_extension_is_kept_for_billing_to_read(identity, queued):
    identity.create_user(user(**{ENTERPRISE_USER_URN: {"costCenter": "CC-4130"}}), "request-1")

    snapshot = queued(identity)[0][1].payload["user"]
    assert snapshot[ENTERPRISE_USER_URN] == {"costCenter": "CC-4130"}
    assert snapshot["schemas"] == [USER_SCHEMA_URN, ENTERPRISE_USER_URN, PROVISIONING_URN]
