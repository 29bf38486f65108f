"""Translating filters to SQLite (RFC 7644 §3.4.2.2) and running them on a real in-memory database."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scimsaga.scim.errors import InvalidFilter
from scimsaga.scim.filter import MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, datetime_key, parse_filter
from scimsaga.scim.filter_eval import matches
from scimsaga.scim.filter_sql import (
    MultiValueIndex,
    SqlLayout,
    _datetime_key_sql,
    _prefix_successor,
    register_functions,
    to_sql,
)
from scimsaga.scim.schema import (
    ENTERPRISE_USER_URN,
    GROUP,
    USER,
    USER_SCHEMA_URN,
    Attribute,
    AttributeType,
    ResourceType,
    Schema,
)

SCHEMA = """
CREATE TABLE users (id TEXT PRIMARY KEY, user_name_key TEXT, resource TEXT, created TEXT,
                    last_modified TEXT, version_tag TEXT, state TEXT);
CREATE UNIQUE INDEX users_user_name_key ON users(user_name_key);
CREATE TABLE user_emails (user_id TEXT NOT NULL, value_key TEXT NOT NULL);
CREATE INDEX user_emails_value_key ON user_emails(value_key);
"""
ACTIVE = ("CASE WHEN json_type(resource, '$.active') IN ('true', 'false') "
          "THEN json_extract(resource, '$.active') = 1 AND state = 'active' END")
LAYOUT = SqlLayout(
    json_column="resource",
    id_column="id",
    expressions={
        "id": "id",
        "meta.created": "created",
        "meta.lastmodified": "last_modified",
        "meta.version": "version_tag",
        "meta.resourcetype": "'User'",
        "meta.location": "'https://example.com/v2/Users/' || id",
        "active": ACTIVE,
    },
    folded_columns={"username": "user_name_key"},
    value_indexes={"emails.value": MultiValueIndex("user_emails", "user_id", "value_key")},
)

DEPARTMENT = f"{ENTERPRISE_USER_URN}:department"
ROWS: list[tuple[str, str, str, str, dict[str, Any]]] = [
    ("alice", "2011-05-13T04:42:34Z", "2011-08-01T18:29:49.793Z", "active", {
        "schemas": [USER_SCHEMA_URN, ENTERPRISE_USER_URN],
        "externalId": "Alice-1",
        "userName": "Alice",
        "name": {"givenName": "Alice", "familyName": "O'Malley"},
        "title": "Vice President",
        "userType": "Employee",
        "active": True,
        "emails": [{"value": "alice@example.com", "type": "work", "primary": True},
                   {"value": "alice@home.org", "type": "home"}],
        "ims": [{"value": "alice@foo.com", "type": "xmpp"}],
        ENTERPRISE_USER_URN: {"department": "Sales", "manager": {"value": "bob", "displayName": "Bob"}},
    }),
    ("bob", "2012-01-01T00:00:00.000001+01:00", "2012-01-01T00:00:00+01:00", "active", {
        "schemas": [USER_SCHEMA_URN],
        "userName": "bob.\u00df",
        "name": {"givenName": "", "familyName": "Stra\u00dfe"},
        "title": "",
        "userType": "Intern",
        "active": False,
        "emails": [{"value": "bob@example.org", "type": "home"},
                   {"value": "bob@work.example.com", "type": "other", "primary": None}],
    }),
    ("carol", "2011-05-13T04:42:34.000001+00:00", "2020-01-01T00:00:00+00:00", "active", {
        "schemas": [USER_SCHEMA_URN],
        "userName": "CAROL%_",
        "emails": [],
    }),
    ("dave", "2026-11-29T22:15:11.123456+00:00", "2026-11-29T22:15:11.123457+00:00", "suspended", {
        "schemas": [USER_SCHEMA_URN, ENTERPRISE_USER_URN],
        "userName": "dave'; DROP TABLE users; --",
        "active": True,
        "emails": [{"value": "DAVE@Example.COM", "type": "work"}, "not an object", 7],
        ENTERPRISE_USER_URN: {"department": "sales"},
    }),
]


def served(user_id: str, created: str, modified: str, state: str, stored: dict[str, Any]) -> dict[str, Any]:
    """The resource as the store would serve it: stored JSON plus id, meta and the effective active."""
    resource = dict(stored, id=user_id, meta={
        "resourceType": "User", "created": created, "lastModified": modified, "version": f'W/"{user_id}"',
        "location": f"https://example.com/v2/Users/{user_id}",
    })
    if isinstance(stored.get("active"), bool):
        resource["active"] = stored["active"] and state == "active"
    return resource


def insert(db: sqlite3.Connection, user_id: str, created: str, modified: str, state: str,
           stored: dict[str, Any]) -> None:
    db.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?)", (
        user_id, str(stored["userName"]).casefold(), json.dumps(stored), created, modified, f'W/"{user_id}"',
        state,
    ))
    for email in stored.get("emails", []):
        if isinstance(email, dict) and isinstance(email.get("value"), str):
            db.execute("INSERT INTO user_emails VALUES (?, ?)", (user_id, email["value"].casefold()))


@pytest.fixture
def db() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    register_functions(connection, LAYOUT)
    connection.executescript(SCHEMA)
    for row in ROWS:
        insert(connection, *row)
    yield connection
    connection.close()


def sql_ids(db: sqlite3.Connection, text: str, resource_type: Any = USER) -> set[str]:
    where, params = to_sql(parse_filter(text, resource_type), LAYOUT)
    return {row[0] for row in db.execute(f"SELECT id FROM users WHERE {where}", params)}


def eval_ids(text: str) -> set[str]:
    flt = parse_filter(text, USER)
    return {row[0] for row in ROWS if matches(flt, served(*row))}


CASES: list[tuple[str, set[str]]] = [
    ('userName eq "alice"', {"alice"}),
    ('userName eq "BOB.SS"', {"bob"}),
    ('userName ne "alice"', {"bob", "carol", "dave"}),
    ('userName co "%"', {"carol"}),
    ('userName co "_"', {"carol"}),
    ('userName sw "BO"', {"bob"}),
    ('userName sw ""', {"alice", "bob", "carol", "dave"}),
    ('userName ew "S"', {"bob"}),
    ('userName ew ""', {"alice", "bob", "carol", "dave"}),
    ('userName gt "b"', {"bob", "carol", "dave"}),
    ('userName le "ALICE"', {"alice"}),
    ('userName eq "dave\'; DROP TABLE users; --"', {"dave"}),
    ('id eq "BOB"', set()),
    ('id eq "bob"', {"bob"}),
    ('externalId eq "alice-1"', set()),
    ('externalId eq "Alice-1"', {"alice"}),
    ('externalId co "Alice"', {"alice"}),
    ("title pr", {"alice"}),
    ("name pr", {"alice", "bob"}),
    ('name.familyName eq "STRASSE"', {"bob"}),
    ('name.familyName sw "strass"', {"bob"}),
    ('name.familyName gt "str"', {"bob"}),
    ("emails pr", {"alice", "bob", "dave"}),
    ("emails.primary pr", {"alice"}),
    ("not (title pr)", {"bob", "carol", "dave"}),
    ('title ne "Vice President"', {"bob"}),
    ('not (title eq "Vice President")', {"bob", "carol", "dave"}),
    ('emails co "EXAMPLE.COM"', {"alice", "bob", "dave"}),
    ('emails.value eq "dave@example.com"', {"dave"}),
    ('emails[value eq "ALICE@example.com"]', {"alice"}),
    ('emails[type eq "work" and value co "@example.com"]', {"alice", "dave"}),
    ('emails[type eq "other" and value co "example.org"]', set()),
    ('emails.type eq "other" and emails.value co "example.org"', {"bob"}),
    ('emails[type eq "work"].value ew ".COM"', {"alice", "dave"}),
    ('emails[not (type eq "work")]', {"alice", "bob"}),
    ("emails.primary eq true", {"alice"}),
    ('ims[type eq "xmpp" and value co "@foo.com"]', {"alice"}),
    (f'{DEPARTMENT} eq "sales"', {"alice", "dave"}),
    (f'not ({DEPARTMENT} eq "sales")', {"bob", "carol"}),
    (f'{DEPARTMENT} ne "sales"', set()),
    (f'{ENTERPRISE_USER_URN}:manager.value eq "BOB"', {"alice"}),
    (f"{ENTERPRISE_USER_URN}:manager pr", {"alice"}),
    (f'schemas eq "{ENTERPRISE_USER_URN.upper()}"', {"alice", "dave"}),
    ('schemas co "core"', {"alice", "bob", "carol", "dave"}),
    ("active eq true", {"alice"}),
    ("active eq false", {"bob", "dave"}),
    ("not (active eq true)", {"bob", "carol", "dave"}),
    ("active pr", {"alice", "bob", "dave"}),
    ('meta.created gt "2011-05-13T04:42:34Z"', {"bob", "carol", "dave"}),
    ('meta.created eq "2011-05-13T06:42:34+02:00"', {"alice"}),
    ('meta.created lt "2011-05-13T04:42:34.000001Z"', {"alice"}),
    ('meta.created ge "2011-12-31T23:00:00.000001Z"', {"bob", "dave"}),
    ('meta.created le "2026-11-29T22:15:11.123455Z"', {"alice", "bob", "carol"}),
    ('meta.lastModified le "2011-12-31T23:00:00Z"', {"alice", "bob"}),
    ('meta.lastModified gt "2026-11-29T22:15:11.123456Z"', {"dave"}),
    ('meta.resourceType eq "User"', {"alice", "bob", "carol", "dave"}),
    ('meta.location ew "/bob"', {"bob"}),
    ('meta.version eq "W/\\"carol\\""', {"carol"}),
    ("meta pr", {"alice", "bob", "carol", "dave"}),
    ('userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")', set()),
    ('title pr or userType eq "Intern" and not (emails.type eq "home")', {"alice"}),
    ('name[givenName eq "alice" and familyName pr]', {"alice"}),
    ('not (name[familyName sw "o"])', {"bob", "carol", "dave"}),
    ('meta[created lt "2011-05-14T00:00:00Z" and resourceType eq "User"]', {"alice", "carol"}),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[case[0] for case in CASES])
def test_sql_selects_what_the_evaluator_matches(
    db: sqlite3.Connection, text: str, expected: set[str]
) -> None:
    assert sql_ids(db, text) == expected
    assert eval_ids(text) == expected


@pytest.mark.parametrize("text", [case[0] for case in CASES])
def test_clause_is_two_valued(db: sqlite3.Connection, text: str) -> None:
    where, params = to_sql(parse_filter(text, USER), LAYOUT)
    values = {row[0] for row in db.execute(f"SELECT {where} FROM users", params)}
    assert values <= {0, 1}


def query_plan(db: sqlite3.Connection, text: str) -> str:
    where, params = to_sql(parse_filter(text, USER), LAYOUT)
    return " | ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN SELECT id FROM users WHERE {where}",
                                                   params))


def test_username_eq_uses_the_folded_index(db: sqlite3.Connection) -> None:
    assert "USING INDEX users_user_name_key (user_name_key=?)" in query_plan(db, 'userName eq "ALICE"')


def test_username_sw_uses_an_index_range(db: sqlite3.Connection) -> None:
    plan = query_plan(db, 'userName sw "Al"')
    assert "USING INDEX users_user_name_key (user_name_key>? AND user_name_key<?)" in plan


def test_email_eq_uses_the_value_index(db: sqlite3.Connection) -> None:
    for text in ('emails.value eq "alice@example.com"', 'emails eq "x"', 'emails[value eq "x"]'):
        assert "USING INDEX user_emails_value_key (value_key=?)" in query_plan(db, text)


def test_email_value_filter_with_more_than_eq_uses_json_each(db: sqlite3.Connection) -> None:
    where, _ = to_sql(parse_filter('emails[value eq "x" and type eq "work"]', USER), LAYOUT)
    assert "json_each(resource, '$.emails')" in where
    assert "user_emails" not in where


def test_or_of_indexed_terms_uses_both_indexes(db: sqlite3.Connection) -> None:
    plan = query_plan(db, 'userName eq "alice" or emails.value eq "bob@example.org"')
    assert "users_user_name_key" in plan
    assert "user_emails_value_key" in plan


def test_values_travel_as_parameters() -> None:
    text = 'userName eq "x\'); DROP TABLE users; --" or title co "%_\'"'
    where, params = to_sql(parse_filter(text, USER), LAYOUT)
    assert "DROP" not in where
    assert "%" not in where
    assert "LIKE" not in where.upper()
    assert params == ["x'); drop table users; --", "%_'"]


def test_json_paths_quote_urns() -> None:
    where, _ = to_sql(parse_filter(f'{DEPARTMENT} eq "x"', USER), LAYOUT)
    assert f"'$.\"{ENTERPRISE_USER_URN}\".department'" in where


def test_case_exact_value_index_checks_exact_value() -> None:
    db = sqlite3.connect(":memory:")
    layout = SqlLayout("resource", "id", value_indexes={
        "members.value": MultiValueIndex("group_members", "group_id", "member_key"),
    })
    register_functions(db, layout)
    db.executescript("""
        CREATE TABLE groups (id TEXT PRIMARY KEY, resource TEXT);
        CREATE TABLE group_members (group_id TEXT NOT NULL, member_key TEXT NOT NULL);
        CREATE INDEX group_members_key ON group_members(member_key);
    """)
    for group_id, member in (("g1", "AbC"), ("g2", "abc")):
        resource = json.dumps({"members": [{"value": member}]})
        db.execute("INSERT INTO groups VALUES (?, ?)", (group_id, resource))
        db.execute("INSERT INTO group_members VALUES (?, ?)", (group_id, member.casefold()))
    where, params = to_sql(parse_filter('members.value eq "abc"', GROUP), layout)
    assert "group_members" in where
    assert [row[0] for row in db.execute(f"SELECT id FROM groups WHERE {where}", params)] == ["g2"]
    plan = " ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN SELECT id FROM groups WHERE {where}",
                                                 params))
    assert "group_members_key" in plan


def test_longest_filters_run(db: sqlite3.Connection) -> None:
    for clause, joiner in (('userName eq "x"', " or "), ("not (title pr)", " and ")):
        count = (MAX_FILTER_LENGTH + len(joiner)) // (len(clause) + len(joiner))
        text = joiner.join([clause] * count)
        assert len(text) <= MAX_FILTER_LENGTH
        assert sql_ids(db, text) == eval_ids(text)


def nesting(text: str) -> int:
    depth = deepest = 0
    for char in text:
        depth += (char in "([") - (char in ")]")
        deepest = max(deepest, depth)
    return deepest


LEAVES = [
    'meta.created gt "2011-05-13T04:42:34Z"',
    'userName sw "a"',
    'emails[type eq "work" and (value co "x" or not (primary eq true))]',
    "name pr",
    'emails.value eq "x"',
    f'schemas eq "{ENTERPRISE_USER_URN}"',
]
WRAPPERS = [
    lambda level, inner: f'userName sw "a" {"and" if level % 2 else "or"} ({inner})',
    lambda level, inner: f'({inner}) {"and" if level % 2 else "or"} title pr',
    lambda level, inner: f"not ({inner})",
    lambda level, inner: f"not ({inner}) and title pr" if level % 2 else f"title pr or not ({inner})",
]


@pytest.mark.parametrize("leaf", LEAVES)
@pytest.mark.parametrize("wrapper", range(len(WRAPPERS)))
def test_deepest_filters_fit_the_sqlite_parser(db: sqlite3.Connection, leaf: str, wrapper: int) -> None:
    text = leaf
    for level in range(MAX_FILTER_DEPTH - nesting(leaf)):
        text = WRAPPERS[wrapper](level, text)
    with pytest.raises(InvalidFilter, match="nested deeper"):
        parse_filter(WRAPPERS[wrapper](0, text), USER)
    assert sql_ids(db, text) == eval_ids(text)


def test_deepest_value_filter_fits_the_sqlite_parser(db: sqlite3.Connection) -> None:
    inner = 'value co "x"'
    for level in range(MAX_FILTER_DEPTH - 1):
        inner = f'type eq "work" {"and" if level % 2 else "or"} not ({inner})'
    text = f"emails[{inner}]"
    assert sql_ids(db, text) == eval_ids(text)


def test_prefix_successor() -> None:
    assert _prefix_successor("ab") == "ac"
    assert _prefix_successor("a\U0010ffff") == "b"
    assert _prefix_successor("\U0010ffff") is None
    assert _prefix_successor("") is None
    assert _prefix_successor("a\ud7ff") == "a\ue000"


def test_prefix_range_at_code_point_edges() -> None:
    db = sqlite3.connect(":memory:")
    db.executescript("CREATE TABLE users (id TEXT PRIMARY KEY, user_name_key TEXT, resource TEXT);"
                     "CREATE INDEX users_key ON users(user_name_key);")
    register_functions(db, LAYOUT)
    names = ["a\ud7ff", "a\ud7ffz", "a\ue000", "\U0010ffff", "\U0010ffffx", "a\U0010ffff", "b"]
    for number, name in enumerate(names):
        db.execute("INSERT INTO users VALUES (?, ?, ?)", (str(number), name.casefold(), json.dumps({})))
    layout = SqlLayout("resource", "id", folded_columns={"username": "user_name_key"})
    for prefix in ("a\ud7ff", "\U0010ffff", "a", "a\U0010ffff"):
        where, params = to_sql(parse_filter(f'userName sw {json.dumps(prefix)}', USER), layout)
        found = {names[int(row[0])] for row in db.execute(f"SELECT id FROM users WHERE {where}", params)}
        assert found == {name for name in names if name.startswith(prefix)}, prefix


THING = ResourceType(
    id="Thing", name="Thing", endpoint="/Things", description="A test resource with every data type.",
    schema=Schema("urn:example:scim:Thing", "Thing", "Thing", (
        Attribute("count", AttributeType.INTEGER),
        Attribute("ratio", AttributeType.DECIMAL),
        Attribute("blob", AttributeType.BINARY, case_exact=True),
        Attribute("seen", AttributeType.DATETIME),
        Attribute("tags", multi_valued=True, case_exact=True),
        Attribute("$ref", AttributeType.REFERENCE),
    )),
)
THINGS: dict[str, dict[str, Any]] = {
    "t1": {"count": 3, "ratio": 0.5, "blob": "QUJD", "seen": "2020-01-01T10:00:00+10:00",
           "tags": ["A", "B"], "$ref": "https://example.com/t1"},
    "t2": {"count": -1, "ratio": 2, "seen": "2019-12-31T23:59:59.999999Z", "tags": ["a"]},
    "t3": {"count": True, "ratio": "1", "seen": "yesterday", "tags": []},
    "t4": {},
}


@pytest.mark.parametrize(("text", "expected"), [
    ("count gt 2", {"t1"}), ("count le 3", {"t1", "t2"}), ("count eq 1", set()), ("count ne 3", {"t2"}),
    ("ratio ge 0.5", {"t1", "t2"}), ("ratio lt 1", {"t1"}), ("ratio eq 2.0", {"t2"}),
    ('blob eq "QUJD"', {"t1"}), ('blob eq "qujd"', set()), ("blob pr", {"t1"}),
    ('seen eq "2020-01-01T00:00:00Z"', {"t1"}), ('seen lt "2020-01-01T00:00:00Z"', {"t2"}),
    ('seen ge "2019-12-31T23:59:59.999999Z"', {"t1", "t2"}), ("seen pr", {"t1", "t2", "t3"}),
    ('tags eq "a"', {"t2"}), ('tags sw "A"', {"t1"}), ("tags pr", {"t1", "t2"}), ('tags ne "a"', {"t1"}),
    ('$ref co "/t1"', {"t1"}), ("not ($ref pr)", {"t2", "t3", "t4"}),
])
def test_other_types(text: str, expected: set[str]) -> None:
    db = sqlite3.connect(":memory:")
    layout = SqlLayout("resource", "id")
    register_functions(db, layout)
    db.execute("CREATE TABLE things (id TEXT PRIMARY KEY, resource TEXT)")
    rows = [(key, json.dumps(value)) for key, value in THINGS.items()]
    db.executemany("INSERT INTO things VALUES (?, ?)", rows)
    flt = parse_filter(text, THING)
    where, params = to_sql(flt, layout)
    assert {row[0] for row in db.execute(f"SELECT id FROM things WHERE {where}", params)} == expected
    assert {key for key, value in THINGS.items() if matches(flt, value)} == expected


# --- dateTime keys: SQLite and Python agree --------------------------------------------------------


def _two(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


DATETIME_TEXT = st.one_of(
    st.builds(
        lambda y, mo, d, h, mi, s, frac, tz: f"{y}-{mo}-{d}T{h}:{mi}:{s}{frac}{tz}",
        st.integers(0, 9999).map(lambda n: f"{n:04d}"), _two(0, 13), _two(0, 32), _two(0, 25), _two(0, 60),
        _two(0, 61),
        st.one_of(st.just(""), st.just("."), st.text("0123456789", min_size=1, max_size=9).map(".".__add__)),
        st.one_of(st.sampled_from(["", "Z", "z", " Z", "+0100", "+01", "Zx"]),
                  st.builds("{}{}:{}".format, st.sampled_from("+-"), _two(0, 16), _two(0, 61))),
    ),
    st.text(max_size=30),
)


@settings(max_examples=300, deadline=None)
@given(DATETIME_TEXT)
def test_datetime_key_sql_matches_python(text: str) -> None:
    db = sqlite3.connect(":memory:")
    (key,) = db.execute(f"SELECT {_datetime_key_sql('?')}", (text,)).fetchone()
    assert key == datetime_key(text)


def test_datetime_key_edges() -> None:
    db = sqlite3.connect(":memory:")
    for text in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-01:00", "2011-05-13T04:42:34.9999999Z",
                 "2011-05-13T04:42:34-14:59", "2011-05-13T04:42:34+15:00", "2016-02-29T12:00:00Z"):
        (key,) = db.execute(f"SELECT {_datetime_key_sql('?')}", (text,)).fetchone()
        assert key == datetime_key(text), text
