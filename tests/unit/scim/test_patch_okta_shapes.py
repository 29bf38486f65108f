"""What Okta sends in PATCH requests, as its "SCIM 2.0 Protocol Reference" (developer.okta.com,
docs/reference/scim/scim-20) shows it; fixtures are named ``OKTA_SCIM20_*`` after its sections."""

from __future__ import annotations

import pytest

from scimsaga.scim.errors import Mutability
from tests.unit.scim.patching import LENIENT, STRICT, group, patched, user

GROUP_ID = "abf4dd94-a4c0-4f67-89c9-76b03340cb9b"
LEAVING = "89bb1940-b905-4575-9e7f-6f887cfb368e"
JOINING = "23a35c27-23d3-4c03-b4c5-6443c09e7173"

# "Update a specific User (PATCH)": deactivation.
OKTA_SCIM20_DEACTIVATE_USER = {"op": "replace", "value": {"active": False}}
# "Update a specific Group name": path-less replace whose value carries the group's read-only id.
OKTA_SCIM20_RENAME_GROUP = {"op": "replace", "value": {"id": GROUP_ID, "displayName": "Test SCIMv2"}}
# "Update specific Group membership": one request removes a member and adds another.
OKTA_SCIM20_MEMBERSHIP = [
    {"op": "remove", "path": f'members[value eq "{LEAVING}"]'},
    {"op": "add", "path": "members", "value": [{"value": JOINING, "display": "test.user@okta.local"}]},
]
# "Update specific Group membership": a full push of the members with replace.
OKTA_SCIM20_FULL_PUSH = {
    "op": "replace",
    "path": "members",
    "value": [
        {"value": JOINING, "display": "test.user@okta.local"},
        {"value": LEAVING, "display": "test.user@okta.local"},
    ],
}
# "Update a specific User (PATCH)" lists password sync among the PATCH updates; its shape is the
# deactivation's with the password as the value.
OKTA_SCIM20_SYNC_PASSWORD = {"op": "replace", "value": {"password": "1mz050nq"}}


def okta_user() -> dict:
    return user(
        "test.user@okta.local",
        name={"givenName": "Test", "familyName": "User"},
        emails=[{"primary": True, "value": "test.user@okta.local", "type": "work"}],
        displayName="Test User",
        locale="en-US",
        externalId="00ujl29u0le5T6Aj10h7",
        active=True,
    )


def test_deactivation_sets_active_to_false_and_keeps_everything_else():
    result = patched(okta_user(), OKTA_SCIM20_DEACTIVATE_USER, tolerances=STRICT)

    assert result == {**okta_user(), "active": False}


def test_a_group_is_renamed_by_a_value_that_carries_its_own_id():
    result = patched(group("Old name"), OKTA_SCIM20_RENAME_GROUP, tolerances=LENIENT, resource_id=GROUP_ID)

    assert result["displayName"] == "Test SCIMv2"


def test_strict_mode_refuses_the_read_only_id_in_the_value():
    with pytest.raises(Mutability):
        patched(group("Old name"), OKTA_SCIM20_RENAME_GROUP, tolerances=STRICT, resource_id=GROUP_ID)


def test_a_member_leaves_and_another_joins_in_one_request():
    result = patched(group("Test SCIMv2", LEAVING, "stays"), *OKTA_SCIM20_MEMBERSHIP, tolerances=STRICT)

    assert [m["value"] for m in result["members"]] == ["stays", JOINING]


def test_a_full_push_replaces_every_member():
    result = patched(group("Test SCIMv2", "someone"), OKTA_SCIM20_FULL_PUSH, tolerances=STRICT)

    assert [m["value"] for m in result["members"]] == [JOINING, LEAVING]


def test_a_password_sync_carries_the_password_to_the_store():
    assert patched(okta_user(), OKTA_SCIM20_SYNC_PASSWORD, tolerances=STRICT)["password"] == "1mz050nq"
