"""PATCH ``replace`` (RFC 7644 §3.5.2.3), applied by the pure function of ``scim/patch.py``."""

from __future__ import annotations

import pytest

from scimsaga.scim.errors import InvalidValue, Mutability, NoTarget
from tests.unit.scim.patching import ENTERPRISE_USER_URN, LENIENT, group, patched, user

BJENSEN = "2819c223-7f76-453a-919d-413861904646"
JSMITH = "08e1d05d-121c-4561-8b96-473d93df9210"
WORK = {
    "type": "work",
    "streetAddress": "100 Universal City Plaza",
    "locality": "Hollywood",
    "region": "CA",
    "postalCode": "91608",
    "country": "USA",
    "primary": True,
}

# RFC 7644 §3.5.2.3: replace every member.
RFC7644_3_5_2_3_REPLACE_MEMBERS = {
    "op": "replace",
    "path": "members",
    "value": [
        {"display": "Babs Jensen", "$ref": f"https://example.com/v2/Users/{BJENSEN}", "value": BJENSEN},
        {"display": "James Smith", "$ref": f"https://example.com/v2/Users/{JSMITH}", "value": JSMITH},
    ],
}
# RFC 7644 §3.5.2.3: replace the work address.
RFC7644_3_5_2_3_REPLACE_WORK_ADDRESS = {
    "op": "replace",
    "path": 'addresses[type eq "work"]',
    "value": {
        "type": "work",
        "streetAddress": "911 Universal City Plaza",
        "locality": "Hollywood",
        "region": "CA",
        "postalCode": "91608",
        "country": "US",
        "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
        "primary": True,
    },
}
# RFC 7644 §3.5.2.3: replace one sub-attribute of the work address.
RFC7644_3_5_2_3_REPLACE_STREET = {
    "op": "replace",
    "path": 'addresses[type eq "work"].streetAddress',
    "value": "1010 Broadway Ave",
}
# RFC 7644 §3.5.2.3: no path, the value holds the attributes to replace.
RFC7644_3_5_2_3_REPLACE_WITHOUT_PATH = {
    "op": "replace",
    "value": {
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        "nickname": "Babs",
    },
}


def test_rfc7644_3_5_2_3_every_member_is_replaced():
    result = patched(group("Tour Guides", "someone-else"), RFC7644_3_5_2_3_REPLACE_MEMBERS)

    assert [m["value"] for m in result["members"]] == [BJENSEN, JSMITH]


def test_rfc7644_3_5_2_3_the_matching_address_takes_the_value():
    babs = user(addresses=[WORK, {"type": "home", "locality": "Pasadena"}])

    result = patched(babs, RFC7644_3_5_2_3_REPLACE_WORK_ADDRESS)

    assert result["addresses"][0]["streetAddress"] == "911 Universal City Plaza"
    assert result["addresses"][0]["country"] == "US"
    assert result["addresses"][1] == {"type": "home", "locality": "Pasadena"}


def test_rfc7644_3_5_2_3_one_sub_attribute_of_the_matching_address_is_replaced():
    babs = user(addresses=[WORK])

    result = patched(babs, RFC7644_3_5_2_3_REPLACE_STREET)

    assert result["addresses"] == [{**WORK, "streetAddress": "1010 Broadway Ave"}]


def test_rfc7644_3_5_2_3_without_path_each_attribute_given_is_replaced():
    babs = user(emails=[{"value": "old@example.com", "type": "other"}], nickName="B")

    result = patched(babs, RFC7644_3_5_2_3_REPLACE_WITHOUT_PATH)

    assert result["nickName"] == "Babs"
    assert result["emails"] == RFC7644_3_5_2_3_REPLACE_WITHOUT_PATH["value"]["emails"]


def test_replacing_a_complex_value_leaves_sub_attributes_not_given():
    babs = user(name={"givenName": "Barbara", "familyName": "Jensen"})

    result = patched(babs, {"op": "replace", "path": "name", "value": {"givenName": "Babs"}})

    assert result["name"] == {"givenName": "Babs", "familyName": "Jensen"}


def test_a_null_sub_attribute_in_a_complex_value_unassigns_it():
    babs = user(name={"givenName": "Barbara", "familyName": "Jensen"})

    result = patched(babs, {"op": "replace", "path": "name", "value": {"givenName": None}})

    assert result["name"] == {"familyName": "Jensen"}


def test_replacing_with_null_or_an_empty_list_unassigns():
    babs = user(title="Guide", emails=[{"value": "babs@example.com"}])

    result = patched(
        babs,
        {"op": "replace", "path": "title", "value": None},
        {"op": "replace", "path": "emails", "value": []},
    )

    assert "title" not in result
    assert "emails" not in result


