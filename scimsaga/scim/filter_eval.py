"""Evaluate a parsed filter (RFC 7644 §3.4.2.2) against one resource held in memory.

The resource is a dict as served over SCIM: canonical attribute names, extension attributes under their
schema URN (RFC 7643 §3.3), ``id`` and ``meta`` included. Semantics, shared with ``filter_sql``:

* Strings compare after ``str.casefold()`` unless the attribute is ``caseExact`` (RFC 7643 §2.2);
  ``co``, ``sw`` and ``ew`` are substring, prefix and suffix tests; ``gt``, ``ge``, ``lt`` and ``le``
  order strings by code point, dateTimes by instant (RFC 7643 §2.3.5) and numbers by value.
* A multi-valued attribute matches when any of its values does (RFC 7644 §3.4.2.2).
* ``pr`` holds for a value that is neither null nor an empty string (RFC 7643 §2.5); a complex value is
  present when one of its sub-attributes is, a multi-valued attribute when one of its values is.
* A missing, null or ill-typed value matches no comparison, ``ne`` included: ``title ne "x"`` is false
  for a user without a title, while ``not (title eq "x")`` is true for that user. This is two-valued
  logic in which "unknown" is false; SQL's three-valued logic gives the same only when NULL is made
  false before ``NOT``, which ``filter_sql`` does.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from .filter import (
    NUMBER_TYPES,
    STRING_TYPES,
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
    datetime_key,
)
from .schema import Attribute, AttributeType

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


def matches(flt: Filter, resource: Mapping[str, Any]) -> bool:
    """Whether ``resource`` satisfies ``flt`` (RFC 7644 §3.4.2.2)."""
    return _matches(flt, resource, None)


def element_matches(flt: Filter, element: Mapping[str, Any]) -> bool:
    """Whether one value of a multi-valued complex attribute satisfies the filter inside a value path
    (``emails[type eq "work"]``, RFC 7644 §3.5.2): the paths in ``flt`` name its sub-attributes."""
    return _matches(flt, {}, element)


def _matches(node: Filter, resource: Mapping[str, Any], element: Mapping[str, Any] | None) -> bool:
    if isinstance(node, And):
        return _matches(node.left, resource, element) and _matches(node.right, resource, element)
    if isinstance(node, Or):
        return _matches(node.left, resource, element) or _matches(node.right, resource, element)
    if isinstance(node, Not):
        return not _matches(node.inner, resource, element)
    if isinstance(node, ValuePath):
        return _value_path(node, resource)
    values = _values(node.path, resource, element)
    if isinstance(node, Present):
        return any(is_present(value, node.path.definition) for value in values)
    return any(_compare(node, value) for value in values)


def _value_path(node: ValuePath, resource: Mapping[str, Any]) -> bool:
    """``attr[filter]``: one value of a multi-valued attribute must match the whole inner filter."""
    if not node.path.attribute.multi_valued:
        return _matches(node.inner, resource, None)
    return any(
        isinstance(item, Mapping) and _matches(node.inner, resource, item)
        for item in _values(node.path, resource, None)
    )


def _values(path: AttrPath, resource: Mapping[str, Any], element: Mapping[str, Any] | None) -> list[Any]:
    """The values ``path`` yields: one per value of a multi-valued attribute, none when missing."""
    if element is not None and path.sub_attribute is not None:
        return [element.get(path.sub_attribute.name)]
    container = resource.get(path.schema_urn) if path.in_extension else resource
    if not isinstance(container, Mapping):
        return []
    value = container.get(path.attribute.name)
    if path.attribute.multi_valued:
        return _sub_values(value if isinstance(value, list) else [], path.sub_attribute)
    if path.sub_attribute is None:
        return [value]
    return [value.get(path.sub_attribute.name)] if isinstance(value, Mapping) else []


def _sub_values(items: list[Any], sub_attribute: Attribute | None) -> list[Any]:
    if sub_attribute is None:
        return items
    return [item.get(sub_attribute.name) for item in items if isinstance(item, Mapping)]


def is_present(value: Any, attribute: Attribute) -> bool:
    """RFC 7643 §2.5: null and "" are unassigned; a complex value needs an assigned sub-attribute."""
    if attribute.type == AttributeType.COMPLEX:
        return isinstance(value, Mapping) and any(
            is_present(value.get(sub.name), sub) for sub in attribute.sub_attributes
        )
    return value is not None and value != ""


def _compare(node: Compare, value: Any) -> bool:
    attribute = node.path.definition
    if attribute.type in STRING_TYPES:
        return isinstance(value, str) and _compare_strings(node, value, attribute.case_exact)
    if attribute.type == AttributeType.BOOLEAN:
        return isinstance(value, bool) and _ORDER[node.op](value, node.value)
    if attribute.type in NUMBER_TYPES:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and _ORDER[node.op](
            value, node.value
        )
    if attribute.type == AttributeType.DATETIME:
        return _compare_datetimes(node, value)
    return False


def _compare_strings(node: Compare, actual: str, case_exact: bool) -> bool:
    expected = str(node.value)
    if not case_exact:
        actual, expected = actual.casefold(), expected.casefold()
    if node.op == "co":
        return expected in actual
    if node.op == "sw":
        return actual.startswith(expected)
    if node.op == "ew":
        return actual.endswith(expected)
    return _ORDER[node.op](actual, expected)


def _compare_datetimes(node: Compare, value: Any) -> bool:
    actual = datetime_key(value) if isinstance(value, str) else None
    expected = datetime_key(str(node.value))
    return actual is not None and expected is not None and _ORDER[node.op](actual, expected)
