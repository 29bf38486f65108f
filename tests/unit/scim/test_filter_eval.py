"""Evaluating filters against resources in memory (RFC 7644 §3.4.2.2)."""

from __future__ import annotations

from typing import Any

import pytest

from scimsaga.scim.filter import parse_filter
from scimsaga.scim.filter_eval import matches
from scimsaga.scim.schema import (
    ENTERPRISE_USER_URN,
    USER_SCHEMA_URN,
    Attribute,
    AttributeType,
    ResourceType,
    Schema,
)
from scimsaga.scim.schema import USER as USER_TYPE

ALICE: dict[str, Any] = {
    "schemas": [USER_SCHEMA_URN, ENTERPRISE_USER_URN],
    "id": "alice-id",
    "externalId": "Alice-1",
    "userName": "Alice",
    "name": {"givenName": "Alice", "familyName": "O'Malley"},
    "title": "Vice President",
    "userType": "Employee",
    "active": True,
    "emails": [
        {"value": "alice@example.com", "type": "work", "primary": True},
        {"value": "alice@home.org", "type": "home"},
    ],
    "ims": [{"value": "alice@foo.com", "type": "xmpp"}],
    ENTERPRISE_USER_URN: {
        "department": "Sales", "costCenter": "4130", "manager": {"value": "bob-id", "displayName": "Bob"},
    },
    "meta": {
        "resourceType": "User", "created": "2011-05-13T04:42:34Z", "lastModified": "2011-08-01T18:29:49.793Z",
        "version": 'W/"a330bc54f0671c9"', "location": "https://example.com/v2/Users/alice-id",
    },
}
BOB: dict[str, Any] = {
    "schemas": [USER_SCHEMA_URN],
    "id": "bob-id",
    "userName": "bob.\u00df",
    "name": {"givenName": ""},
    "title": "",
    "userType": "Intern",
    "active": False,
    "emails": [
        {"value": "bob@example.org", "type": "home"},
        {"value": "bob@work.example.com", "type": "other", "primary": None},
    ],
    "meta": {
        "resourceType": "User", "created": "2012-01-01T00:00:00.000001+01:00",
        "lastModified": "2012-01-01T00:00:00+01:00", "version": 'W/"b"',
        "location": "https://example.com/v2/Users/bob-id",
    },
}
CAROL: dict[str, Any] = {
    "schemas": [USER_SCHEMA_URN],
    "id": "carol-id",
    "userName": "CAROL%_",
    "emails": [],
    "meta": {
        "resourceType": "User", "created": "2011-05-13T04:42:34.000001Z",
        "lastModified": "2020-01-01T00:00:00Z", "version": 'W/"c"',
        "location": "https://example.com/v2/Users/carol-id",
    },
}
USERS = {"alice": ALICE, "bob": BOB, "carol": CAROL}
ALL = {"alice", "bob", "carol"}
DEPARTMENT = f"{ENTERPRISE_USER_URN}:department"
MANAGER = f"{ENTERPRISE_USER_URN}:manager"

