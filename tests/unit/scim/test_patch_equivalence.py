"""Property: a PATCH and the equivalent PUT give the same resource (RFC 7644 §3.5.2 against §3.5.1).

Each case starts from a generated resource and makes generated changes, both to a plain PUT body (what
the change means) and as PATCH operations in the spellings the RFC allows (see ``patch_strategies``).
Applying the operations to the stored start must give what parsing the PUT body gives.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from scimsaga.scim.patch import apply_patch
from scimsaga.scim.patch_request import parse_patch
from scimsaga.scim.resource import parse_resource
from scimsaga.scim.schema import GROUP, USER, ResourceType
from scimsaga.scim.tolerance import STRICT
from tests.unit.scim.patch_strategies import Case, group_cases, user_cases
from tests.unit.scim.patching import message


def without_schemas(stored: dict[str, Any]) -> dict[str, Any]:
    """The attributes; ``schemas`` in a response follows from them (RFC 7643 §3)."""
    return {key: value for key, value in stored.items() if key != "schemas"}


def check(resource_type: ResourceType, case: Case) -> None:
    start = parse_resource(resource_type, case.start)
    request = parse_patch(resource_type, message(*case.operations), STRICT)

    after_patch = apply_patch(resource_type, start, request)
    after_put = parse_resource(resource_type, case.target)

    assert without_schemas(after_patch) == without_schemas(after_put), case.operations


@settings(max_examples=400, deadline=None)
@given(user_cases().filter(lambda case: case.operations))
def test_a_user_patched_is_the_user_put(case):
    check(USER, case)


@settings(max_examples=200, deadline=None)
@given(group_cases().filter(lambda case: case.operations))
def test_a_group_patched_is_the_group_put(case):
    check(GROUP, case)
