"""The PatchOp message (RFC 7644 §3.5.2): its members, its operations, and what each may carry."""

from __future__ import annotations

import pytest

from scimsaga.scim.errors import InvalidSyntax, InvalidValue, Mutability
from scimsaga.scim.patch import apply_patch
from scimsaga.scim.patch_request import PATCH_OP_SCHEMA, parse_patch
from scimsaga.scim.schema import USER
from tests.unit.scim.patching import LENIENT, STRICT, group, message, patched, user


def test_member_names_are_read_in_any_letter_case():
    request = parse_patch(
        USER,
        {"SCHEMAS": [PATCH_OP_SCHEMA], "operations": [{"OP": "replace", "Path": "title", "VALUE": "Guide"}]},
    )

    assert [(step.op, str(step.path), step.value) for step in request.steps] == [
        ("replace", "title", "Guide")
    ]


@pytest.mark.parametrize(
    "body",
    [
        [],
        "x",
        {"schemas": ["urn:nope"], "Operations": [{"op": "remove", "path": "title"}]},
        {"schemas": [PATCH_OP_SCHEMA]},
        {"schemas": [PATCH_OP_SCHEMA], "Operations": []},
        {"schemas": [PATCH_OP_SCHEMA], "Operations": {"op": "remove", "path": "title"}},
        {"schemas": [PATCH_OP_SCHEMA], "Operations": ["remove title"]},
        {"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "remove", "path": "title", "from": "x"}]},
        {"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "move", "path": "title"}]},
        {"schemas": [PATCH_OP_SCHEMA], "Operations": [{"path": "title"}]},
        {"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "remove", "Op": "add", "path": "title"}]},
        {"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "remove", "path": "title"}], "extra": 1},
    ],
)
def test_a_malformed_message_is_refused(body):
    with pytest.raises((InvalidSyntax, InvalidValue)):
        parse_patch(USER, body, LENIENT)


def test_strict_mode_needs_the_message_schema_and_lower_case_operations():
    without_schema = {"Operations": [{"op": "replace", "path": "title", "value": "x"}]}
    capitalised = message({"op": "Replace", "path": "title", "value": "x"})

    for body in (without_schema, capitalised):
        with pytest.raises((InvalidSyntax, InvalidValue)):
            parse_patch(USER, body, STRICT)
        assert parse_patch(USER, body, LENIENT).steps[0].op == "replace"


def test_a_read_only_attribute_in_a_value_is_mutability_in_strict_mode():
    with pytest.raises(Mutability, match="'id' is read-only"):
        patched(user(), {"op": "replace", "value": {"id": "id-1", "title": "x"}}, tolerances=STRICT)


def test_with_the_tolerance_read_only_attributes_in_a_value_are_ignored_but_id_must_match():
    babs = user()

    result = patched(
        babs,
        {
            "op": "replace",
            "value": {"id": "id-1", "meta": {"version": 'W/"9"'}, "groups": [], "title": "Guide"},
        },
        tolerances=LENIENT,
        resource_id="id-1",
    )

    assert result == {**babs, "title": "Guide"}
    with pytest.raises(Mutability, match="names 'someone-else'"):
        patched(
            babs, {"op": "replace", "value": {"id": "someone-else"}}, tolerances=LENIENT, resource_id="id-1"
        )


def test_schemas_in_a_value_may_list_the_types_schemas_and_carry_nothing():
    result = patched(
        user(),
        {
            "op": "replace",
            "value": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "title": "Guide"},
        },
    )

    assert result["title"] == "Guide"
    with pytest.raises(InvalidValue, match="unknown schema URN"):
        patched(user(), {"op": "replace", "value": {"schemas": ["urn:nope"], "title": "Guide"}})


def test_a_message_is_parsed_once_and_applies_to_any_resource_of_the_type():
    request = parse_patch(
        USER, message({"op": "add", "path": "emails", "value": [{"value": "x@example.com"}]})
    )

    first = apply_patch(USER, user("a"), request)
    second = apply_patch(USER, user("b"), request)

    assert first["emails"] == second["emails"] == [{"value": "x@example.com"}]


def test_groups_and_users_each_know_only_their_own_attributes():
    with pytest.raises(Exception, match="userName"):
        patched(group(), {"op": "replace", "path": "userName", "value": "x"})
