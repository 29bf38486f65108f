"""The ``path`` of a PATCH operation (RFC 7644 §3.5.2): ``PATH = attrPath / valuePath [subAttr]``.

Paths resolve against the resource type like filter paths do (``filter.resolve_path``), in any letter
case and URN-qualified or not (RFC 7644 §3.10). Where the RFC is silent this module decides:

* A bare extension URN (``urn:ietf:params:scim:schemas:extension:enterprise:2.0:User``) names the whole
  extension object, which ``add``/``replace`` merge into and ``remove`` removes.
* ``emails.value`` (a sub-attribute of a multi-valued attribute, no filter) names that sub-attribute in
  every value, as ``emails[value pr or not (value pr)].value`` would.
* A value filter needs a multi-valued complex attribute; ``name[givenName eq "x"]`` is ``invalidPath``.
* ``schemas`` cannot be a target: it follows from the attributes a resource has.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidFilter, InvalidPath
from .filter import SCHEMAS_ATTRIBUTE, And, Compare, Filter, ValuePath, parse_filter, resolve_path
from .schema import Attribute, AttributeType, ResourceType, Schema


@dataclass(frozen=True)
class PatchPath:
    """A resolved PATCH target.

    ``attribute`` is None when the path is a bare extension URN (``schema`` is then that extension).
    ``sub_attribute`` is the sub-attribute after a dot or after ``]``; ``value_filter`` the filter inside
    ``[...]`` (None without brackets). ``in_extension`` says whether the attribute lives under its
    schema's URN key in a resource (RFC 7643 §3.3).
    """

    text: str
    schema: Schema
    attribute: Attribute | None
    in_extension: bool
    sub_attribute: Attribute | None = None
    value_filter: Filter | None = None

    @property
    def definition(self) -> Attribute | None:
        """The attribute whose value the operation carries: the sub-attribute when there is one."""
        return self.sub_attribute if self.sub_attribute is not None else self.attribute

    @property
    def selects_values(self) -> bool:
        """Whether the path picks values of a multi-valued attribute (by filter, or all of them)."""
        return self.attribute is not None and self.attribute.multi_valued and (
            self.value_filter is not None or self.sub_attribute is not None)

    def __str__(self) -> str:
        return self.text


def parse_path(resource_type: ResourceType, text: object) -> PatchPath:
    """Resolve the ``path`` of a PATCH operation; 400 ``invalidPath`` when it names nothing here."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidPath(f"'path' must be a non-empty string naming an attribute, not {text!r}")
    text = text.strip()
    extension = resource_type.extension(text)
    if extension is not None:
        return PatchPath(text, extension, None, True)
    if "[" in text:
        return _value_path(resource_type, text)
    try:
        found = resolve_path(resource_type, text)
    except KeyError:
        raise InvalidPath(f"'{text}' is not an attribute of {resource_type.name}; "
                          f"see /Schemas for the attributes it has") from None
    if found.attribute is SCHEMAS_ATTRIBUTE:
        raise InvalidPath("'schemas' cannot be patched: it follows from the attributes the resource has")
    schema = _schema(resource_type, found.schema_urn)
    return PatchPath(text, schema, found.attribute, found.in_extension, found.sub_attribute)


def _schema(resource_type: ResourceType, urn: str) -> Schema:
    return resource_type.extension(urn) or resource_type.schema


def _closing_bracket(text: str, opening: int) -> int:
    """The index of the ``]`` closing the ``[`` at ``opening``, skipping JSON strings in the filter."""
    quoted, escaped = False, False
    for index in range(opening + 1, len(text)):
        char = text[index]
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "]" and not quoted:
            return index
    raise InvalidPath(f"'{text}': the '[' at position {opening} is never closed")


def _value_path(resource_type: ResourceType, text: str) -> PatchPath:
    opening = text.index("[")
    closing = _closing_bracket(text, opening)
    rest = text[closing + 1:]
    if rest and not rest.startswith("."):
        raise InvalidPath(f"'{text}': after ']' only '.subAttribute' may follow, not '{rest}'")
    try:
        parsed = parse_filter(text[:closing + 1], resource_type)
    except InvalidFilter as error:
        raise InvalidPath(f"'{text}': {error.detail}") from None
    if not isinstance(parsed, ValuePath):
        raise InvalidPath(f"'{text}' is not an attribute path with a value filter")
    attribute = parsed.path.attribute
    if not attribute.multi_valued or attribute.type != AttributeType.COMPLEX:
        raise InvalidPath(f"'{text}': a value filter needs a multi-valued complex attribute, "
                          f"and '{attribute.name}' is not one")
    sub_attribute = None
    if rest:
        sub_attribute = attribute.sub_attribute(rest[1:])
        if sub_attribute is None:
            raise InvalidPath(f"'{text}': '{attribute.name}' has no sub-attribute '{rest[1:]}'")
    schema = _schema(resource_type, parsed.path.schema_urn)
    return PatchPath(text, schema, attribute, parsed.path.in_extension, sub_attribute, parsed.inner)


def equality_terms(flt: Filter) -> dict[str, object] | None:
    """The sub-attribute values a filter of ``eq`` comparisons joined by ``and`` pins down
    (``type eq "work" and primary eq true``), or None when the filter is anything else."""
    if isinstance(flt, Compare) and flt.op == "eq" and flt.path.sub_attribute is not None:
        return {flt.path.sub_attribute.name: flt.value}
    if isinstance(flt, And):
        left, right = equality_terms(flt.left), equality_terms(flt.right)
        if left is None or right is None:
            return None
        if any(key in right and right[key] != value for key, value in left.items()):
            return None
        return {**left, **right}
    return None
