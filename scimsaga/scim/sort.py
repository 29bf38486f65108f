"""Sorting (RFC 7644 §3.4.2.3): which value a resource sorts by, and how values order.

``sortBy`` names a simple attribute or a sub-attribute (``name.familyName``, ``emails.value``, a
URN-qualified extension attribute). A multi-valued attribute sorts by its primary value, else by its
first one; a complex multi-valued attribute named without a sub-attribute sorts by its ``value``.
Strings order by code point after ``str.casefold()`` unless the attribute is ``caseExact``;
dateTimes order by instant, numbers by value, ``false`` before ``true``. Resources without a value sort
last in ascending order and first in descending order (the exact reverse). Ties keep the store's
stable order, so paging through a sorted list sees every resource once. ``sort_sql`` computes the same
key in SQLite; the two are tested against each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import InvalidValue
from .filter import NUMBER_TYPES, STRING_TYPES, AttrPath, datetime_key, resolve_path
from .schema import AttributeType, ResourceType, Returned

SortValue = str | int | float | bool


def resolve_sort(resource_type: ResourceType, sort_by: str) -> AttrPath:
    """The attribute ``sortBy`` names; 400 ``invalidValue`` when it names nothing sortable."""
    try:
        path = resolve_path(resource_type, sort_by)
    except KeyError:
        raise InvalidValue(f"'sortBy': unknown attribute '{sort_by}' for {resource_type.name}") from None
    if path.definition.returned == Returned.NEVER:
        raise InvalidValue(f"'sortBy': '{path}' is never returned and cannot be sorted on")
    if path.definition.type == AttributeType.COMPLEX:
        value = path.attribute.sub_attribute("value") if path.attribute.multi_valued else None
        if value is None:
            raise InvalidValue(f"'sortBy': '{path}' is complex; name one of its sub-attributes")
        path = path.with_sub(value)
    return path


def sort_value(path: AttrPath, resource: Mapping[str, Any]) -> SortValue | None:
    """The value ``resource`` sorts by, normalised for comparison, or None when it has none."""
    container = resource.get(path.schema_urn) if path.in_extension else resource
    if not isinstance(container, Mapping):
        return None
    value = container.get(path.attribute.name)
    if path.attribute.multi_valued:
        value = _chosen(value if isinstance(value, list) else [], path)
    elif path.sub_attribute is not None:
        value = value.get(path.sub_attribute.name) if isinstance(value, Mapping) else None
    return _normalised(path, value)


def _chosen(items: list[Any], path: AttrPath) -> Any:
    """The primary value of a multi-valued attribute, else the first (RFC 7644 §3.4.2.3)."""
    if not items:
        return None
    chosen = next((item for item in items if isinstance(item, Mapping) and item.get("primary") is True),
                  items[0])
    if path.sub_attribute is None:
        return chosen
    return chosen.get(path.sub_attribute.name) if isinstance(chosen, Mapping) else None


def _normalised(path: AttrPath, value: Any) -> SortValue | None:
    kind = path.definition.type
    if kind in STRING_TYPES:
        if not isinstance(value, str):
            return None
        return value if path.definition.case_exact else value.casefold()
    if kind == AttributeType.DATETIME:
        return datetime_key(value) if isinstance(value, str) else None
    if kind == AttributeType.BOOLEAN:
        return value if isinstance(value, bool) else None
    if kind in NUMBER_TYPES:
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    return None


def sort_key(path: AttrPath, resource: Mapping[str, Any]) -> tuple[bool, SortValue]:
    """A key for ``sorted``: unassigned values after all others (use ``reverse=True`` to descend)."""
    value = sort_value(path, resource)
    return (True, "") if value is None else (False, value)
