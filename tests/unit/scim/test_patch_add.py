"""PATCH ``add`` (RFC 7644 §3.5.2.1), applied by the pure function of ``scim/patch.py``."""

from __future__ import annotations

import copy

import pytest

from scimsaga.scim.errors import InvalidPath, InvalidValue, Mutability, NoTarget
from scimsaga.scim.schema import PROVISIONING_URN
from tests.unit.scim.patching import ENTERPRISE_USER_URN, LENIENT, group, patched, user

BJENSEN = "2819c223-7f76-453a-919d-413861904646"

# RFC 7644 §3.5.2.1, first example: add a member to a group.
RFC7644_3_5_2_1_ADD_MEMBER = {
    "op": "add",
    "path": "members",
    "value": [
        {"display": "Babs Jensen", "$ref": f"https://example.com/v2/Users/{BJENSEN}", "value": BJENSEN}
    ],
}

# RFC 7644 §3.5.2.1, second example: no path, the value holds the attributes to add ("nickname" in the
# RFC's own letter case).
RFC7644_3_5_2_1_ADD_WITHOUT_PATH = {
    "op": "add",
    "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}], "nickname": "Babs"},
}


def test_rfc7644_3_5_2_1_a_member_is_appended_to_the_group():
    tour_guides = group("Tour Guides", "existing-member")

    result = patched(tour_guides, RFC7644_3_5_2_1_ADD_MEMBER)

    assert [m["value"] for m in result["members"]] == ["existing-member", BJENSEN]
    assert result["members"][1]["display"] == "Babs Jensen"


def test_rfc7644_3_5_2_1_a_member_already_there_is_not_added_twice():
    tour_guides = group("Tour Guides", BJENSEN)

    result = patched(tour_guides, RFC7644_3_5_2_1_ADD_MEMBER)

    assert [m["value"] for m in result["members"]] == [BJENSEN]
    assert result["members"][0]["display"] == "Babs Jensen"  # what was sent is applied, not dropped


def test_rfc7644_3_5_2_1_without_path_the_value_holds_attributes_to_add():
    babs = user(emails=[{"value": "bjensen@example.com", "type": "work"}])

    result = patched(babs, RFC7644_3_5_2_1_ADD_WITHOUT_PATH)

    assert result["nickName"] == "Babs"
    assert result["emails"] == [
        {"value": "bjensen@example.com", "type": "work"},
        {"value": "babs@jensen.org", "type": "home"},
    ]


def test_adding_to_a_single_valued_attribute_replaces_it():
    assert (
        patched(user(title="Tour Guide"), {"op": "add", "path": "title", "value": "Guide"})["title"]
        == "Guide"
    )


def test_adding_a_complex_value_merges_its_sub_attributes():
    babs = user(name={"givenName": "Barbara", "familyName": "Jensen"})

    result = patched(babs, {"op": "add", "path": "name", "value": {"givenName": "Babs", "middleName": "J"}})

    assert result["name"] == {"givenName": "Babs", "familyName": "Jensen", "middleName": "J"}


def test_adding_a_sub_attribute_creates_the_complex_value_when_needed():
    result = patched(user(), {"op": "add", "path": "name.givenName", "value": "Barbara"})

    assert result["name"] == {"givenName": "Barbara"}


def test_an_extension_attribute_is_added_under_its_urn():
    result = patched(user(), {"op": "add", "path": f"{ENTERPRISE_USER_URN}:department", "value": "Tours"})

    assert result[ENTERPRISE_USER_URN] == {"department": "Tours"}
    assert ENTERPRISE_USER_URN in result["schemas"]


def test_a_bare_extension_urn_as_path_merges_into_the_extension():
    babs = user(**{ENTERPRISE_USER_URN: {"department": "Tours", "costCenter": "CC-1234"}})

    result = patched(
        babs,
        {
            "op": "add",
            "path": ENTERPRISE_USER_URN,
            "value": {"department": "Guides", "manager": {"value": "boss"}},
        },
    )

    assert result[ENTERPRISE_USER_URN] == {
        "department": "Guides",
        "costCenter": "CC-1234",
        "manager": {"value": "boss"},
    }


def test_the_same_value_and_type_is_one_value_and_takes_what_was_sent():
    babs = user(emails=[{"value": "babs@example.com", "type": "work"}])

    result = patched(
        babs,
        {
            "op": "add",
            "path": "emails",
            "value": [{"value": "BABS@example.com", "type": "work", "display": "Babs"}],
        },
    )

    assert result["emails"] == [{"value": "BABS@example.com", "type": "work", "display": "Babs"}]


