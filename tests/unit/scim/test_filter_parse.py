"""Parsing filters (RFC 7644 §3.4.2.2): the RFC's examples, precedence, literals and errors."""

from __future__ import annotations

import re

import pytest

from scimsaga.scim.errors import InvalidFilter
from scimsaga.scim.filter import (
    MAX_FILTER_DEPTH,
    MAX_FILTER_LENGTH,
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
    datetime_key,
    parse_filter,
    resolve_path,
)
from scimsaga.scim.schema import (
    ENTERPRISE_USER_URN,
    GROUP,
    USER,
    Attribute,
    AttributeType,
    ResourceType,
    Schema,
)

THING = ResourceType(
    id="Thing", name="Thing", endpoint="/Things", description="A test resource with every data type.",
    schema=Schema("urn:example:scim:Thing", "Thing", "Thing", (
        Attribute("count", AttributeType.INTEGER),
        Attribute("ratio", AttributeType.DECIMAL),
        Attribute("blob", AttributeType.BINARY),
        Attribute("seen", AttributeType.DATETIME),
        Attribute("code", case_exact=True),
    )),
)


def p(text: str, resource_type: ResourceType = USER) -> AttrPath:
    return resolve_path(resource_type, text)


def parse(text: str) -> Filter:
    return parse_filter(text, USER)


# --- the examples of RFC 7644 §3.4.2.2 -------------------------------------------------------------


def test_rfc7644_3_4_2_2_username_eq_with_mixed_case_operator() -> None:
    assert parse('userName Eq "john"') == Compare(p("userName"), "eq", "john")


def test_rfc7644_3_4_2_2_name_family_name_contains() -> None:
    assert parse('name.familyName co "O\'Malley"') == Compare(p("name.familyName"), "co", "O'Malley")


def test_rfc7644_3_4_2_2_username_starts_with() -> None:
    assert parse('userName sw "J"') == Compare(p("userName"), "sw", "J")


def test_rfc7644_3_4_2_2_urn_qualified_username() -> None:
    text = 'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"'
    assert parse(text) == Compare(p("userName"), "sw", "J")


def test_rfc7644_3_4_2_2_title_present() -> None:
    assert parse("title pr") == Present(p("title"))


def test_rfc7644_3_4_2_2_meta_last_modified_orderings() -> None:
    for op in ("gt", "ge", "lt", "le"):
        text = f'meta.lastModified {op} "2011-05-13T04:42:34Z"'
        assert parse(text) == Compare(p("meta.lastModified"), op, "2011-05-13T04:42:34Z")


def test_rfc7644_3_4_2_2_title_present_and_user_type() -> None:
    assert parse('title pr and userType eq "Employee"') == And(
        Present(p("title")), Compare(p("userType"), "eq", "Employee")
    )


def test_rfc7644_3_4_2_2_title_present_or_user_type() -> None:
    assert parse('title pr or userType eq "Intern"') == Or(
        Present(p("title")), Compare(p("userType"), "eq", "Intern")
    )


def test_rfc7644_3_4_2_2_schemas_eq_enterprise_urn() -> None:
    node = parse(f'schemas eq "{ENTERPRISE_USER_URN}"')
    assert isinstance(node, Compare)
    assert node.path.attribute.name == "schemas"
    assert node.path.attribute.multi_valued
    assert not node.path.attribute.case_exact
    assert node.value == ENTERPRISE_USER_URN


def test_rfc7644_3_4_2_2_user_type_and_grouped_email_contains() -> None:
    text = 'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")'
    assert parse(text) == And(
        Compare(p("userType"), "eq", "Employee"),
        Or(Compare(p("emails.value"), "co", "example.com"), Compare(p("emails.value"), "co", "example.org")),
    )


def test_rfc7644_3_4_2_2_user_type_ne_and_not_grouped() -> None:
    text = 'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")'
    assert parse(text) == And(
        Compare(p("userType"), "ne", "Employee"),
        Not(Or(Compare(p("emails.value"), "co", "example.com"),
               Compare(p("emails.value"), "co", "example.org"))),
    )


def test_rfc7644_3_4_2_2_user_type_and_parenthesised_email_type() -> None:
    assert parse('userType eq "Employee" and (emails.type eq "work")') == And(
        Compare(p("userType"), "eq", "Employee"), Compare(p("emails.type"), "eq", "work")
    )


