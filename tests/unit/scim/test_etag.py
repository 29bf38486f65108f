"""Entity tags and conditions (RFC 7644 §3.14, RFC 9110 §13.1): weak comparison, lists, ``*``."""

from __future__ import annotations

import pytest

from scimsaga.scim.errors import InvalidSyntax, PreconditionFailed
from scimsaga.scim.etag import condition_holds, etag, parse_condition, require_match


def test_the_tag_of_a_version_is_weak():
    assert etag(3) == 'W/"3"'


@pytest.mark.parametrize(
    ("header", "holds"),
    [
        ('W/"3"', True),
        ('"3"', True),
        ('W/"2", W/"3"', True),
        ("*", True),
        (' W/"3" ', True),
        ('W/"4"', False),
        ('"30"', False),
        ('W/"a,b", "3"', True),
    ],
)
def test_conditions_compare_weakly(header, holds):
    assert condition_holds(header, 3) is holds


@pytest.mark.parametrize("header", ["3", "W/3", '"3', ",", 'W/"3" x'])
def test_a_header_that_is_not_entity_tags_is_invalid_syntax(header):
    with pytest.raises(InvalidSyntax):
        parse_condition(header)


def test_require_match_raises_412_naming_the_current_version():
    require_match(None, 5, "User 'u1'")
    require_match('W/"5"', 5, "User 'u1'")
    with pytest.raises(PreconditionFailed, match='W/"5"'):
        require_match('W/"4"', 5, "User 'u1'")
