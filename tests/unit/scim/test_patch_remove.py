"""PATCH ``remove`` (RFC 7644 §3.5.2.2), applied by the pure function of ``scim/patch.py``."""

from __future__ import annotations

import pytest

from scimsaga.scim.errors import InvalidValue, Mutability, NoTarget
from tests.unit.scim.patching import ENTERPRISE_USER_URN, LENIENT, group, patched, user

BJENSEN = "2819c223-7f76-453a-919d-413861904646"
MANDY = "902c246b-6245-4190-8e05-00816be7344a"

# RFC 7644 §3.5.2.2: remove one member with a value filter.
RFC7644_3_5_2_2_REMOVE_ONE_MEMBER = {"op": "remove", "path": f'members[value eq "{BJENSEN}"]'}
# RFC 7644 §3.5.2.2: remove every member.
RFC7644_3_5_2_2_REMOVE_ALL_MEMBERS = {"op": "remove", "path": "members"}
# RFC 7644 §3.5.2.2: remove the values a complex filter matches.
RFC7644_3_5_2_2_REMOVE_WORK_EMAILS = {
    "op": "remove",
    "path": 'emails[type eq "work" and value ew "example.com"]',
}
# RFC 7644 §3.5.2.2: replace all members as "remove" then "add".
RFC7644_3_5_2_2_REMOVE_THEN_ADD_MEMBERS = [
    {"op": "remove", "path": "members"},
    {
        "op": "add",
        "path": "members",
        "value": [
            {"display": "Babs Jensen", "$ref": f"https://example.com/v2/Users/{BJENSEN}", "value": BJENSEN},
            {"display": "James Smith", "$ref": "https://example.com/v2/Users/08e1d05d", "value": "08e1d05d"},
        ],
    },
]


def test_rfc7644_3_5_2_2_one_member_is_removed_by_a_filter():
    result = patched(group("Tour Guides", BJENSEN, MANDY), RFC7644_3_5_2_2_REMOVE_ONE_MEMBER)

    assert [m["value"] for m in result["members"]] == [MANDY]


def test_rfc7644_3_5_2_2_removing_every_member_leaves_members_unassigned():
    result = patched(group("Tour Guides", BJENSEN, MANDY), RFC7644_3_5_2_2_REMOVE_ALL_MEMBERS)

    assert "members" not in result


def test_rfc7644_3_5_2_2_a_complex_filter_removes_only_its_matches():
    babs = user(
        emails=[
            {"value": "babs@example.com", "type": "work"},
            {"value": "babs@jensen.org", "type": "work"},
            {"value": "b@example.com", "type": "home"},
        ]
    )

    result = patched(babs, RFC7644_3_5_2_2_REMOVE_WORK_EMAILS)

    assert [e["value"] for e in result["emails"]] == ["babs@jensen.org", "b@example.com"]


def test_rfc7644_3_5_2_2_remove_then_add_replaces_the_members():
    result = patched(group("Tour Guides", MANDY), *RFC7644_3_5_2_2_REMOVE_THEN_ADD_MEMBERS)

    assert [m["value"] for m in result["members"]] == [BJENSEN, "08e1d05d"]


def test_the_last_value_removed_leaves_the_attribute_unassigned():
    babs = user(emails=[{"value": "babs@example.com", "type": "work"}])

    assert "emails" not in patched(babs, {"op": "remove", "path": 'emails[type eq "work"]'})


def test_a_sub_attribute_is_removed_from_each_match_and_an_empty_value_goes():
    babs = user(
        emails=[{"value": "babs@example.com", "type": "work", "display": "Work"}, {"display": "nothing else"}]
    )

    result = patched(babs, {"op": "remove", "path": "emails.display"})

    assert result["emails"] == [{"value": "babs@example.com", "type": "work"}]


def test_a_sub_attribute_of_a_complex_value_and_then_the_empty_value_go():
    babs = user(name={"givenName": "Barbara", "familyName": "Jensen"})

    one = patched(babs, {"op": "remove", "path": "name.givenName"})
    both = patched(
        babs, {"op": "remove", "path": "name.givenName"}, {"op": "remove", "path": "NAME.familyname"}
    )

    assert one["name"] == {"familyName": "Jensen"}
    assert "name" not in both


def test_an_extension_attribute_or_the_whole_extension_is_removed():
    babs = user(**{ENTERPRISE_USER_URN: {"department": "Tours", "costCenter": "CC-1234"}})

    one = patched(babs, {"op": "remove", "path": f"{ENTERPRISE_USER_URN}:department"})
    whole = patched(babs, {"op": "remove", "path": ENTERPRISE_USER_URN})

    assert one[ENTERPRISE_USER_URN] == {"costCenter": "CC-1234"}
    assert ENTERPRISE_USER_URN not in whole


def test_removing_what_is_not_there_changes_nothing():
    babs = user()

    assert (
        patched(
            babs,
            {"op": "remove", "path": "title"},
            {"op": "remove", "path": "name.givenName"},
            {"op": "remove", "path": "emails"},
            {"op": "remove", "path": ENTERPRISE_USER_URN},
        )
        == babs
    )


def test_a_required_attribute_cannot_be_removed():
    with pytest.raises(InvalidValue, match="'userName' is required"):
        patched(user(), {"op": "remove", "path": "userName"})


def test_remove_needs_a_path():
    with pytest.raises(NoTarget, match="'remove' needs a 'path'"):
        patched(user(), {"op": "remove", "value": {"title": "x"}})


def test_a_filter_that_matches_nothing_is_no_target_in_strict_mode():
    with pytest.raises(NoTarget):
        patched(group("Tour Guides", MANDY), RFC7644_3_5_2_2_REMOVE_ONE_MEMBER)


def test_with_the_tolerance_removing_a_member_already_gone_changes_nothing():
    tour_guides = group("Tour Guides", MANDY)

    assert patched(tour_guides, RFC7644_3_5_2_2_REMOVE_ONE_MEMBER, tolerances=LENIENT) == tour_guides


def test_remove_takes_no_value_in_strict_mode():
    with pytest.raises(InvalidValue, match="takes no 'value'"):
        patched(
            group("Tour Guides", BJENSEN), {"op": "remove", "path": "members", "value": [{"value": BJENSEN}]}
        )


@pytest.mark.parametrize("path", ["id", "meta", "groups"])
def test_a_read_only_attribute_cannot_be_removed(path):
    with pytest.raises(Mutability):
        patched(user(), {"op": "remove", "path": path})


def test_one_failing_operation_fails_the_whole_request():
    babs = user(title="Tour Guide")

    with pytest.raises(InvalidValue):
        patched(babs, {"op": "remove", "path": "title"}, {"op": "remove", "path": "userName"})
    assert babs["title"] == "Tour Guide"
