"""Sort keys (RFC 7644 §3.4.2.3): primary-or-first for multi-valued, case by ``caseExact``, types."""

from __future__ import annotations

import pytest

from scimsaga.scim.errors import InvalidValue
from scimsaga.scim.schema import ENTERPRISE_USER_URN, GROUP, USER
from scimsaga.scim.sort import resolve_sort, sort_key, sort_value


def test_a_multi_valued_attribute_sorts_by_its_primary_value_else_its_first():
    path = resolve_sort(USER, "emails.value")

    assert sort_value(path, {"emails": [{"value": "B"}, {"value": "a", "primary": True}]}) == "a"
    assert sort_value(path, {"emails": [{"value": "B"}, {"value": "a"}]}) == "b"
    assert sort_value(path, {"emails": []}) is None


def test_a_complex_multi_valued_attribute_named_alone_sorts_by_value():
    assert resolve_sort(USER, "emails").name == "emails.value"
    assert resolve_sort(GROUP, "MEMBERS").name == "members.value"


def test_case_exact_strings_keep_their_case_and_others_fold():
    assert sort_value(resolve_sort(USER, "userName"), {"userName": "Straße"}) == "strasse"
    assert sort_value(resolve_sort(USER, "id"), {"id": "AbC"}) == "AbC"


def test_datetimes_sort_by_instant_and_missing_values_last():
    path = resolve_sort(USER, "meta.created")
    early = {"meta": {"created": "2026-01-01T10:00:00+02:00"}}
    late = {"meta": {"created": "2026-01-01T09:00:00Z"}}

    assert sorted([late, {}, early], key=lambda r: sort_key(path, r)) == [early, late, {}]


def test_extension_attributes_sort_through_their_urn():
    path = resolve_sort(USER, f"{ENTERPRISE_USER_URN}:department")

    assert sort_value(path, {ENTERPRISE_USER_URN: {"department": "Sales"}}) == "sales"


@pytest.mark.parametrize("sort_by", ["shoeSize", "name", "password", "manager", "emails.nope"])
def test_what_cannot_be_sorted_is_invalid_value(sort_by):
    with pytest.raises(InvalidValue):
        resolve_sort(USER, sort_by)
