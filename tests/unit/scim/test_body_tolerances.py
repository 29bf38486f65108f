"""POST and PUT bodies as real IdPs send them (``scim/tolerance.py``): read as meant with the tolerances
on, refused in strict mode where they are not RFC 7643/7644, and never read by dropping data.

Fixtures are named after their source: ``ENTRA_TUTORIAL_*`` from Microsoft's "Tutorial: Develop and
plan provisioning for a SCIM endpoint in Microsoft Entra ID", ``OKTA_SCIM20_*`` from Okta's "SCIM 2.0
Protocol Reference".
"""

from __future__ import annotations

import pytest

from scimsaga.scim.errors import InvalidSyntax, InvalidValue, ScimError
from scimsaga.scim.resource import parse_resource
from scimsaga.scim.schema import ENTERPRISE_USER_URN, GROUP, GROUP_SCHEMA_URN, USER, USER_SCHEMA_URN
from scimsaga.scim.tolerance import LENIENT, STRICT

# "Create User": meta and an empty roles list in the body.
ENTRA_TUTORIAL_CREATE_USER = {
    "schemas": [USER_SCHEMA_URN, ENTERPRISE_USER_URN],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
    "active": True,
    "emails": [{"primary": True, "type": "work", "value": "Test_User_11bb11bb@testuser.com"}],
    "meta": {"resourceType": "User"},
    "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
    "roles": [],
}
# "Create Group": a second schema URN (Entra's ADSCIM Group schema) and meta.
ENTRA_TUTORIAL_CREATE_GROUP = {
    "schemas": [GROUP_SCHEMA_URN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
    "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
    "displayName": "displayName",
    "meta": {"resourceType": "Group"},
}
# The tutorial's example schema: the enterprise manager as a bare id.
ENTRA_TUTORIAL_MANAGER_AS_ID = {
    "schemas": [USER_SCHEMA_URN, ENTERPRISE_USER_URN],
    "userName": "bjensen@testuser.com",
    ENTERPRISE_USER_URN: {"manager": "123456"},
}
# "Update a specific User (PUT)": the whole user as Okta read it, with id, meta and groups.
OKTA_SCIM20_PUT_USER = {
    "schemas": [USER_SCHEMA_URN],
    "id": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
    "userName": "test.user@okta.local",
    "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
    "emails": [
        {"primary": True, "value": "test.user@okta.local", "type": "work", "display": "test.user@okta.local"}
    ],
    "active": True,
    "groups": [],
    "meta": {"resourceType": "User"},
}


def test_entras_create_user_is_rfc_and_drops_only_meta_and_the_empty_list():
    stored = parse_resource(USER, ENTRA_TUTORIAL_CREATE_USER, STRICT)

    assert not {"meta", "roles"} & set(stored)
    assert stored["emails"] == ENTRA_TUTORIAL_CREATE_USER["emails"]


def test_entras_extra_group_schema_is_accepted_with_the_tolerance_only():
    stored = parse_resource(GROUP, ENTRA_TUTORIAL_CREATE_GROUP, LENIENT)

    assert stored["schemas"] == [GROUP_SCHEMA_URN]
    assert stored["displayName"] == "displayName"
    with pytest.raises(InvalidValue, match="unknown schema URN"):
        parse_resource(GROUP, ENTRA_TUTORIAL_CREATE_GROUP, STRICT)


def test_data_under_an_unknown_schema_is_refused_even_with_the_tolerance():
    body = {
        **ENTRA_TUTORIAL_CREATE_GROUP,
        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group": {"x": 1},
    }

    with pytest.raises(InvalidSyntax, match="unknown attribute"):
        parse_resource(GROUP, body, LENIENT)


def test_the_manager_given_as_an_id_is_read_as_its_value():
    stored = parse_resource(USER, ENTRA_TUTORIAL_MANAGER_AS_ID, LENIENT)

    assert stored[ENTERPRISE_USER_URN] == {"manager": {"value": "123456"}}
    with pytest.raises(InvalidValue, match="manager"):
        parse_resource(USER, ENTRA_TUTORIAL_MANAGER_AS_ID, STRICT)


def test_oktas_put_carries_read_only_id_meta_and_groups_which_the_rfc_ignores():
    stored = parse_resource(USER, OKTA_SCIM20_PUT_USER, STRICT)

    assert not {"id", "meta", "groups"} & set(stored)
    assert stored["name"]["middleName"] == "Excited"


@pytest.mark.parametrize(("spelled", "meant"), [("True", True), ("false", False), ("FALSE", False)])
def test_booleans_spelled_as_strings_are_read_as_booleans_with_the_tolerance(spelled, meant):
    body = {
        "schemas": [USER_SCHEMA_URN],
        "userName": "bjensen",
        "active": spelled,
        "emails": [{"value": "b@example.com", "primary": spelled}],
    }

    stored = parse_resource(USER, body, LENIENT)

    assert stored["active"] is meant
    assert stored["emails"][0]["primary"] is meant
    with pytest.raises(InvalidValue, match="active"):
        parse_resource(USER, body, STRICT)


def test_a_string_that_spells_no_boolean_is_still_refused():
    with pytest.raises(InvalidValue, match="active"):
        parse_resource(USER, {"schemas": [USER_SCHEMA_URN], "userName": "b", "active": "yes"}, LENIENT)


def test_one_complex_value_where_a_list_is_expected_is_a_list_of_one_with_the_tolerance():
    body = {
        "schemas": [USER_SCHEMA_URN],
        "userName": "bjensen",
        "emails": {"value": "b@example.com", "Type": "work"},
    }

    assert parse_resource(USER, body, LENIENT)["emails"] == [{"value": "b@example.com", "type": "work"}]
    with pytest.raises(InvalidValue, match="emails"):
        parse_resource(USER, body, STRICT)


def test_every_tolerance_is_off_in_strict_and_on_by_default():
    from dataclasses import fields

    assert all(getattr(LENIENT, f.name) is True for f in fields(LENIENT))
    assert all(getattr(STRICT, f.name) is False for f in fields(STRICT))


def test_a_scalar_where_a_list_is_expected_is_not_guessed_at():
    body = {"schemas": [USER_SCHEMA_URN], "userName": "bjensen", "emails": "b@example.com"}

    with pytest.raises(ScimError):
        parse_resource(USER, body, LENIENT)
