"""What Microsoft Entra ID's provisioning service sends in PATCH requests, as its public documentation
shows it, read with the tolerances on (accepted, applied in full) and in strict mode (refused where it
is not RFC 7644, accepted where it is).

Fixtures are named after the document they come from:

* ``ENTRA_COMPAT_*``: "Known issues and resolutions with SCIM 2.0 protocol compliance of the Microsoft
  Entra user provisioning service" (application-provisioning-config-problem-scim-compatibility), its
  requests "without feature flag" (Entra's default) and "with feature flag" (``aadOptscim062020``).
* ``ENTRA_TUTORIAL_*``: "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra
  ID" (use-scim-to-provision-users-and-groups), its example requests.
* ``ENTRA_QA_*``: the Microsoft Q&A thread "Entra ID patch sending Add instead of Replace" (2024), where
  Entra adds a work email on a filtered path.
"""

from __future__ import annotations

import pytest

from scimsaga.scim.errors import ScimError
from tests.unit.scim.patching import ENTERPRISE_USER_URN, LENIENT, STRICT, group, patched, user

U1091 = "u1091"
MEMBER = "7f4bc1a3-285e-48ae-8202-5accb43efb0e"

ENTRA_COMPAT_DISABLE_USER_WITHOUT_FLAG = {"op": "Replace", "path": "active", "value": "False"}
ENTRA_COMPAT_DISABLE_USER_WITH_FLAG = {"op": "replace", "path": "active", "value": False}
ENTRA_COMPAT_ADD_NICKNAME_WITHOUT_FLAG = {"op": "Add", "path": "nickName", "value": "Babs"}
ENTRA_COMPAT_REPLACE_MULTIPLE_WITHOUT_FLAG = [
    {"op": "Replace", "path": "displayName", "value": "Pvlo"},
    {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "TestBcwqnm@test.microsoft.com"},
    {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
    {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
    {"op": "Replace", "path": "externalId", "value": "Eqpj"},
    {"op": "Replace", "path": f"{ENTERPRISE_USER_URN}:employeeNumber", "value": "Eqpj"},
]
ENTRA_COMPAT_REPLACE_MULTIPLE_WITH_FLAG = [
    {"op": "replace", "path": 'emails[type eq "work"].value', "value": "TestMhvaes@test.microsoft.com"},
    {
        "op": "replace",
        "value": {
            "displayName": "Bjfe",
            "name.givenName": "Kkom",
            "name.familyName": "Unua",
            f"{ENTERPRISE_USER_URN}:employeeNumber": "Aklq",
        },
    },
]
ENTRA_COMPAT_REMOVE_MEMBER_WITHOUT_FLAG = {"op": "Remove", "path": "members", "value": [{"value": U1091}]}
ENTRA_COMPAT_REMOVE_MEMBER_WITH_FLAG = {"op": "remove", "path": f'members[value eq "{MEMBER}"]'}
ENTRA_TUTORIAL_UPDATE_USER_MULTI_VALUED = [
    {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "updatedEmail@microsoft.com"},
    {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
]
ENTRA_TUTORIAL_ADD_MEMBERS = {
    "op": "Add",
    "path": "members",
    "value": [{"$ref": None, "value": "f648f8d5ea4e4cd38e9c"}],
}
ENTRA_TUTORIAL_REMOVE_MEMBERS = {
    "op": "Remove",
    "path": "members",
    "value": [{"$ref": None, "value": "f648f8d5ea4e4cd38e9c"}],
}
ENTRA_QA_ADD_WORK_EMAIL = [
    {"op": "Replace", "path": "title", "value": "tester"},
    {"op": "Add", "path": 'emails[type eq "work"].value', "value": "joe@example.com"},
]
# The tutorial's schema example gives the manager as the manager's id alone.
ENTRA_TUTORIAL_MANAGER_AS_ID = {"op": "Add", "path": f"{ENTERPRISE_USER_URN}:manager", "value": "123456"}


def entra_user() -> dict:
    return user(
        "Test_User_00aa00aa",
        emails=[{"primary": True, "type": "work", "value": "test@testuser.com"}],
        name={"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        active=True,
    )


def test_disabling_a_user_with_the_string_false_sets_active_to_false():
    assert (
        patched(entra_user(), ENTRA_COMPAT_DISABLE_USER_WITHOUT_FLAG, tolerances=LENIENT)["active"] is False
    )
    assert patched(entra_user(), ENTRA_COMPAT_DISABLE_USER_WITH_FLAG, tolerances=STRICT)["active"] is False


def test_capitalised_operations_are_read_as_the_rfcs():
    result = patched(entra_user(), ENTRA_COMPAT_ADD_NICKNAME_WITHOUT_FLAG, tolerances=LENIENT)

    assert result["nickName"] == "Babs"


def test_one_operation_per_attribute_and_the_path_less_form_give_the_same_user():
    one_by_one = patched(entra_user(), *ENTRA_COMPAT_REPLACE_MULTIPLE_WITHOUT_FLAG, tolerances=LENIENT)
    together = patched(entra_user(), *ENTRA_COMPAT_REPLACE_MULTIPLE_WITH_FLAG, tolerances=STRICT)

    assert one_by_one["emails"] == [
        {"primary": True, "type": "work", "value": "TestBcwqnm@test.microsoft.com"}
    ]
    assert (one_by_one["displayName"], one_by_one["name"]["givenName"], one_by_one["externalId"]) == (
        "Pvlo",
        "Gtfd",
        "Eqpj",
    )
    assert one_by_one[ENTERPRISE_USER_URN] == {"employeeNumber": "Eqpj"}
    assert together["name"] == {
        "formatted": "givenName familyName",
        "familyName": "Unua",
        "givenName": "Kkom",
    }
    assert together[ENTERPRISE_USER_URN] == {"employeeNumber": "Aklq"}


def test_the_tutorials_multi_valued_update_changes_the_work_email_and_family_name():
    result = patched(entra_user(), *ENTRA_TUTORIAL_UPDATE_USER_MULTI_VALUED, tolerances=LENIENT)

    assert result["emails"] == [{"primary": True, "type": "work", "value": "updatedEmail@microsoft.com"}]
    assert result["name"]["familyName"] == "updatedFamilyName"


def test_removing_members_given_as_a_value_list_removes_exactly_those():
    tour_guides = group("Tour Guides", U1091, MEMBER)

    result = patched(tour_guides, ENTRA_COMPAT_REMOVE_MEMBER_WITHOUT_FLAG, tolerances=LENIENT)
    rfc = patched(tour_guides, ENTRA_COMPAT_REMOVE_MEMBER_WITH_FLAG, tolerances=STRICT)

    assert [m["value"] for m in result["members"]] == [MEMBER]
    assert [m["value"] for m in rfc["members"]] == [U1091]


def test_members_are_added_and_removed_with_a_null_ref():
    tour_guides = group("Tour Guides", U1091)

    added = patched(tour_guides, ENTRA_TUTORIAL_ADD_MEMBERS, tolerances=LENIENT)
    removed = patched(added, ENTRA_TUTORIAL_REMOVE_MEMBERS, tolerances=LENIENT)

    assert added["members"][1] == {"value": "f648f8d5ea4e4cd38e9c"}
    assert removed == tour_guides


def test_removing_by_value_a_member_already_gone_changes_nothing():
    tour_guides = group("Tour Guides", MEMBER)

    assert patched(tour_guides, ENTRA_TUTORIAL_REMOVE_MEMBERS, tolerances=LENIENT) == tour_guides


def test_adding_a_work_email_on_a_filtered_path_creates_it_when_there_is_none():
    joe = user("joe", title="scim tester")

    result = patched(joe, *ENTRA_QA_ADD_WORK_EMAIL, tolerances=LENIENT)

    assert result["title"] == "tester"
    assert result["emails"] == [{"type": "work", "value": "joe@example.com"}]


def test_adding_a_work_email_on_a_filtered_path_replaces_it_when_there_is_one():
    result = patched(entra_user(), *ENTRA_QA_ADD_WORK_EMAIL, tolerances=LENIENT)

    assert result["emails"] == [{"primary": True, "type": "work", "value": "joe@example.com"}]


def test_the_manager_given_as_an_id_is_the_managers_value():
    result = patched(entra_user(), ENTRA_TUTORIAL_MANAGER_AS_ID, tolerances=LENIENT)

    assert result[ENTERPRISE_USER_URN] == {"manager": {"value": "123456"}}


@pytest.mark.parametrize(
    ("operations", "current"),
    [
        ([ENTRA_COMPAT_DISABLE_USER_WITHOUT_FLAG], entra_user()),
        ([ENTRA_COMPAT_ADD_NICKNAME_WITHOUT_FLAG], entra_user()),
        (ENTRA_COMPAT_REPLACE_MULTIPLE_WITHOUT_FLAG, entra_user()),
        ([ENTRA_COMPAT_REMOVE_MEMBER_WITHOUT_FLAG], group("Tour Guides", U1091)),
        ([{"op": "add", "path": 'emails[type eq "work"].value', "value": "joe@example.com"}], user("joe")),
        ([{"op": "add", "path": f"{ENTERPRISE_USER_URN}:manager", "value": "123456"}], entra_user()),
        ([{"op": "remove", "path": f'members[value eq "{MEMBER}"]'}], group("Tour Guides", U1091)),
    ],
)
def test_strict_mode_refuses_what_the_rfc_does_not_describe(operations, current):
    with pytest.raises(ScimError) as caught:
        patched(current, *operations, tolerances=STRICT)
    assert caught.value.status == 400
