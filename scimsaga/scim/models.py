"""Request validators generated from the schema definitions (RFC 7643 §2.3 data types).

The validators are built from :mod:`scimsaga.scim.schema`, so validation, filtering and discovery read
the same definitions. Each is a pydantic-core schema of typed dicts: it checks the stored form of a
request (canonical names, extensions under their URN) without building objects, which keeps a typical
user's validation to a few microseconds. They validate in strict mode: a boolean is ``true`` or
``false``, not ``"True"``; an attribute the schema does not know is refused. Read-only attributes are
not part of the validators: the request side drops them first (RFC 7643 §2.2, ``readOnly``: "SHALL be
ignored" when sent).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic_core import SchemaValidator, core_schema

from .schema import Attribute, AttributeType, Mutability, ResourceType, Schema


def _check_datetime(value: str) -> str:
    """RFC 7643 §2.3.5: an xsd:dateTime; the text is kept exactly as sent."""
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("must be an xsd:dateTime such as 2026-01-31T09:30:00Z") from None
    return value


def _simple(kind: AttributeType, required: bool) -> core_schema.CoreSchema:
    if kind == AttributeType.BOOLEAN:
        return core_schema.bool_schema(strict=True)
    if kind == AttributeType.INTEGER:
        return core_schema.int_schema(strict=True)
    if kind == AttributeType.DECIMAL:
        return core_schema.union_schema([core_schema.float_schema(strict=True),
                                         core_schema.int_schema(strict=True)])
    if kind == AttributeType.DATETIME:
        return core_schema.no_info_after_validator_function(_check_datetime,
                                                            core_schema.str_schema(strict=True))
    return core_schema.str_schema(strict=True, min_length=1 if required else None)


def _is_writable(attribute: Attribute) -> bool:
    return attribute.mutability != Mutability.READ_ONLY


def _object(attributes: tuple[Attribute, ...],
            more: dict[str, core_schema.TypedDictField] | None = None) -> core_schema.CoreSchema:
    fields = {attribute.name: _field(attribute) for attribute in attributes if _is_writable(attribute)}
    fields.update(more or {})
    return core_schema.typed_dict_schema(fields, extra_behavior="forbid", strict=True)


def _field(attribute: Attribute) -> core_schema.TypedDictField:
    if attribute.type == AttributeType.COMPLEX:
        schema = _object(attribute.sub_attributes)
    else:
        schema = _simple(attribute.type, attribute.required and not attribute.multi_valued)
    if attribute.multi_valued:
        schema = core_schema.list_schema(schema, strict=True)
    return core_schema.typed_dict_field(schema, required=attribute.required)


def _build(resource_type: ResourceType) -> SchemaValidator:
    more: dict[str, core_schema.TypedDictField] = {
        "schemas": core_schema.typed_dict_field(
            core_schema.list_schema(core_schema.str_schema(strict=True), strict=True), required=True),
        "externalId": core_schema.typed_dict_field(core_schema.str_schema(strict=True), required=False),
    }
    for extension in resource_type.extensions:
        if any(_is_writable(a) for a in extension.schema.attributes):
            more[extension.schema.id] = core_schema.typed_dict_field(
                _object(extension.schema.attributes), required=False)
    return SchemaValidator(_object(resource_type.schema.attributes, more))


_VALIDATORS: dict[int, tuple[ResourceType | Schema, SchemaValidator]] = {}
"""Built validators by the identity of their definition: hashing a frozen schema tree on every request
costs more than validating the request (the definition is kept alongside so its id stays unique)."""


def request_validator(resource_type: ResourceType) -> SchemaValidator:
    """The validator of a resource type's stored request form: writable core attributes,
    ``externalId``, ``schemas`` and each extension under its URN (RFC 7643 §3.3)."""
    found = _VALIDATORS.get(id(resource_type))
    if found is None:
        found = _VALIDATORS[id(resource_type)] = (resource_type, _build(resource_type))
    return found[1]


def validate_request(resource_type: ResourceType, stored: dict[str, Any]) -> None:
    """Raise pydantic's ValidationError when ``stored`` does not fit the resource type."""
    request_validator(resource_type).validate_python(stored)


_VALUE_VALIDATORS: dict[tuple[int, bool], tuple[Attribute, SchemaValidator]] = {}


def _value_validator(attribute: Attribute, element: bool) -> SchemaValidator:
    found = _VALUE_VALIDATORS.get((id(attribute), element))
    if found is None:
        if attribute.type == AttributeType.COMPLEX:
            schema = _object(attribute.sub_attributes)
        else:
            schema = _simple(attribute.type, attribute.required and not attribute.multi_valued)
        if attribute.multi_valued and not element:
            schema = core_schema.list_schema(schema, strict=True)
        found = _VALUE_VALIDATORS[(id(attribute), element)] = (attribute, SchemaValidator(schema))
    return found[1]


def validate_value(attribute: Attribute, value: Any, element: bool = False) -> None:
    """Raise pydantic's ValidationError when ``value`` does not fit ``attribute`` (a PATCH value,
    RFC 7644 §3.5.2): the whole attribute, or with ``element`` one value of a multi-valued one."""
    _value_validator(attribute, element).validate_python(value)
