"""Identity's PATCH write path (RFC 7644 §3.5.2): applied to what the IdP wrote, stored the way a PUT is
stored, in one transaction with its events; memberships change by the difference only."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from scimsaga.actors.identity import IdentityHost, IdentityService
from scimsaga.scim.errors import InvalidValue, NoTarget, PreconditionFailed, Uniqueness
from scimsaga.scim.listing import ListQuery
from scimsaga.scim.patch_request import PATCH_OP_SCHEMA, parse_patch
from scimsaga.scim.resource import parse_resource
from scimsaga.scim.schema import GROUP, GROUP_SCHEMA_URN, PROVISIONING_URN, USER, USER_SCHEMA_URN
from scimsaga.scim.tolerance import LENIENT
from tests.polling import wait_until
from tests.unit.actors.test_identity import identity_command

PUT_EVENT_FIELDS = {
    "user",
    "previous_version",
    "requested_active",
    "previous_requested_active",
    "previous_state",
}


class Ids:
    def __init__(self) -> None:
        self._numbers = itertools.count(1)

    def __call__(self) -> str:
        return f"id{next(self._numbers)}"


@pytest.fixture
def identity(settings, clock):
    host = IdentityHost(
        IdentityService(settings, clock=clock, ids=Ids(), provisioned_by=("billing",)), settings, None
    )
    yield host
    host.stop()


def user(user_name: str, **attributes: Any) -> dict[str, Any]:
    return parse_resource(USER, {"schemas": [USER_SCHEMA_URN], "userName": user_name, **attributes})


def group(display_name: str, *member_ids: str) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [GROUP_SCHEMA_URN], "displayName": display_name}
    if member_ids:
        body["members"] = [{"value": member_id} for member_id in member_ids]
    return parse_resource(GROUP, body)


def ops(*operations: dict[str, Any], kind=USER):
    return parse_patch(kind, {"schemas": [PATCH_OP_SCHEMA], "Operations": list(operations)}, LENIENT)


def events(identity: IdentityHost, queued) -> list[tuple[str, dict[str, Any]]]:
    return [(envelope.type, envelope.payload) for _, envelope in queued(identity)]


def test_a_patched_user_is_stored_and_announced_as_a_put_would_announce_it(identity, queued):
    ada = identity.create("User", user("ada", displayName="Ada"), "r1")
    identity.replace("User", ada.id, user("ada", displayName="Ada L"), "r2")
    _, put_payload = events(identity, queued)[-1]

    patched = identity.patch(
        "User", ada.id, ops({"op": "replace", "path": "title", "value": "Countess"}), "r3"
    )

    kind, payload = events(identity, queued)[-1]
    assert kind == "identity.UserUpdated"
    assert set(payload) == set(put_payload) == PUT_EVENT_FIELDS
    assert (payload["previous_version"], payload["user"]["meta"]) == (2, {"version": 3})
    assert (payload["requested_active"], payload["previous_requested_active"], payload["previous_state"]) == (
        True,
        True,
        "pending",
    )
    assert patched.version == 3
    assert (patched.attributes["title"], patched.attributes["displayName"]) == ("Countess", "Ada L")
    assert patched.attributes[PROVISIONING_URN]["state"] == "pending"


def test_patching_active_to_false_asks_for_deactivation(identity, deliver, queued):
    ada = identity.create("User", user("ada"), "r1")
    deliver(
        identity, identity_command("identity.ActivateUser", ada.id, [{"name": "billing", "state": "done"}])
    )

    patched = identity.patch("User", ada.id, ops({"op": "Replace", "path": "active", "value": "False"}), "r2")

    _, payload = events(identity, queued)[-1]
    assert (payload["requested_active"], payload["previous_requested_active"], payload["previous_state"]) == (
        False,
        True,
        "active",
    )
    assert patched.attributes["active"] is False


def test_the_operations_see_the_active_the_idp_asked_for_not_the_pending_one(identity, deliver):
    ada = identity.create("User", user("ada"), "r1")  # pending: it reads active false

    identity.patch("User", ada.id, ops({"op": "replace", "path": "title", "value": "Countess"}), "r2")
    deliver(
        identity, identity_command("identity.ActivateUser", ada.id, [{"name": "billing", "state": "done"}])
    )

    assert identity.get("User", ada.id).attributes["active"] is True


def test_a_patch_that_changes_nothing_writes_nothing(identity, queued):
    ada = identity.create("User", user("ada", title="Countess"), "r1")
    before = len(queued(identity))

    same = identity.patch(
        "User",
        ada.id,
        ops({"op": "replace", "path": "title", "value": "Countess"}, {"op": "remove", "path": "nickName"}),
        "r2",
    )

    assert same.version == 1
    assert len(queued(identity)) == before


def test_a_failing_patch_changes_nothing_and_queues_nothing(identity, queued):
    identity.create("User", user("bob"), "r0")
    ada = identity.create("User", user("ada", title="Countess"), "r1")
    before = len(queued(identity))

    with pytest.raises(Uniqueness):
        identity.patch(
            "User",
            ada.id,
            ops(
                {"op": "replace", "path": "title", "value": "x"},
                {"op": "replace", "path": "userName", "value": "BOB"},
            ),
            "r2",
        )
    with pytest.raises(NoTarget):
        identity.patch(
            "User",
            ada.id,
            ops(
                {"op": "replace", "path": "title", "value": "x"},
                {"op": "replace", "path": 'emails[value co "x"].type', "value": "w"},
            ),
            "r3",
        )

    assert identity.get("User", ada.id).attributes["title"] == "Countess"
    assert len(queued(identity)) == before


def test_if_match_guards_a_patch(identity):
    ada = identity.create("User", user("ada"), "r1")

    with pytest.raises(PreconditionFailed):
        identity.patch("User", ada.id, ops({"op": "replace", "path": "title", "value": "x"}), "r2", 'W/"9"')
    assert (
        identity.patch(
            "User", ada.id, ops({"op": "replace", "path": "title", "value": "x"}), "r3", 'W/"1"'
        ).version
        == 2
    )


def test_a_patched_email_is_found_by_the_email_index(identity):
    ada = identity.create("User", user("ada", emails=[{"value": "ada@example.com", "type": "work"}]), "r1")

    identity.patch(
        "User",
        ada.id,
        ops({"op": "replace", "path": 'emails[type eq "work"].value', "value": "countess@example.com"}),
        "r2",
    )

    found = identity.query("User", ListQuery(filter='emails.value eq "COUNTESS@example.com"'))
    gone = identity.query("User", ListQuery(filter='emails.value eq "ada@example.com"'))
    assert ([r.id for r in found.resources], gone.total) == ([ada.id], 0)


def test_a_password_patched_in_is_hashed_and_kept(identity):
    ada = identity.create("User", user("ada", password="first"), "r1")
    first = identity.conn.execute("SELECT password_hash FROM users WHERE id = ?", (ada.id,)).fetchone()[0]

    identity.patch("User", ada.id, ops({"op": "replace", "value": {"password": "second"}}), "r2")
    identity.patch("User", ada.id, ops({"op": "replace", "path": "title", "value": "x"}), "r3")

    second = identity.conn.execute(
        "SELECT password_hash, resource FROM users WHERE id = ?", (ada.id,)
    ).fetchone()
    assert second[0] != first
    assert second[0].startswith("scrypt$")
    assert "second" not in second[1]


def test_members_joining_and_leaving_are_announced_exactly(identity, queued):
    ada, bob, cy = (identity.create("User", user(name), "r") for name in ("ada", "bob", "cy"))
    admins = identity.create("Group", group("Admins", ada.id, bob.id), "r")

    patched = identity.patch(
        "Group",
        admins.id,
        ops(
            {"op": "remove", "path": f'members[value eq "{ada.id}"]'},
            {"op": "add", "path": "members", "value": [{"value": cy.id}, {"value": bob.id}]},
            kind=GROUP,
        ),
        "r5",
    )

    assert [m["value"] for m in patched.attributes["members"]] == [bob.id, cy.id]
    assert patched.attributes["members"][1]["type"] == "User"
    (updated, _), changed = events(identity, queued)[-2:]
    assert updated == "identity.GroupUpdated"
    assert changed == (
        "identity.GroupMembershipChanged",
        {"group_id": admins.id, "display_name": "Admins", "added": [cy.id], "removed": [ada.id]},
    )
    assert [g["value"] for g in identity.get("User", cy.id).attributes["groups"]] == [admins.id]


def test_a_rename_alone_announces_no_membership_change(identity, queued):
    ada = identity.create("User", user("ada"), "r")
    admins = identity.create("Group", group("Admins", ada.id), "r")

    identity.patch(
        "Group", admins.id, ops({"op": "replace", "path": "displayName", "value": "Owners"}, kind=GROUP), "r"
    )

    assert [kind for kind, _ in events(identity, queued)[-1:]] == ["identity.GroupUpdated"]
    assert identity.get("User", ada.id).attributes["groups"][0]["display"] == "Owners"


def test_a_member_that_does_not_exist_is_refused(identity):
    admins = identity.create("Group", group("Admins"), "r")

    with pytest.raises(InvalidValue, match="no User or Group has the id 'ghost'"):
        identity.patch(
            "Group",
            admins.id,
            ops({"op": "add", "path": "members", "value": [{"value": "ghost"}]}, kind=GROUP),
            "r",
        )


def test_thousands_of_members_change_by_the_difference_only(identity, queued):
    """The membership table is written incrementally: adding 1,000 members to a group of 2,000 writes
    1,000 membership rows, not 3,000 (and removing 10 deletes 10)."""
    people = [f"p{n:05d}" for n in range(3000)]
    identity.conn.executemany(
        "INSERT INTO users (id, user_name_key, resource, state, created, last_modified, version) "
        "VALUES (?, ?, ?, 'active', 'c', 'c', 1)",
        [(p, p, f'{{"schemas": ["{USER_SCHEMA_URN}"], "userName": "{p}"}}') for p in people],
    )
    everyone = identity.create("Group", group("Everyone", *people[:2000]), "r")

    changes_before = identity.conn.total_changes
    identity.patch(
        "Group",
        everyone.id,
        ops({"op": "add", "path": "members", "value": [{"value": p} for p in people[2000:]]}, kind=GROUP),
        "r",
    )
    added_rows = identity.conn.total_changes - changes_before
    changes_before = identity.conn.total_changes
    identity.patch(
        "Group",
        everyone.id,
        ops(
            {"op": "remove", "path": "members[" + " or ".join(f'value eq "{p}"' for p in people[:10]) + "]"},
            kind=GROUP,
        ),
        "r",
    )
    removed_rows = identity.conn.total_changes - changes_before

    assert identity.query("Group", ListQuery(filter=f'members.value eq "{people[2999]}"')).total == 1
    members = identity.conn.execute(
        "SELECT count(*) FROM group_members WHERE group_id = ?", (everyone.id,)
    ).fetchone()[0]
    assert members == 2990
    # the membership rows plus a handful of others (the group row, the outbox rows)
    assert 1000 <= added_rows < 1010
    assert 10 <= removed_rows < 20
    _, changed = events(identity, queued)[-1]
    assert (changed["added"], len(changed["removed"])) == ([], 10)


@pytest.mark.parametrize("mode", ["orchestration", "choreography"])
def test_a_patch_to_active_false_deactivates_the_user_through_the_saga(local_cluster, mode):
    cluster = local_cluster(mode=mode)
    identity = cluster.identity()
    ada = identity.create("User", user("ada@example.com", emails=[{"value": "ada@example.com"}]), "r1")
    wait_until(lambda: identity.get("User", ada.id).attributes["active"], timeout=20, message="provisioned")

    identity.patch("User", ada.id, ops({"op": "replace", "value": {"active": False}}), "r2")

    def deactivated() -> bool:
        served = identity.get("User", ada.id).attributes
        return served[PROVISIONING_URN]["state"] == "deactivated"

    wait_until(deactivated, timeout=20, message="deactivated")
    assert identity.get("User", ada.id).attributes["active"] is False
    assert cluster.hosts["billing"].state_of(ada.id) is None
    assert cluster.hosts["access"].state_of(ada.id) is None
