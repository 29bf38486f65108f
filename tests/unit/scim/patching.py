"""Helpers for the PATCH tests: resources in stored form and PatchOp messages applied to them."""

from __future__ import annotations

from typing import Any

from scimsaga.scim.patch import apply_patch
from scimsaga.scim.patch_request import PATCH_OP_SCHEMA, parse_patch
from scimsaga.scim.resource import parse_resource
from scimsaga.scim.schema import (
    ENTERPRISE_USER_URN,
    GROUP,
    GROUP_SCHEMA_URN,
    USER,
    USER_SCHEMA_URN,
    ResourceType,
)
from scimsaga.scim.tolerance import LENIENT, STRICT, Tolerances

__all__ = ["ENTERPRISE_USER_URN", "LENIENT", "STRICT", "group", "message", "patched", "user"]


def user(user_name: str = "bjensen", **attributes: Any) -> dict[str, Any]:
    """A user as the store holds it, from a POST body."""
    schemas = [USER_SCHEMA_URN] + ([ENTERPRISE_USER_URN] if ENTERPRISE_USER_URN in attributes else [])
    return parse_resource(USER, {"schemas": schemas, "userName": user_name, **attributes})


def group(display_name: str = "Tour Guides", *member_ids: str, **attributes: Any) -> dict[str, Any]:
    """A group as the store holds it (members with their ``type``, as the store fills it in)."""
    body: dict[str, Any] = {"schemas": [GROUP_SCHEMA_URN], "displayName": display_name, **attributes}
    if member_ids:
        body["members"] = [{"value": member_id, "type": "User"} for member_id in member_ids]
    return parse_resource(GROUP, body)


def message(*operations: dict[str, Any]) -> dict[str, Any]:
    """A PatchOp message (RFC 7644 §3.5.2)."""
    return {"schemas": [PATCH_OP_SCHEMA], "Operations": list(operations)}


def patched(
    current: dict[str, Any],
    *operations: dict[str, Any],
    tolerances: Tolerances = STRICT,
    resource_type: ResourceType | None = None,
    resource_id: str = "id-1",
) -> dict[str, Any]:
    """``current`` after the operations; the resource type is guessed from ``current``'s schemas."""
    if resource_type is None:
        resource_type = GROUP if GROUP_SCHEMA_URN in current["schemas"] else USER
    request = parse_patch(resource_type, message(*operations), tolerances)
    return apply_patch(resource_type, current, request, resource_id)