def test_rfc7644_3_4_2_2_user_type_and_complex_email_filter() -> None:
    text = 'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]'
    assert parse(text) == And(
        Compare(p("userType"), "eq", "Employee"),
        ValuePath(p("emails"), And(Compare(p("emails.type"), "eq", "work"),
                                   Compare(p("emails.value"), "co", "@example.com"))),
    )


def test_rfc7644_3_4_2_2_two_complex_filters_or() -> None:
    text = 'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]'
    assert parse(text) == Or(
        ValuePath(p("emails"), And(Compare(p("emails.type"), "eq", "work"),
                                   Compare(p("emails.value"), "co", "@example.com"))),
        ValuePath(p("ims"), And(Compare(p("ims.type"), "eq", "xmpp"),
                                Compare(p("ims.value"), "co", "@foo.com"))),
    )


# --- attribute paths -----------------------------------------------------------------------------


def test_paths_carry_resolved_definitions() -> None:
    node = parse('name.givenName eq "Barbara"')
    assert isinstance(node, Compare)
    assert node.path.attribute.name == "name"
    assert node.path.sub_attribute is not None
    assert node.path.sub_attribute.name == "givenName"
    assert node.path.definition.type == AttributeType.STRING
    assert not node.path.in_extension
    assert node.path.key == "name.givenname"


def test_extension_attribute_with_urn_prefix() -> None:
    node = parse(f'{ENTERPRISE_USER_URN}:department eq "Sales"')
    assert isinstance(node, Compare)
    assert node.path.in_extension
    assert node.path.schema_urn == ENTERPRISE_USER_URN
    assert node.path.attribute.name == "department"
    assert str(node) == f'{ENTERPRISE_USER_URN}:department eq "Sales"'


def test_extension_complex_sub_attribute() -> None:
    node = parse(f'{ENTERPRISE_USER_URN.upper()}:MANAGER.VALUE eq "26118915-6090-4610-87e4-49d8ca9f808d"')
    assert isinstance(node, Compare)
    assert node.path.name == "manager.value"
    assert node.path.key == f"{ENTERPRISE_USER_URN.lower()}:manager.value"


@pytest.mark.parametrize("sub", ["created", "lastModified", "resourceType", "version", "location"])
def test_meta_sub_attributes(sub: str) -> None:
    node = parse(f'meta.{sub} pr')
    assert node == Present(p(f"meta.{sub}"))


def test_case_insensitive_names_operators_and_keywords() -> None:
    assert parse('USERNAME EQ "x" AND Active Eq TRUE OR NOT (Title PR)') == Or(
        And(Compare(p("userName"), "eq", "x"), Compare(p("active"), "eq", True)),
        Not(Present(p("title"))),
    )


def test_complex_multi_valued_without_sub_attribute_compares_value() -> None:
    assert parse('emails co "x"') == Compare(p("emails.value"), "co", "x")


def test_complex_attribute_is_present() -> None:
    assert parse("name pr") == Present(p("name"))
    assert parse("emails pr") == Present(p("emails"))


def test_sub_attribute_after_value_filter() -> None:
    assert parse('emails[type eq "work"].value eq "x"') == ValuePath(
        p("emails"), And(Compare(p("emails.type"), "eq", "work"), Compare(p("emails.value"), "eq", "x"))
    )


def test_value_filter_with_not_and_parentheses() -> None:
    node = parse('emails[not (type eq "work") and (primary eq true or display pr)]')
    assert node == ValuePath(p("emails"), And(
        Not(Compare(p("emails.type"), "eq", "work")),
        Or(Compare(p("emails.primary"), "eq", True), Present(p("emails.display"))),
    ))


def test_group_members() -> None:
    node = parse_filter('members[value eq "2819c223"] and displayName sw "Tour"', GROUP)
    assert node == And(
        ValuePath(p("members", GROUP), Compare(p("members.value", GROUP), "eq", "2819c223")),
        Compare(p("displayName", GROUP), "sw", "Tour"),
    )


# --- precedence ----------------------------------------------------------------------------------


def test_and_binds_tighter_than_or() -> None:
    a, b, c = Present(p("title")), Present(p("userType")), Present(p("nickName"))
    assert parse("title pr or userType pr and nickName pr") == Or(a, And(b, c))
    assert parse("title pr and userType pr or nickName pr") == Or(And(a, b), c)


