"""``attributes`` / ``excludedAttributes`` against ``returned`` (RFC 7644 §3.4.2.5, RFC 7643 §7)."""

from __future__ import annotations

from typing import Any

import pytest

from scimsaga.scim.errors import InvalidValue
from scimsaga.scim.projection import DEFAULT, Selection, check_selection, parse_selection, select
from scimsaga.scim.schema import (
    ENTERPRISE_USER_URN,
    USER,
    USER_SCHEMA_URN,
    Attribute,
    AttributeType,
    ResourceType,
    Returned,
    Schema,
)

BODY: dict[str, Any] = {
    "schemas": [USER_SCHEMA_URN, ENTERPRISE_USER_URN],
    "id": "u1",
    "userName": "bjensen",
    "title": "Tour Guide",
    "name": {"givenName": "Barbara", "familyName": "Jensen"},
    "emails": [{"value": "b@example.com", "type": "work"}, {"value": "bj@example.com", "type": "home"}],
    ENTERPRISE_USER_URN: {"department": "Tours", "costCenter": "CC-1"},
    "meta": {"resourceType": "User", "created": "2026-01-01T00:00:00Z", "version": 'W/"1"'},
}


def test_the_default_selection_returns_the_body_as_is():
    assert select(USER, BODY, DEFAULT) == BODY


def test_attributes_keep_what_is_named_and_what_is_always_returned():
    chosen = select(USER, BODY, parse_selection("userName,name.givenName,emails.value", None))

    assert chosen == {
        "schemas": BODY["schemas"],
        "id": "u1",
        "userName": "bjensen",
        "name": {"givenName": "Barbara"},
        "emails": [{"value": "b@example.com"}, {"value": "bj@example.com"}],
    }


def test_names_are_case_insensitive_and_may_be_urn_qualified():
    chosen = select(
        USER,
        BODY,
        parse_selection(
            f"USERNAME,{USER_SCHEMA_URN}:title,{ENTERPRISE_USER_URN}:department,META.created", None
        ),
    )

    assert chosen["userName"] == "bjensen"
    assert chosen["title"] == "Tour Guide"
    assert chosen[ENTERPRISE_USER_URN] == {"department": "Tours"}
    assert chosen["meta"] == {"created": "2026-01-01T00:00:00Z"}


def test_a_bare_extension_urn_names_the_whole_extension():
    chosen = select(USER, BODY, parse_selection(ENTERPRISE_USER_URN.upper(), None))

    assert chosen[ENTERPRISE_USER_URN] == BODY[ENTERPRISE_USER_URN]
    assert "userName" not in chosen


def test_excluded_attributes_drop_defaults_but_never_id_or_schemas():
    chosen = select(
        USER,
        BODY,
        parse_selection(
            None, ["id", "schemas", "emails", "name.familyName", f"{ENTERPRISE_USER_URN}:costCenter", "meta"]
        ),
    )

    assert chosen == {
        "schemas": BODY["schemas"],
        "id": "u1",
        "userName": "bjensen",
        "title": "Tour Guide",
        "name": {"givenName": "Barbara"},
        ENTERPRISE_USER_URN: {"department": "Tours"},
    }


def test_an_extension_left_empty_is_left_out():
    chosen = select(
        USER,
        BODY,
        parse_selection(None, f"{ENTERPRISE_USER_URN}:department,{ENTERPRISE_USER_URN}:costCenter"),
    )

    assert ENTERPRISE_USER_URN not in chosen


def test_never_returned_attributes_stay_out_even_when_asked_for():
    body = {**BODY, "password": "secret"}

    assert "password" not in select(USER, body, parse_selection("password,userName", None))


SECRETIVE = ResourceType(
    id="Thing",
    name="Thing",
    endpoint="/Things",
    description="",
    schema=Schema(
        "urn:test:Thing",
        "Thing",
        "",
        (
            Attribute("label"),
            Attribute("secret", returned=Returned.REQUEST),
            Attribute(
                "card",
                AttributeType.COMPLEX,
                sub_attributes=(Attribute("number", returned=Returned.REQUEST), Attribute("holder")),
            ),
        ),
    ),
)


def test_request_only_attributes_come_back_only_when_named():
    body = {
        "schemas": ["urn:test:Thing"],
        "id": "t1",
        "label": "x",
        "secret": "s",
        "card": {"number": "4111", "holder": "Ada"},
    }

    assert select(SECRETIVE, body, DEFAULT) == {
        "schemas": ["urn:test:Thing"],
        "id": "t1",
        "label": "x",
        "card": {"holder": "Ada"},
    }
    assert select(SECRETIVE, body, parse_selection(None, "label")) == {
        "schemas": ["urn:test:Thing"],
        "id": "t1",
        "card": {"holder": "Ada"},
    }
    assert select(SECRETIVE, body, parse_selection("secret,card.number", None)) == {
        "schemas": ["urn:test:Thing"],
        "id": "t1",
        "secret": "s",
        "card": {"number": "4111"},
    }


def test_both_parameters_at_once_are_refused():
    with pytest.raises(InvalidValue, match="not both"):
        Selection(("userName",), ("title",))


@pytest.mark.parametrize("raw", [42, ["userName", 7], {"a": 1}])
def test_a_selection_that_is_not_names_is_refused(raw):
    with pytest.raises(InvalidValue):
        parse_selection(raw, None)


def test_unknown_names_are_refused_by_check_selection_and_ignored_by_select():
    selection = parse_selection("userName,shoeSize", None)

    with pytest.raises(InvalidValue, match="shoeSize"):
        check_selection(USER, selection)
    assert set(select(USER, BODY, selection)) == {"schemas", "id", "userName"}
