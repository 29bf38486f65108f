"""The identity store against the in-memory evaluator (RFC 7644 §3.4.2.2, §3.4.2.3), property-based.

Generated users and groups go into the real store (its tables, indexes, computed ``groups``); a generated
filter and sort then must select and order exactly what ``filter_eval.matches`` and ``sort.sort_key`` say
of the resources the store serves.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scimsaga.actors.identity import IdentityService
from scimsaga.scim.filter import And, Compare, Filter, Not, Or, Present, ValuePath, resolve_path
from scimsaga.scim.filter_eval import matches
from scimsaga.scim.listing import ListQuery
from scimsaga.scim.resource import Meta, parse_resource, render
from scimsaga.scim.schema import GROUP, GROUP_SCHEMA_URN, USER, USER_SCHEMA_URN, ResourceType
from scimsaga.scim.sort import resolve_sort, sort_key
from scimsaga.settings import Settings
from scimsaga.storage import open_database, transaction

TEXT = st.sampled_from(["ada", "Ada", "ADA", "bob", "Straße", "STRASSE", "a%b", "x_y", "", "ß"])
NAMES = st.sampled_from(["ada", "Bob", "cy", "Straße", "strasse2", "dee", "E_f", "g%h"])
OPERATORS = st.sampled_from(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"])


class Ids:
    def __init__(self) -> None:
        self._numbers = itertools.count(1)

    def __call__(self) -> str:
        return f"id{next(self._numbers)}"


class Clock:
    """Each write a later instant; some writes share one, so ties are exercised."""

    def __init__(self) -> None:
        self._ticks = itertools.count(0)

    def __call__(self) -> str:
        return f"2026-01-31T09:30:{next(self._ticks) // 3:02d}.000Z"


USER_BODY = st.fixed_dictionaries(
    {"userName": NAMES},
    optional={
        "title": TEXT,
        "active": st.booleans(),
        "name": st.fixed_dictionaries({}, optional={"familyName": TEXT}),
        "emails": st.lists(
            st.fixed_dictionaries({"value": TEXT}, optional={"primary": st.booleans(), "type": TEXT}),
            max_size=2,
        ),
    },
)
GROUP_BODY = st.fixed_dictionaries(
    {"displayName": NAMES, "members": st.lists(st.integers(0, 9), max_size=4)}, optional={"externalId": TEXT}
)


def build_store(users: list[dict[str, Any]], groups: list[dict[str, Any]]) -> tuple[IdentityService, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="store-eq-"))
    service = IdentityService(Settings(data_dir=data_dir), clock=Clock(), ids=Ids())
    conn = open_database(data_dir / "identity.sqlite")
    service.install(conn)
    user_ids: list[str] = []
    group_ids: list[str] = []
    with transaction(conn):
        for body in users:
            user, _ = service.create(
                conn, "User", parse_resource(USER, {"schemas": [USER_SCHEMA_URN], **body}), "c"
            )
            user_ids.append(user.id)
        for body in groups:
            candidates = user_ids + group_ids
            members = (
                [{"value": candidates[i % len(candidates)]} for i in body["members"]] if candidates else []
            )
            sent = {
                "schemas": [GROUP_SCHEMA_URN],
                "displayName": body["displayName"],
                "members": members,
                **({"externalId": body["externalId"]} if "externalId" in body else {}),
            }
            group, _ = service.create(conn, "Group", parse_resource(GROUP, sent), "c")
            group_ids.append(group.id)
    return service, conn


def served(service: IdentityService, conn: Any, resource_type: ResourceType) -> list[dict[str, Any]]:
    page = service.query(conn, resource_type.name, ListQuery(count=1000))
    return [
        render(
            resource_type,
            r.id,
            r.attributes,
            Meta(resource_type.name, r.created, r.last_modified, f"/x/{r.id}", r.version),
        )
        for r in page.resources
    ]


def logical(children: st.SearchStrategy[Filter]) -> st.SearchStrategy[Filter]:
    return st.one_of(
        st.builds(And, children, children), st.builds(Or, children, children), st.builds(Not, children)
    )


def group_filters(values: st.SearchStrategy[str]) -> st.SearchStrategy[Filter]:
    def path(text: str) -> Any:
        return resolve_path(GROUP, text)

    member_conditions = st.one_of(
        st.builds(Compare, st.sampled_from([path("members.value"), path("members.type")]), OPERATORS, values),
        st.builds(Present, st.sampled_from([path("members.value"), path("members.display")])),
    )
    leaves = st.one_of(
        st.builds(
            Compare,
            st.sampled_from(
                [
                    path("displayName"),
                    path("externalId"),
                    path("members.value"),
                    path("members.type"),
                    path("id"),
                ]
            ),
            OPERATORS,
            values,
        ),
        st.builds(Present, st.sampled_from([path("members"), path("externalId"), path("displayName")])),
        st.builds(
            ValuePath, st.just(path("members")), st.recursive(member_conditions, logical, max_leaves=2)
        ),
    )
    return st.recursive(leaves, logical, max_leaves=4)


def user_filters(values: st.SearchStrategy[str]) -> st.SearchStrategy[Filter]:
    def path(text: str) -> Any:
        return resolve_path(USER, text)

    computed = st.builds(
        Compare, st.sampled_from([path("groups.value"), path("groups.display")]), OPERATORS, values
    )
    leaves = st.one_of(
        computed,
        st.builds(
            Compare,
            st.sampled_from([path("userName"), path("title"), path("emails.value"), path("id")]),
            OPERATORS,
            values,
        ),
        st.builds(Compare, st.just(path("active")), st.sampled_from(["eq", "ne"]), st.booleans()),
        st.builds(Present, st.sampled_from([path("groups"), path("emails"), path("title")])),
        st.builds(
            ValuePath,
            st.just(path("groups")),
            st.builds(Compare, st.just(path("groups.display")), OPERATORS, values),
        ),
    )
    return st.recursive(leaves, logical, max_leaves=4)


def pool(resources: list[dict[str, Any]]) -> st.SearchStrategy[str]:
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(resources)
    texts = sorted(text for text in found if not text.startswith(("/x/", "urn:")))
    return st.one_of(TEXT, st.sampled_from(texts)) if texts else TEXT


def expected_order(
    resources: list[dict[str, Any]], resource_type: ResourceType, sort_by: str | None, descending: bool
) -> list[str]:
    ordered = sorted(resources, key=lambda r: (r["meta"]["created"], r["id"]))
    if sort_by is not None:
        path = resolve_sort(resource_type, sort_by)
        ordered = sorted(ordered, key=lambda r: sort_key(path, r), reverse=descending)
    return [r["id"] for r in ordered]


CASES = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@CASES
@given(
    st.lists(USER_BODY, max_size=5, unique_by=lambda b: b["userName"].casefold()),
    st.lists(GROUP_BODY, max_size=4, unique_by=lambda b: b["displayName"].casefold()),
    st.data(),
)
def test_group_queries_in_sql_match_the_evaluator(users, groups, data) -> None:
    service, conn = build_store(users, groups)
    try:
        resources = served(service, conn, GROUP)
        flt = data.draw(group_filters(pool(resources)), label="filter")
        sort_by = data.draw(
            st.sampled_from(
                [None, "displayName", "externalId", "members.value", "members", "meta.created", "id"]
            ),
            label="sortBy",
        )
        descending = data.draw(st.booleans(), label="descending")
        query = ListQuery(
            filter=str(flt),
            count=1000,
            sort_by=sort_by,
            sort_order="descending" if descending else "ascending",
        )
        found = [r.id for r in service.query(conn, "Group", query).resources]
        wanted = expected_order([r for r in resources if matches(flt, r)], GROUP, sort_by, descending)
        assert found == wanted, (str(flt), sort_by, descending)
    finally:
        conn.close()


@CASES
@given(
    st.lists(USER_BODY, max_size=5, unique_by=lambda b: b["userName"].casefold()),
    st.lists(GROUP_BODY, max_size=3, unique_by=lambda b: b["displayName"].casefold()),
    st.data(),
)
def test_user_queries_in_sql_match_the_evaluator(users, groups, data) -> None:
    service, conn = build_store(users, groups)
    try:
        resources = served(service, conn, USER)
        flt = data.draw(user_filters(pool(resources)), label="filter")
        sort_by = data.draw(
            st.sampled_from(
                [
                    None,
                    "userName",
                    "title",
                    "emails.value",
                    "emails",
                    "name.familyName",
                    "active",
                    "groups.display",
                    "meta.lastModified",
                ]
            ),
            label="sortBy",
        )
        descending = data.draw(st.booleans(), label="descending")
        query = ListQuery(
            filter=str(flt),
            count=1000,
            sort_by=sort_by,
            sort_order="descending" if descending else "ascending",
        )
        found = [r.id for r in service.query(conn, "User", query).resources]
        wanted = expected_order([r for r in resources if matches(flt, r)], USER, sort_by, descending)
        assert found == wanted, (str(flt), sort_by, descending)
    finally:
        conn.close()
