"""Generated users and filters (RFC 7644 §3.4.2.2): printing round-trips, and SQL agrees with evaluation."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from scimsaga.scim.filter import (
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
    parse_filter,
    resolve_path,
)
from scimsaga.scim.filter_eval import matches
from scimsaga.scim.filter_sql import MultiValueIndex, SqlLayout, register_functions, to_sql
from scimsaga.scim.schema import ENTERPRISE_USER_URN, USER, USER_SCHEMA_URN

LAYOUT = SqlLayout(
    json_column="resource",
    id_column="id",
    expressions={
        "id": "id",
        "meta.created": "created",
        "meta.lastmodified": "last_modified",
        "meta.version": "version_tag",
        "meta.resourcetype": "'User'",
        "active": "CASE WHEN json_type(resource, '$.active') IN ('true', 'false') "
                  "THEN json_extract(resource, '$.active') = 1 AND state = 'active' END",
    },
    folded_columns={"username": "user_name_key"},
    value_indexes={"emails.value": MultiValueIndex("user_emails", "user_id", "value_key")},
)
SCHEMA = """
CREATE TABLE users (id TEXT PRIMARY KEY, user_name_key TEXT, resource TEXT, created TEXT,
                    last_modified TEXT, version_tag TEXT, state TEXT);
CREATE UNIQUE INDEX users_user_name_key ON users(user_name_key);
CREATE TABLE user_emails (user_id TEXT NOT NULL, value_key TEXT NOT NULL);
CREATE INDEX user_emails_value_key ON user_emails(value_key);
"""

# --- data ----------------------------------------------------------------------------------------

TEXT = st.one_of(
    st.sampled_from(["\u00df", "ss", "SS", "\u212a", "k", "K", "a@b.c", "A@B.C", "%", "_", ""]),
    st.text("aAbB\u00dfsS\u212ak@._%", max_size=4),
)
EMAIL_TYPES = st.sampled_from(["work", "home", "Work", "other"])
IDS = [f"u{number}" for number in range(6)]

BASE = datetime(2011, 5, 13, 4, 42, 34, tzinfo=timezone.utc)
INSTANTS = [BASE + delta for delta in (
    timedelta(0), timedelta(microseconds=1), timedelta(microseconds=-1), timedelta(milliseconds=1),
    timedelta(seconds=1), timedelta(hours=-1), timedelta(days=1), timedelta(days=5000, microseconds=123456),
)]
OFFSETS = [timedelta(0), timedelta(hours=1), timedelta(hours=-5, minutes=-30), timedelta(hours=14)]


def render_datetime(instant: datetime, offset: timedelta, style: str) -> str:
    local = instant.astimezone(timezone(offset))
    if style == "iso":
        return local.isoformat()
    if style == "zulu":
        return instant.astimezone(timezone.utc).replace(tzinfo=None).isoformat() + "Z"
    if style == "naive":
        return instant.astimezone(timezone.utc).replace(tzinfo=None).isoformat()
    return local.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + local.strftime("%z")[:3] + ":" + local.strftime(
        "%z")[3:]


DATETIMES = st.builds(render_datetime, st.sampled_from(INSTANTS), st.sampled_from(OFFSETS),
                      st.sampled_from(["iso", "zulu", "naive", "millis"]))

EMAIL = st.fixed_dictionaries({}, optional={
    "value": TEXT, "type": EMAIL_TYPES, "primary": st.booleans(), "display": TEXT,
})
ENTERPRISE = st.fixed_dictionaries({}, optional={"department": TEXT, "costCenter": TEXT})
STORED = st.fixed_dictionaries({"userName": TEXT}, optional={
    "externalId": TEXT,
    "name": st.fixed_dictionaries({}, optional={"givenName": TEXT, "familyName": TEXT}),
    "title": TEXT,
    "active": st.booleans(),
    "emails": st.lists(EMAIL, max_size=3),
    ENTERPRISE_USER_URN: ENTERPRISE,
})
ROW = st.tuples(STORED, DATETIMES, DATETIMES, st.sampled_from(["active", "suspended"]))
ROWS = st.lists(ROW, max_size=len(IDS), unique_by=lambda row: str(row[0]["userName"]).casefold())


def with_schemas(stored: dict[str, Any]) -> dict[str, Any]:
    schemas = [USER_SCHEMA_URN] + ([ENTERPRISE_USER_URN] if ENTERPRISE_USER_URN in stored else [])
    return {"schemas": schemas, **stored}


def served(user_id: str, stored: dict[str, Any], created: str, modified: str, state: str) -> dict[str, Any]:
    resource = dict(stored, id=user_id, meta={
        "resourceType": "User", "created": created, "lastModified": modified, "version": f'W/"{user_id}"',
    })
    if "active" in stored:
        resource["active"] = stored["active"] and state == "active"
    return resource


def database(rows: list[tuple[dict[str, Any], str, str, str]]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    register_functions(db, LAYOUT)
    db.executescript(SCHEMA)
    for user_id, (stored, created, modified, state) in zip(IDS[:len(rows)], rows, strict=True):
        db.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?)", (
            user_id, stored["userName"].casefold(), json.dumps(stored), created, modified, f'W/"{user_id}"',
            state,
        ))
        for email in stored.get("emails", []):
            if "value" in email:
                db.execute("INSERT INTO user_emails VALUES (?, ?)", (user_id, email["value"].casefold()))
    return db


# --- filters -------------------------------------------------------------------------------------


def path(text: str) -> AttrPath:
    return resolve_path(USER, text)


STRING_PATHS = [path(text) for text in (
    "userName", "title", "externalId", "name.givenName", "name.familyName", "emails.value", "emails.type",
    f"{ENTERPRISE_USER_URN}:department", f"{ENTERPRISE_USER_URN}:costCenter",
)]
PRESENT_PATHS = [path(text) for text in (
    "userName", "title", "name", "name.givenName", "active", "emails", "emails.primary", "emails.display",
    "meta", "meta.created", f"{ENTERPRISE_USER_URN}:department", f"{ENTERPRISE_USER_URN}:manager", "schemas",
)]
EMAIL_PATHS = [path("emails.value"), path("emails.type"), path("emails.display")]
ALL_OPERATORS = st.sampled_from(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"])
ORDER_OPERATORS = st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"])
SCHEMA_VALUES = st.sampled_from([USER_SCHEMA_URN, ENTERPRISE_USER_URN.upper(), "core", "User", ""])
TRANSFORMS = st.sampled_from([str, str.upper, str.lower, str.casefold, str.swapcase])


def logical(children: st.SearchStrategy[Filter]) -> st.SearchStrategy[Filter]:
    return st.one_of(st.builds(And, children, children), st.builds(Or, children, children),
                     st.builds(Not, children))


def filters(values: st.SearchStrategy[str]) -> st.SearchStrategy[Filter]:
    """Filters over the User attributes in the data, with string literals drawn from ``values``."""
    comparisons = st.one_of(
        st.builds(Compare, st.sampled_from(STRING_PATHS), ALL_OPERATORS, values),
        st.builds(Compare, st.just(path("id")), ALL_OPERATORS, st.one_of(st.sampled_from(IDS), values)),
        st.builds(Compare, st.just(path("schemas")), ALL_OPERATORS, SCHEMA_VALUES),
        st.builds(Compare, st.sampled_from([path("active"), path("emails.primary")]),
                  st.sampled_from(["eq", "ne"]), st.booleans()),
        st.builds(Compare, st.sampled_from([path("meta.created"), path("meta.lastModified")]),
                  ORDER_OPERATORS, DATETIMES),
    )
    email_conditions = st.one_of(
        st.builds(Compare, st.sampled_from(EMAIL_PATHS), ALL_OPERATORS, values),
        st.builds(Compare, st.just(path("emails.primary")), st.sampled_from(["eq", "ne"]), st.booleans()),
        st.builds(Present, st.sampled_from([path(f"emails.{sub}") for sub in ("value", "type", "primary")])),
    )
    leaves = st.one_of(
        comparisons,
        st.builds(Present, st.sampled_from(PRESENT_PATHS)),
        st.builds(ValuePath, st.just(path("emails")), st.recursive(email_conditions, logical, max_leaves=3)),
    )
    return st.recursive(leaves, logical, max_leaves=6)


def strings_in(value: object) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*(strings_in(item) for item in value))
    return set()


def related(text: str) -> st.SearchStrategy[str]:
    """``text``, a prefix, suffix or piece of it, in some letter case: values likely to match the data."""
    pieces = st.one_of(
        st.just(text),
        st.integers(1, 4).map(lambda length: text[:length]),
        st.integers(1, 4).map(lambda length: text[-length:]),
        st.integers(0, 3).map(lambda start: text[start:start + 2] or text),
    )
    return st.builds(lambda transform, piece: transform(piece), TRANSFORMS, pieces)


def values_like(rows: list[tuple[dict[str, Any], str, str, str]]) -> st.SearchStrategy[str]:
    pool = sorted(text for text in strings_in([row[0] for row in rows]) if text)
    return st.one_of(TEXT, st.sampled_from(pool).flatmap(related)) if pool else TEXT


@settings(max_examples=200, deadline=None)
@given(filters(TEXT))
def test_printed_filters_parse_back_to_the_same_tree(flt: Filter) -> None:
    assert parse_filter(str(flt), USER) == flt


@settings(max_examples=200, deadline=None)
@given(ROWS, st.data())
def test_sql_selects_exactly_what_the_evaluator_matches(
    rows: list[tuple[dict[str, Any], str, str, str]], data: st.DataObject
) -> None:
    rows = [(with_schemas(stored), created, modified, state) for stored, created, modified, state in rows]
    flt = data.draw(filters(values_like(rows)), label="filter")
    expected = {
        user_id for user_id, (stored, created, modified, state) in zip(IDS[:len(rows)], rows, strict=True)
        if matches(flt, served(user_id, stored, created, modified, state))
    }
    where, params = to_sql(flt, LAYOUT)
    db = database(rows)
    try:
        found = {row[0] for row in db.execute(f"SELECT id FROM users WHERE {where}", params)}
    finally:
        db.close()
    assert found == expected, (str(flt), where, params)
