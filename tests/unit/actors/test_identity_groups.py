"""Identity's groups, replacements and conditional writes (RFC 7643 §4.2, RFC 7644 §3.5.1, §3.6, §3.14),
and the events each write queues in its own transaction."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from scimsaga.actors.identity import IdentityHost, IdentityService
from scimsaga.scim.errors import InvalidValue, NotFound, PreconditionFailed, Uniqueness
from scimsaga.scim.listing import ListQuery
from scimsaga.scim.resource import parse_resource
from scimsaga.scim.schema import GROUP, GROUP_SCHEMA_URN, PROVISIONING_URN, USER, USER_SCHEMA_URN


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


def group(display_name: str, *member_ids: str, **attributes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [GROUP_SCHEMA_URN], "displayName": display_name, **attributes}
    if member_ids:
        body["members"] = [{"value": member_id} for member_id in member_ids]
    return parse_resource(GROUP, body)


def events(identity: IdentityHost, queued) -> list[tuple[str, dict[str, Any]]]:
    return [(envelope.type, envelope.payload) for _, envelope in queued(identity)]


def test_a_group_with_members_fills_in_their_type_and_queues_both_events(identity, queued):
    ada = identity.create("User", user("ada"), "r1")

    created = identity.create("Group", group("Admins", ada.id), "r2")

    assert created.attributes["members"] == [{"value": ada.id, "type": "User"}]
    assert created.version == 1
    assert events(identity, queued)[1:] == [
        (
            "identity.GroupCreated",
            {"group": {"id": created.id, **created.attributes, "meta": {"version": 1}}},
        ),
        (
            "identity.GroupMembershipChanged",
            {"group_id": created.id, "display_name": "Admins", "added": [ada.id], "removed": []},
        ),
    ]


def test_a_users_groups_are_computed_from_memberships(identity):
    ada = identity.create("User", user("ada"), "r1")
    admins = identity.create("Group", group("Admins", ada.id), "r2")
    identity.create("Group", group("Staff", ada.id), "r3")

    groups = identity.get("User", ada.id).attributes["groups"]

    assert groups[0] == {"value": admins.id, "display": "Admins", "type": "direct"}
    assert [g["display"] for g in groups] == ["Admins", "Staff"]


def test_a_group_can_hold_a_group_but_not_itself_nor_strangers(identity):
    inner = identity.create("Group", group("Inner"), "r1")

    outer = identity.create("Group", group("Outer", inner.id), "r2")

    assert outer.attributes["members"] == [{"value": inner.id, "type": "Group"}]
    with pytest.raises(InvalidValue, match="no User or Group has the id 'ghost'"):
        identity.create("Group", group("Haunted", "ghost"), "r3")
    with pytest.raises(InvalidValue, match="member of itself"):
        identity.replace("Group", outer.id, group("Outer", outer.id), "r4")


def test_display_names_are_unique_case_insensitively(identity):
    identity.create("Group", group("Admins"), "r1")

    with pytest.raises(Uniqueness):
        identity.create("Group", group("ADMINS"), "r2")


def test_deleting_a_user_removes_its_memberships_and_says_so(identity, queued):
    ada = identity.create("User", user("ada"), "r1")
    bob = identity.create("User", user("bob"), "r2")
    admins = identity.create("Group", group("Admins", ada.id, bob.id), "r3")

    identity.delete("User", ada.id, "r4")

    after = identity.get("Group", admins.id)
    assert after.attributes["members"] == [{"value": bob.id, "type": "User"}]
    assert after.version == 2
    changed, deleted = events(identity, queued)[-2:]
    assert changed == (
        "identity.GroupMembershipChanged",
        {"group_id": admins.id, "display_name": "Admins", "added": [], "removed": [ada.id]},
    )
    assert deleted[0] == "identity.UserDeleted"
    assert deleted[1]["user"]["id"] == ada.id
    assert deleted[1]["user"]["groups"] == [{"value": admins.id, "display": "Admins", "type": "direct"}]
    assert identity.query("Group", ListQuery(filter=f'members.value eq "{ada.id}"')).total == 0


def test_replacing_a_group_reports_who_joined_and_who_left(identity, queued):
    ada, bob, cy = (identity.create("User", user(name), "r") for name in ("ada", "bob", "cy"))
    admins = identity.create("Group", group("Admins", ada.id, bob.id), "r")

    replaced = identity.replace("Group", admins.id, group("Admins", bob.id, cy.id), "r5")

    assert replaced.version == 2
    assert [m["value"] for m in replaced.attributes["members"]] == [bob.id, cy.id]
    changed = events(identity, queued)[-1]
    assert changed == (
        "identity.GroupMembershipChanged",
        {"group_id": admins.id, "display_name": "Admins", "added": [cy.id], "removed": [ada.id]},
    )
    assert "groups" not in identity.get("User", ada.id).attributes


def test_replacing_a_user_keeps_its_provisioning_and_queues_user_updated(identity, queued):
    ada = identity.create("User", user("ada", displayName="Ada"), "r1")

    replaced = identity.replace("User", ada.id, user("ada", title="Countess"), "r2")

    assert "displayName" not in replaced.attributes
    assert replaced.attributes["title"] == "Countess"
    assert replaced.attributes[PROVISIONING_URN]["state"] == "pending"
    assert replaced.attributes["schemas"] == [USER_SCHEMA_URN, PROVISIONING_URN]
    kind, payload = events(identity, queued)[-1]
    assert kind == "identity.UserUpdated"
    assert payload["previous_version"] == 1
    assert payload["user"]["meta"] == {"version": 2}


def test_a_new_user_name_must_still_be_free(identity):
    identity.create("User", user("ada"), "r1")
    bob = identity.create("User", user("bob"), "r2")

    with pytest.raises(Uniqueness):
        identity.replace("User", bob.id, user("ADA"), "r3")
    assert identity.replace("User", bob.id, user("BOB"), "r4").attributes["userName"] == "BOB"


def test_if_match_guards_replace_and_delete(identity, queued):
    ada = identity.create("User", user("ada"), "r1")
    before = len(queued(identity))

    with pytest.raises(PreconditionFailed):
        identity.replace("User", ada.id, user("ada2"), "r2", if_match='W/"7"')
    with pytest.raises(PreconditionFailed):
        identity.delete("User", ada.id, "r3", if_match='"7"')

    assert len(queued(identity)) == before
    assert identity.get("User", ada.id).attributes["userName"] == "ada"
    identity.replace("User", ada.id, user("ada2"), "r4", if_match='W/"1"')
    identity.delete("User", ada.id, "r5", if_match="*")
    with pytest.raises(NotFound):
        identity.get("User", ada.id)


def test_a_password_in_a_replacement_changes_it_and_its_absence_keeps_it(identity):
    ada = identity.create("User", user("ada", password="first-secret"), "r1")
    first = identity.conn.execute("SELECT password_hash FROM users WHERE id = ?", (ada.id,)).fetchone()[0]

    identity.replace("User", ada.id, user("ada"), "r2")
    kept = identity.conn.execute("SELECT password_hash FROM users WHERE id = ?", (ada.id,)).fetchone()[0]
    identity.replace("User", ada.id, user("ada", password="second-secret"), "r3")
    changed = identity.conn.execute("SELECT password_hash FROM users WHERE id = ?", (ada.id,)).fetchone()[0]

    assert kept == first
    assert changed != first


def test_sorting_and_paging_in_the_store(identity):
    for name in ("cy", "Ada", "bob"):
        identity.create("User", user(name), "r")

    ascending = identity.query("User", ListQuery(sort_by="userName"))
    descending = identity.query(
        "User", ListQuery(sort_by="username", sort_order="descending", count=2, start_index=2)
    )

    assert [u.attributes["userName"] for u in ascending.resources] == ["Ada", "bob", "cy"]
    assert [u.attributes["userName"] for u in descending.resources] == ["bob", "Ada"]
    assert descending.total == 3


def test_an_unknown_kind_is_not_found(identity):
    with pytest.raises(NotFound):
        identity.get("Printer", "x")
    with pytest.raises(NotFound):
        identity.create("Printer", user("ada"), "r1")