def test_a_required_attribute_cannot_be_replaced_with_null():
    with pytest.raises(InvalidValue, match="'userName' is required"):
        patched(user(), {"op": "replace", "path": "userName", "value": None})


def test_a_required_attribute_cannot_be_replaced_with_an_empty_string():
    with pytest.raises(InvalidValue, match="userName"):
        patched(user(), {"op": "replace", "path": "userName", "value": ""})


def test_replacing_an_attribute_that_is_not_there_adds_it():
    assert patched(user(), {"op": "replace", "path": "title", "value": "Guide"})["title"] == "Guide"


def test_a_filter_that_matches_nothing_is_no_target_in_strict_mode():
    with pytest.raises(NoTarget):
        patched(
            user(addresses=[WORK]),
            {"op": "replace", "path": 'addresses[type eq "home"].locality', "value": "Pasadena"},
        )


def test_a_filter_that_is_not_equality_matches_nothing_and_creates_nothing():
    with pytest.raises(NoTarget):
        patched(
            user(),
            {"op": "replace", "path": 'emails[value co "x"].display', "value": "X"},
            tolerances=LENIENT,
        )


def test_setting_primary_on_a_match_clears_it_on_the_other_values():
    babs = user(
        emails=[
            {"value": "babs@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ]
    )

    result = patched(babs, {"op": "replace", "path": 'emails[type eq "home"].primary', "value": True})

    assert [e.get("primary") for e in result["emails"]] == [False, True]


def test_one_operation_may_not_make_two_values_primary():
    babs = user(
        emails=[{"value": "a@example.com", "type": "work"}, {"value": "b@example.com", "type": "work"}]
    )

    with pytest.raises(InvalidValue, match="primary"):
        patched(babs, {"op": "replace", "path": 'emails[type eq "work"].primary', "value": True})


def test_a_member_id_is_immutable():
    with pytest.raises(Mutability, match="immutable"):
        patched(
            group("Tour Guides", BJENSEN),
            {"op": "replace", "path": f'members[value eq "{BJENSEN}"].value', "value": JSMITH},
        )


def test_a_members_display_name_may_change():
    result = patched(
        group("Tour Guides", BJENSEN),
        {"op": "replace", "path": f'members[value eq "{BJENSEN}"].display', "value": "Babs"},
    )

    assert result["members"] == [{"value": BJENSEN, "type": "User", "display": "Babs"}]


def test_without_path_keys_may_be_dotted_urn_qualified_or_value_paths():
    babs = user(name={"givenName": "Barbara"}, emails=[{"value": "old@example.com", "type": "work"}])

    result = patched(
        babs,
        {
            "op": "replace",
            "value": {
                "displayName": "Babs Jensen",
                "name.familyName": "Jensen",
                "urn:ietf:params:scim:schemas:core:2.0:User:title": "Tour Guide",
                f"{ENTERPRISE_USER_URN}:employeeNumber": "701984",
                ENTERPRISE_USER_URN: {"department": "Tours"},
                'emails[type eq "work"].value': "bjensen@example.com",
            },
        },
    )

    assert result["name"] == {"givenName": "Barbara", "familyName": "Jensen"}
    assert (result["displayName"], result["title"]) == ("Babs Jensen", "Tour Guide")
    assert result[ENTERPRISE_USER_URN] == {"employeeNumber": "701984", "department": "Tours"}
    assert result["emails"] == [{"value": "bjensen@example.com", "type": "work"}]


def test_attribute_names_in_paths_are_case_insensitive():
    result = patched(
        user(),
        {"op": "replace", "path": "NAME.GIVENNAME", "value": "Babs"},
        {"op": "replace", "path": "DisplayName", "value": "B"},
    )

    assert (result["name"], result["displayName"]) == ({"givenName": "Babs"}, "B")


def test_a_value_of_the_wrong_type_is_refused():
    with pytest.raises(InvalidValue, match="operation 2"):
        patched(
            user(),
            {"op": "replace", "path": "title", "value": "ok"},
            {"op": "replace", "path": "emails", "value": "babs@example.com"},
        )


def test_replacing_a_whole_extension_with_null_removes_it():
    babs = user(**{ENTERPRISE_USER_URN: {"department": "Tours"}})

    with_path = patched(babs, {"op": "replace", "path": ENTERPRISE_USER_URN, "value": None})
    without = patched(babs, {"op": "replace", "value": {ENTERPRISE_USER_URN: None, "title": "Guide"}})

    assert ENTERPRISE_USER_URN not in with_path
    assert ENTERPRISE_USER_URN not in without
    assert without["title"] == "Guide"