CASES: list[tuple[str, set[str]]] = [
    ('userName eq "alice"', {"alice"}),
    ('userName eq "BOB.SS"', {"bob"}),
    ('userName co "%"', {"carol"}),
    ('userName co "_"', {"carol"}),
    ('userName sw "BO"', {"bob"}),
    ('userName ew "S"', {"bob"}),
    ('userName ew ""', ALL),
    ('userName gt "b"', {"bob", "carol"}),
    ('userName le "ALICE"', {"alice"}),
    ('id eq "BOB-ID"', set()),
    ('id eq "bob-id"', {"bob"}),
    ('externalId eq "alice-1"', set()),
    ('externalId eq "Alice-1"', {"alice"}),
    ("title pr", {"alice"}),
    ("name pr", {"alice"}),
    ("name.givenName pr", {"alice"}),
    ("emails pr", {"alice", "bob"}),
    ("emails.primary pr", {"alice"}),
    ("ims pr", {"alice"}),
    ("not (title pr)", {"bob", "carol"}),
    ('title ne "Vice President"', {"bob"}),
    ('not (title eq "Vice President")', {"bob", "carol"}),
    ('userType eq "employee"', {"alice"}),
    ('emails co "EXAMPLE.COM"', {"alice", "bob"}),
    ('emails[type eq "work" and value co "@example.com"]', {"alice"}),
    ('emails[type eq "other" and value co "example.org"]', set()),
    ('emails.type eq "other" and emails.value co "example.org"', {"bob"}),
    ('emails[type eq "work"].value co "alice"', {"alice"}),
    ('emails[not (type eq "work")]', {"alice", "bob"}),
    ("emails.primary eq true", {"alice"}),
    ("emails[primary eq true] or not (emails pr)", {"alice", "carol"}),
    ('ims[type eq "xmpp" and value co "@foo.com"]', {"alice"}),
    (f'{DEPARTMENT} eq "sales"', {"alice"}),
    (f"{DEPARTMENT} pr", {"alice"}),
    (f'{MANAGER}.value eq "bob-id"', {"alice"}),
    (f'{MANAGER}.value eq "BOB-ID"', {"alice"}),
    (f"{MANAGER} pr", {"alice"}),
    (f'schemas eq "{ENTERPRISE_USER_URN}"', {"alice"}),
    ('schemas co "CORE"', ALL),
    ("active eq true", {"alice"}),
    ("active eq false", {"bob"}),
    ("active ne true", {"bob"}),
    ("not (active eq true)", {"bob", "carol"}),
    ("active pr", {"alice", "bob"}),
    ('meta.created gt "2011-05-13T04:42:34Z"', {"bob", "carol"}),
    ('meta.created eq "2011-05-13T06:42:34+02:00"', {"alice"}),
    ('meta.created lt "2011-05-13T04:42:34.000001Z"', {"alice"}),
    ('meta.created ge "2011-12-31T23:00:00.000001Z"', {"bob"}),
    ('meta.lastModified le "2011-12-31T23:00:00Z"', {"alice", "bob"}),
    ('meta.lastModified gt "2011-08-01T18:29:49.7929Z"', ALL),
    ('meta.resourceType eq "User"', ALL),
    ('meta.resourceType eq "user"', set()),
    ('meta.location sw "https://example.com/v2/Users/b"', {"bob"}),
    ('meta.version eq "W/\\"c\\""', {"carol"}),
    ("meta pr", ALL),
    ('title pr or userType eq "Intern"', {"alice", "bob"}),
    ('userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")', set()),
]


def selected(text: str) -> set[str]:
    flt = parse_filter(text, USER_TYPE)
    return {name for name, resource in USERS.items() if matches(flt, resource)}


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[case[0] for case in CASES])
def test_matches(text: str, expected: set[str]) -> None:
    assert selected(text) == expected


def test_missing_extension_matches_nothing_but_its_negation() -> None:
    assert selected(f'{DEPARTMENT} ne "Sales"') == set()
    assert selected(f'not ({DEPARTMENT} eq "Sales")') == {"bob", "carol"}


def test_ill_typed_values_never_match() -> None:
    odd: dict[str, Any] = {"userName": 5, "active": "true", "emails": "x@example.com", "name": "Alice",
                           "meta": {"created": "yesterday"}}
    for text in ('userName ne "x"', "active eq true", 'emails co "x"', 'name.givenName eq "Alice"',
                 'meta.created lt "2999-01-01T00:00:00Z"', "emails pr", "name pr"):
        assert not matches(parse_filter(text, USER_TYPE), odd), text


THING = ResourceType(
    id="Thing", name="Thing", endpoint="/Things", description="A test resource with numbers.",
    schema=Schema("urn:example:scim:Thing", "Thing", "Thing", (
        Attribute("count", AttributeType.INTEGER),
        Attribute("ratio", AttributeType.DECIMAL),
        Attribute("tags", multi_valued=True, case_exact=True),
    )),
)


@pytest.mark.parametrize(("text", "expected"), [
    ("count eq 3", True), ("count gt 2", True), ("count ge 3", True), ("count lt 3", False),
    ("ratio le 0.5", True), ("ratio gt 0.49", True), ("ratio eq 1", False), ("ratio ne 1", True),
    ('tags eq "B"', True), ('tags eq "b"', False), ('tags sw "A"', True), ("tags pr", True),
])
def test_numbers_and_multi_valued_simple(text: str, expected: bool) -> None:
    thing = {"count": 3, "ratio": 0.5, "tags": ["A", "B", True]}
    assert matches(parse_filter(text, THING), thing) is expected
