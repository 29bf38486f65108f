"""Hypothesis strategies for "a PATCH and the equivalent PUT give the same resource".

A case is a starting resource (a POST body) and a list of changes. Each change is made twice: on a
plain dict standing for the resource as a PUT body (the model: what the change means), and as PATCH
operations in one of the spellings RFC 7644 §3.5.2 allows (with a path, with a dotted or URN-qualified
path, with a value filter, without a path). The PUT body after every change is the equivalent PUT.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from scimsaga.scim.schema import ENTERPRISE_USER_URN, GROUP_SCHEMA_URN, USER_SCHEMA_URN

TEXT = st.text(alphabet="abcdefgh XYZ-", min_size=1, max_size=8).filter(lambda t: t.strip() == t)
SIMPLE = ("displayName", "nickName", "title", "externalId")
NAME_PARTS = ("givenName", "familyName", "middleName")
EXTENSION_PARTS = ("department", "costCenter", "employeeNumber")
EMAIL_TYPES = ("work", "home", "other")


@dataclass
class Case:
    """A start body, the PUT body equivalent to the changes, and the PATCH operations making them."""

    start: dict[str, Any]
    target: dict[str, Any]
    operations: list[dict[str, Any]] = field(default_factory=list)


def _email(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    record: dict[str, Any] = {"value": f"{draw(TEXT).replace(' ', '')}@example.com", "type": kind}
    if draw(st.booleans()):
        record["display"] = draw(TEXT)
    return record


@st.composite
def user_bodies(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [USER_SCHEMA_URN, ENTERPRISE_USER_URN], "userName": draw(TEXT)}
    for name in SIMPLE:
        if draw(st.booleans()):
            body[name] = draw(TEXT)
    if draw(st.booleans()):
        body["active"] = draw(st.booleans())
    parts = draw(st.lists(st.sampled_from(NAME_PARTS), unique=True))
    if parts:
        body["name"] = {part: draw(TEXT) for part in parts}
    kinds = draw(st.lists(st.sampled_from(EMAIL_TYPES), unique=True))
    if kinds:
        body["emails"] = [_email(draw, kind) for kind in kinds]
        primary = draw(st.none() | st.sampled_from(range(len(kinds))))
        if primary is not None:
            body["emails"][primary]["primary"] = True
    extension = {part: draw(TEXT) for part in draw(st.lists(st.sampled_from(EXTENSION_PARTS), unique=True))}
    if extension:
        body[ENTERPRISE_USER_URN] = extension
    return body


def _drop_empty(body: dict[str, Any], key: str) -> None:
    if key in body and not body[key]:
        del body[key]


@st.composite
def user_cases(draw: st.DrawFn) -> Case:
    start = draw(user_bodies())
    case = Case(start, copy.deepcopy(start))
    pathless: dict[str, Any] = {}
    for _ in range(draw(st.integers(1, 6))):
        _user_change(draw, case, pathless)
    if pathless:
        case.operations.append({"op": "replace", "value": pathless})
    return case


def _user_change(draw: st.DrawFn, case: Case, pathless: dict[str, Any]) -> None:
    body = case.target
    ops = case.operations
    kind = draw(
        st.sampled_from(
            [
                "set",
                "unset",
                "name",
                "unname",
                "extension",
                "unextension",
                "add email",
                "remove email",
                "email value",
                "primary",
                "active",
            ]
        )
    )
    if kind == "set":
        name, value = draw(st.sampled_from((*SIMPLE, "userName"))), draw(TEXT)
        _flush(ops, pathless, name)
        body[name] = value
        spelling = draw(st.sampled_from(["replace", "add", "pathless", "urn"]))
        if spelling == "pathless":
            pathless[name] = value
        elif spelling == "urn" and name != "externalId":
            ops.append({"op": "replace", "path": f"{USER_SCHEMA_URN}:{name}", "value": value})
        else:
            ops.append({"op": "add" if spelling == "add" else "replace", "path": name, "value": value})
    elif kind == "unset":
        name = draw(st.sampled_from(SIMPLE))
        _flush(ops, pathless, name)
        body.pop(name, None)
        ops.append({"op": "remove", "path": name})
    elif kind == "active":
        value = draw(st.booleans())
        _flush(ops, pathless, "active")
        body["active"] = value
        ops.append({"op": "replace", "value": {"active": value}})
    elif kind == "name":
        part, value = draw(st.sampled_from(NAME_PARTS)), draw(TEXT)
        _flush(ops, pathless, f"name.{part}")
        body.setdefault("name", {})[part] = value
        spelling = draw(st.sampled_from(["dotted", "complex", "pathless"]))
        if spelling == "pathless":
            pathless[f"name.{part}"] = value
        elif spelling == "complex":
            ops.append({"op": "replace", "path": "name", "value": {part: value}})
        else:
            ops.append({"op": "add", "path": f"name.{part}", "value": value})
    elif kind == "unname":
        part = draw(st.sampled_from(NAME_PARTS))
        _flush(ops, pathless, f"name.{part}")
        body.get("name", {}).pop(part, None)
        _drop_empty(body, "name")
        ops.append({"op": "remove", "path": f"name.{part}"})
    elif kind == "extension":
        part, value = draw(st.sampled_from(EXTENSION_PARTS)), draw(TEXT)
        key = f"{ENTERPRISE_USER_URN}:{part}"
        _flush(ops, pathless, key)
        body.setdefault(ENTERPRISE_USER_URN, {})[part] = value
        spelling = draw(st.sampled_from(["urn", "whole", "pathless"]))
        if spelling == "pathless":
            pathless[key] = value
        elif spelling == "whole":
            ops.append({"op": "add", "path": ENTERPRISE_USER_URN, "value": {part: value}})
        else:
            ops.append({"op": "replace", "path": key, "value": value})
    elif kind == "unextension":
        part = draw(st.sampled_from(EXTENSION_PARTS))
        _flush(ops, pathless, f"{ENTERPRISE_USER_URN}:{part}")
        body.get(ENTERPRISE_USER_URN, {}).pop(part, None)
        _drop_empty(body, ENTERPRISE_USER_URN)
        ops.append({"op": "remove", "path": f"{ENTERPRISE_USER_URN}:{part}"})
    else:
        _email_change(draw, kind, case, pathless)


def _email_change(draw: st.DrawFn, kind: str, case: Case, pathless: dict[str, Any]) -> None:
    body, ops = case.target, case.operations
    _flush(ops, pathless, "emails")
    emails: list[dict[str, Any]] = body.setdefault("emails", [])
    present = [e["type"] for e in emails]
    if kind == "add email":
        free = [t for t in EMAIL_TYPES if t not in present]
        if not free:
            return
        record = _email(draw, draw(st.sampled_from(free)))
        if draw(st.booleans()):
            record["primary"] = True
            for other in emails:
                if other.get("primary") is True:
                    other["primary"] = False
        emails.append(record)
        ops.append({"op": "add", "path": "emails", "value": [copy.deepcopy(record)]})
    elif present:
        chosen = draw(st.sampled_from(present))
        where = f'emails[type eq "{chosen}"]'
        if kind == "remove email":
            emails[:] = [e for e in emails if e["type"] != chosen]
            ops.append({"op": "remove", "path": where})
        elif kind == "email value":
            value = f"{draw(TEXT).replace(' ', '')}@example.org"
            next(e for e in emails if e["type"] == chosen)["value"] = value
            ops.append({"op": "replace", "path": f"{where}.value", "value": value})
        else:
            for other in emails:
                if other["type"] == chosen:
                    other["primary"] = True
                elif other.get("primary") is True:
                    other["primary"] = False
            ops.append({"op": "replace", "path": f"{where}.primary", "value": True})
    _drop_empty(body, "emails")


def _flush(ops: list[dict[str, Any]], pathless: dict[str, Any], touching: str) -> None:
    """Send the path-less replace gathered so far before a change that touches what it holds, so the
    operations run in the order the model made the changes."""
    if pathless and any(
        touching == key or touching.startswith(key) or key.startswith(touching) for key in pathless
    ):
        ops.append({"op": "replace", "value": dict(pathless)})
        pathless.clear()


MEMBER_IDS = [f"m{n}" for n in range(12)]


@st.composite
def group_cases(draw: st.DrawFn) -> Case:
    members = draw(st.lists(st.sampled_from(MEMBER_IDS), unique=True, max_size=8))
    start: dict[str, Any] = {"schemas": [GROUP_SCHEMA_URN], "displayName": draw(TEXT)}
    if members:
        start["members"] = [{"value": m, "type": "User"} for m in members]
    case = Case(start, copy.deepcopy(start))
    for _ in range(draw(st.integers(1, 5))):
        current = [m["value"] for m in case.target.get("members", [])]
        kind = draw(st.sampled_from(["add", "remove", "replace", "rename"]))
        if kind == "rename":
            name = draw(TEXT)
            case.target["displayName"] = name
            case.operations.append({"op": "replace", "path": "displayName", "value": name})
            continue
        chosen = draw(st.lists(st.sampled_from(MEMBER_IDS), unique=True, max_size=6))
        if kind == "add":
            after = current + [m for m in chosen if m not in current]
            case.operations.append({"op": "add", "path": "members", "value": [{"value": m} for m in chosen]})
        elif kind == "replace":
            after = list(chosen)
            case.operations.append(
                {"op": "replace", "path": "members", "value": [{"value": m} for m in chosen]}
            )
        else:
            gone = [m for m in chosen if m in current]
            if not gone:
                continue
            after = [m for m in current if m not in gone]
            case.operations.append(
                {"op": "remove", "path": "members[" + " or ".join(f'value eq "{m}"' for m in gone) + "]"}
            )
        typed = {} if kind == "replace" else {m["value"]: m for m in case.target.get("members", [])}
        case.target["members"] = [typed.get(m, {"value": m}) for m in after]
        _drop_empty(case.target, "members")
    return case