def test_not_binds_tighter_than_and() -> None:
    a, b = Present(p("title")), Present(p("userType"))
    assert parse("not (title pr) and userType pr") == And(Not(a), b)


def test_parentheses_override_precedence() -> None:
    a, b, c = Present(p("title")), Present(p("userType")), Present(p("nickName"))
    assert parse("(title pr or userType pr) and nickName pr") == And(Or(a, b), c)


def test_logical_operators_associate_left() -> None:
    a, b, c = Present(p("title")), Present(p("userType")), Present(p("nickName"))
    assert parse("title pr and userType pr and nickName pr") == And(And(a, b), c)


# --- literals ------------------------------------------------------------------------------------


def test_json_string_escapes() -> None:
    node = parse(r'displayName eq "a\"b\\c\/d\u00e9\n\t"')
    assert node == Compare(p("displayName"), "eq", 'a"b\\c/d\u00e9\n\t')


@pytest.mark.parametrize(("text", "value"), [
    ("count eq 42", 42), ("count eq -7", -7), ("count eq 0", 0),
    ("ratio gt 1.5", 1.5), ("ratio lt -2.25e3", -2250.0), ("ratio ge 1E-2", 0.01), ("ratio le 3", 3),
])
def test_numbers(text: str, value: float) -> None:
    node = parse_filter(text, THING)
    assert isinstance(node, Compare)
    assert node.value == value
    assert type(node.value) is type(value)


def test_booleans() -> None:
    assert parse("active eq false") == Compare(p("active"), "eq", False)
    assert parse("active ne TRUE") == Compare(p("active"), "ne", True)


@pytest.mark.parametrize("text", [
    'userName eq "a\\"b"', "title pr", "not (title pr)", 'emails[type eq "work"]',
    'meta.created ge "2011-05-13T04:42:34.5+02:00"', 'title pr and (nickName pr or userType pr)',
    'title pr or (nickName pr or userType pr)', 'not (not (title pr))', 'displayName eq "\u00e9\u00df"',
    'emails[(type eq "work" or type eq "home") and not (value ew ".org")]',
    f'{ENTERPRISE_USER_URN}:manager.displayName co "x"',
])
def test_str_round_trips(text: str) -> None:
    node = parse(text)
    assert parse(str(node)) == node


def test_nodes_are_hashable() -> None:
    text = 'emails[type eq "work"] and not (title pr)'
    assert len({parse(text), parse(text)}) == 1


