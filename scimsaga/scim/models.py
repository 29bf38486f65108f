"""Pydantic models generated from the schema definitions (RFC 7643 §2.3 data types).

The models are built from :mod:`scimsaga.scim.schema`, so validation, filtering and discovery read the
same definitions. They validate in strict mode: a boolean is ``true`` or ``false``, not ``"True"``.
Read-only attributes are not part of the request models: the request side drops them first
(RFC 7643 §2.2, ``readOnly``: "SHALL be ignored" when sent).
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
)
from pydantic import create_model as _create_model

from .schema import Attribute, AttributeType, Mutability, ResourceType, Schema

_FIELD_NAME = re.compile(r"[^0-9a-zA-Z_]")


def _check_datetime(value: str) -> str:
    """RFC 7643 §2.3.5: an xsd:dateTime; the text is kept exactly as sent."""
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("must be an xsd:dateTime such as 2026-01-31T09:30:00Z") from None
    return value


DateTimeText = Annotated[StrictStr, AfterValidator(_check_datetime)]

_SIMPLE_TYPES: dict[AttributeType, Any] = {
    AttributeType.STRING: StrictStr,
    AttributeType.BOOLEAN: StrictBool,
    AttributeType.DECIMAL: StrictFloat | StrictInt,
    AttributeType.INTEGER: StrictInt,
    AttributeType.DATETIME: DateTimeText,
    AttributeType.BINARY: StrictStr,
    AttributeType.REFERENCE: StrictStr,
}

_CONFIG = ConfigDict(extra="forbid", strict=True, frozen=True)


def _is_writable(attribute: Attribute) -> bool:
    return attribute.mutability != Mutability.READ_ONLY


def _field_name(name: str) -> str:
    return "f_" + _FIELD_NAME.sub("_", name)


def _model_for(owner: str, attributes: tuple[Attribute, ...]) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for attribute in attributes:
        if not _is_writable(attribute):
            continue
        fields[_field_name(attribute.name)] = _field_for(owner, attribute)
    return _create_model(owner, __config__=_CONFIG, **fields)


def _field_for(owner: str, attribute: Attribute) -> tuple[Any, Any]:
    if attribute.type == AttributeType.COMPLEX:
        value_type: Any = _model_for(f"{owner}_{attribute.name}", attribute.sub_attributes)
    else:
        value_type = _SIMPLE_TYPES[attribute.type]
    if attribute.required and attribute.type == AttributeType.STRING and not attribute.multi_valued:
        value_type = Annotated[StrictStr, Field(min_length=1)]
    if attribute.multi_valued:
        value_type = list[value_type]
    if attribute.required:
        return value_type, Field(alias=attribute.name)
    return value_type | None, Field(default=None, alias=attribute.name)


@cache
def extension_model(schema: Schema) -> type[BaseModel]:
    """The request model of one extension schema."""
    return _model_for(schema.name, schema.attributes)


@cache
def request_model(resource_type: ResourceType) -> type[BaseModel]:
    """The request model of a resource type: writable core attributes, ``externalId``, extensions.

    Extensions sit under their URN (RFC 7643 §3.3) and are validated by their own models.
    """
    core = _model_for(resource_type.name, resource_type.schema.attributes)
    fields: dict[str, Any] = {
        "f_schemas": (list[StrictStr], Field(alias="schemas")),
        "f_externalId": (StrictStr | None, Field(default=None, alias="externalId")),
    }
    for index, extension in enumerate(resource_type.extensions):
        if not any(_is_writable(a) for a in extension.schema.attributes):
            continue
        fields[f"f_ext{index}"] = (
            extension_model(extension.schema) | None,
            Field(default=None, alias=extension.schema.id),
        )
    return _create_model(f"{resource_type.name}Request", __base__=core, **fields)