def test_a_value_without_a_value_sub_attribute_is_added_unless_an_equal_one_is_there():
    home = {"streetAddress": "100 Universal City Plaza", "type": "home"}
    babs = user(addresses=[home])

    again = patched(babs, {"op": "add", "path": "addresses", "value": [home]})
    other = patched(babs, {"op": "add", "path": "addresses", "value": [{"locality": "Hollywood"}]})

    assert again["addresses"] == [home]
    assert other["addresses"] == [home, {"locality": "Hollywood"}]


def test_adding_on_a_value_path_sets_the_sub_attribute_of_each_match():
    babs = user(
        emails=[{"value": "babs@example.com", "type": "work"}, {"value": "b@home.example", "type": "home"}]
    )

    result = patched(babs, {"op": "add", "path": 'emails[type eq "work"].display', "value": "Work"})

    assert result["emails"][0] == {"value": "babs@example.com", "type": "work", "display": "Work"}
    assert "display" not in result["emails"][1]


def test_adding_on_a_filter_that_matches_nothing_is_no_target_in_strict_mode():
    with pytest.raises(NoTarget):
        patched(user(), {"op": "add", "path": 'emails[type eq "work"].value', "value": "babs@example.com"})


def test_primary_on_an_added_value_clears_it_on_the_others():
    babs = user(emails=[{"value": "babs@example.com", "type": "work", "primary": True}])

    result = patched(
        babs,
        {
            "op": "add",
            "path": "emails",
            "value": [{"value": "babs@jensen.org", "type": "home", "primary": True}],
        },
    )

    assert [e.get("primary") for e in result["emails"]] == [False, True]


def test_thousands_of_members_are_added_once_each():
    existing = [f"user-{n}" for n in range(3000)]
    big = group("Everyone", *existing)
    wanted = [{"value": f"user-{n}"} for n in range(2000, 6000)]

    result = patched(big, {"op": "add", "path": "members", "value": wanted})

    values = [m["value"] for m in result["members"]]
    assert values == [f"user-{n}" for n in range(6000)]


def test_the_resource_given_is_not_changed():
    babs = user(name={"givenName": "Barbara"}, emails=[{"value": "babs@example.com", "type": "work"}])
    before = copy.deepcopy(babs)

    patched(
        babs,
        {"op": "add", "path": "name.familyName", "value": "Jensen"},
        {
            "op": "add",
            "path": "emails",
            "value": [{"value": "b@home.example", "type": "home", "primary": True}],
        },
    )

    assert babs == before


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": "title"},
        {"op": "add", "path": "title", "value": None},
        {"op": "add", "value": None},
        {"op": "add", "value": "not an object"},
    ],
)
def test_add_needs_a_value(operation):
    with pytest.raises(InvalidValue):
        patched(user(), operation)


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        ("active", "yes", "active"),
        ("emails", [{"value": 7}], "emails[0].value"),
        ("name", {"givenName": ["B"]}, "name.givenName"),
        (f"{ENTERPRISE_USER_URN}:manager", {"value": 1}, "manager.value"),
    ],
)
def test_a_value_of_the_wrong_type_is_invalid_value_naming_where(path, value, where):
    with pytest.raises(InvalidValue, match="operation 1") as caught:
        patched(user(), {"op": "add", "path": path, "value": value})
    assert where in caught.value.detail


@pytest.mark.parametrize(
    "path", ["groups", "id", "meta.created", PROVISIONING_URN, f"{PROVISIONING_URN}:state"]
)
def test_a_read_only_target_is_mutability(path):
    with pytest.raises(Mutability, match="read-only"):
        patched(user(), {"op": "add", "path": path, "value": "x"}, tolerances=LENIENT)


def test_an_immutable_value_that_is_set_cannot_be_changed_by_add():
    tour_guides = group("Tour Guides", BJENSEN)

    with pytest.raises(Mutability, match="immutable"):
        patched(tour_guides, {"op": "add", "path": f'members[value eq "{BJENSEN}"].value', "value": "other"})


def test_an_unknown_sub_attribute_in_a_value_is_refused():
    with pytest.raises(Exception, match="no sub-attribute 'nickname'") as caught:
        patched(user(), {"op": "add", "path": "name", "value": {"nickname": "Babs"}})
    assert caught.value.scim_type == "invalidSyntax"


def test_an_unknown_key_in_a_value_without_path_is_an_invalid_path():
    with pytest.raises(InvalidPath, match="favouriteColour"):
        patched(user(), {"op": "add", "value": {"favouriteColour": "blue"}})