def test_datetime_values() -> None:
    assert datetime_key("2011-05-13T04:42:34Z") == "2011-05-13T04:42:34.000000"
    assert datetime_key("2011-05-13T06:42:34.1234567+02:00") == "2011-05-13T04:42:34.123456"
    assert datetime_key("2011-05-13T04:42:34") == "2011-05-13T04:42:34.000000"
    for bad in ("2011-05-13", "2011-02-30T00:00:00Z", "2011-05-13T24:00:00Z", "2011-05-13 04:42:34Z",
                "2011-05-13T04:42:34+15:00", "2011-05-13T04:42:34.Z", "0000-01-01T00:00:00Z"):
        assert datetime_key(bad) is None, bad


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "position", "phrase"), [
    ('userName equals "x"', 9, "expected a comparison operator after 'userName', found 'equals'"),
    ("userName", 8, "expected a comparison operator after 'userName', found the end of the filter"),
    ('userName eq', 11, "expected a value"),
    ('userName eq and title pr', 12, "expected a value"),
    ('title pr "x"', 9, "'pr' takes no value"),
    ("title pr true", 9, "'pr' takes no value"),
    ("not title pr", 4, "expected '(' after 'not'"),
    ("(title pr", 9, "to close the '(' at position 0"),
    ("title pr)", 8, "without a matching '('"),
    ('emails[type eq "work"', 21, "to close the '[' at position 6"),
    ("title pr nickName pr", 9, "expected 'and', 'or' or the end of the filter, found 'nickName'"),
    ("title pr and", 12, "expected an attribute path"),
    ("", 0, "expected an attribute path"),
    ('foo eq "x"', 0, "unknown attribute 'foo' for resource type User"),
    ('name.nickName eq "x"', 0, "unknown attribute 'name.nickName'"),
    ('name. eq "x"', 0, "unknown attribute 'name.'"),
    ('urn:example:nope:department eq "x"', 0, "unknown attribute 'urn:example:nope:department'"),
    ('emails[foo eq "x"]', 7, "'emails' has no sub-attribute 'foo'"),
    ('emails[emails.type eq "x"]', 7, "has no sub-attribute"),
    ('emails[type eq "a"].nope eq "x"', 20, "has no sub-attribute 'nope'"),
    ('userName[type eq "x"]', 8, "needs a complex attribute"),
    ('emails[type[value eq "x"]]', 11, "cannot be nested"),
    ('password eq "secret"', 0, "cannot be used in a filter"),
    ('active eq "yes"', 10, "'active' is a boolean attribute: expected true or false"),
    ("active gt true", 7, "'gt' cannot be used on the boolean attribute 'active'"),
    ('active co "t"', 7, "'co' needs a string attribute"),
    ("meta.created gt 5", 16, "expected a dateTime string"),
    ('meta.created gt "yesterday"', 16, "expected a dateTime string"),
    ('meta.created gt "2011-05-13"', 16, "expected a dateTime string"),
    ('meta.created sw "2011"', 13, "'sw' needs a string attribute"),
    ('name eq "x"', 0, "'name' is a complex attribute"),
    ('meta gt "x"', 0, "'meta' is a complex attribute"),
    ('addresses eq "x"', 0, "'addresses' is a complex attribute"),
    ("userName eq 5", 12, "'userName' is a string attribute: expected a string, found 5"),
    ("title eq null", 9, "null cannot be compared; use 'title pr'"),
    ('userName eq "abc', 12, "unterminated string"),
    ('userName eq "a\\qb"', 14, "invalid string"),
    ('userName eq "\\u0000"', 12, "U+0000"),
    ('userName eq "\\ud800"', 12, "surrogates"),
    ("userName eq 01", 12, "invalid number '01'"),
    ("userName eq 1x", 12, "invalid number '1x'"),
    ("userName eq -", 12, "invalid number"),
    ("userName eq 1e999", 12, "out of range"),
    ('userName # "x"', 9, "unexpected character '#'"),
    ('userName eq "x" & title pr', 16, "unexpected character '&'"),
    ("[title pr]", 0, "expected an attribute path, found '['"),
])
def test_errors_point_at_the_problem(text: str, position: int, phrase: str) -> None:
    with pytest.raises(InvalidFilter) as caught:
        parse(text)
    detail = caught.value.detail
    assert detail.startswith(f"invalid filter at position {position}: "), detail
    assert phrase in detail
    assert caught.value.scim_type == "invalidFilter"
    assert caught.value.status == 400


@pytest.mark.parametrize(("text", "phrase"), [
    ("count co 1", "'co' needs a string attribute"),
    ("count eq 1.5", "expected an integer"),
    ('ratio eq "1"', "expected a number"),
    ("count eq 9223372036854775808", "between -2^63 and 2^63-1"),
    ('blob gt "AA=="', "'gt' cannot be used on the binary attribute 'blob'"),
])
def test_type_errors_for_other_types(text: str, phrase: str) -> None:
    with pytest.raises(InvalidFilter, match=re.escape(phrase)):
        parse_filter(text, THING)


def test_length_limit() -> None:
    longest = "title pr" + " " * (MAX_FILTER_LENGTH - len("title pr"))
    assert parse(longest) == Present(p("title"))
    with pytest.raises(InvalidFilter, match=f"longer than {MAX_FILTER_LENGTH} characters"):
        parse(longest + " ")


def test_long_chain_parses() -> None:
    text = " and ".join(["title pr"] * 157)
    assert len(text) <= MAX_FILTER_LENGTH
    assert parse(str(parse(text))) == parse(text)


def test_depth_limit() -> None:
    nested = "(" * MAX_FILTER_DEPTH + "title pr" + ")" * MAX_FILTER_DEPTH
    assert parse(nested) == Present(p("title"))
    with pytest.raises(InvalidFilter, match=f"position {MAX_FILTER_DEPTH}: filter nested deeper than 32"):
        parse("(" + nested + ")")


def test_depth_counts_not_and_value_filters() -> None:
    nested = "not (" * (MAX_FILTER_DEPTH - 1) + 'emails[type eq "x"]' + ")" * (MAX_FILTER_DEPTH - 1)
    parse(nested)
    with pytest.raises(InvalidFilter, match="nested deeper"):
        parse("not (" + nested + ")")
