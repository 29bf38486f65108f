"""PATCH paths (RFC 7644 §3.5.2: ``PATH = attrPath / valuePath [subAttr]``) resolved against the schema."""

from __future__ import annotations

import pytest

from scimsaga.scim.errors import InvalidPath
from scimsaga.scim.filter import Compare
from scimsaga.scim.patch_path import equality_terms, parse_path
from scimsaga.scim.schema import ENTERPRISE_USER_URN, GROUP, USER, USER_SCHEMA_URN


@pytest.mark.parametrize(
    ("text", "attribute", "sub", "in_extension"),
    [
        ("userName", "userName", None, False),
        ("USERNAME", "userName", None, False),
        ("name.givenName", "name", "givenName", False),
        (f"{USER_SCHEMA_URN}:name.familyName", "name", "familyName", False),
        (f"{ENTERPRISE_USER_URN}:manager", "manager", None, True),
        (f"{ENTERPRISE_USER_URN}:manager.value", "manager", "value", True),
        ("emails.value", "emails", "value", False),
        ("externalId", "externalId", None, False),
    ],
)
def test_attribute_paths_resolve_in_any_letter_case_and_urn_qualified(text, attribute, sub, in_extension):
    path = parse_path(USER, text)

    assert path.attribute is not None
    assert path.attribute.name == attribute
    assert (path.sub_attribute.name if path.sub_attribute else None) == sub
    assert path.in_extension is in_extension
    assert path.value_filter is None


def test_a_value_path_carries_its_filter_and_sub_attribute():
    path = parse_path(USER, 'emails[type eq "work"].value')

    assert (path.attribute.name, path.sub_attribute.name) == ("emails", "value")
    assert isinstance(path.value_filter, Compare)
    assert path.selects_values


def test_a_filter_may_hold_a_closing_bracket_inside_a_string():
    path = parse_path(GROUP, 'members[display eq "a]b"].display')

    assert path.value_filter.value == "a]b"
    assert path.sub_attribute.name == "display"


def test_a_bare_extension_urn_names_the_whole_extension():
    path = parse_path(USER, ENTERPRISE_USER_URN.upper())

    assert path.attribute is None
    assert path.schema.id == ENTERPRISE_USER_URN


@pytest.mark.parametrize(
    "text",
    [
        "",
        "  ",
        "nickname.first",
        "favouriteColour",
        'emails[type eq "work"',
        'emails[type eq "work"]value',
        'emails[type eq "work"].nothing',
        'name[givenName eq "B"]',
        'emails[nothing eq "x"]',
        "schemas",
        'emails[type eq "work"].value[x]',
        "urn:nope:nope",
    ],
)
def test_a_path_that_names_nothing_is_invalid_path(text):
    with pytest.raises(InvalidPath):
        parse_path(USER, text)


def test_a_path_must_be_a_string():
    with pytest.raises(InvalidPath):
        parse_path(USER, ["userName"])


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ('emails[type eq "work"]', {"type": "work"}),
        ('emails[type eq "work" and primary eq true]', {"type": "work", "primary": True}),
        ('emails[type eq "work" or type eq "home"]', None),
        ('emails[type co "work"]', None),
        ('emails[not (type eq "work")]', None),
        ('emails[type eq "work" and type eq "home"]', None),
    ],
)
def test_only_equality_joined_by_and_pins_a_value_down(text, terms):
    assert equality_terms(parse_path(USER, text).value_filter) == terms
