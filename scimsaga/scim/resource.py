"""Turning request bodies into stored resources and stored resources into responses.

Requests (RFC 7644 §3.3, §3.5.1): attribute names are matched case-insensitively and stored under their
canonical names (RFC 7643 §2.1); read-only attributes sent by the client are ignored (RFC 7643 §2.2);
null, empty lists and empty objects mean "unassigned" and are dropped (RFC 7643 §2.5); values are then
checked against the schema by the generated pydantic models and kept exactly as sent.

Responses (RFC 7643 §3, §3.1): ``schemas`` lists the core schema and each extension present, ``id`` and
``meta`` follow, and attributes whose ``returned`` is ``never`` are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .errors import InvalidSyntax, InvalidValue
from .models import request_model
from .schema import Attribute, AttributeType, Mutability, ResourceType, Returned, Schema

_DROPPED_ON_INPUT = frozenset({"id", "meta"})


@dataclass(frozen=True)
class Meta:
    """The ``meta`` attribute of RFC 7643 §3.1, as the store knows it."""

    resource_type: str
    created: str
    last_modified: str
    location: str
    version: int

    @property
    def etag(self) -> str:
        """The weak entity tag of RFC 7644 §3.14; ``meta.version`` carries the same value."""
        return f'W/"{self.version}"'

    def to_dict(self) -> dict[str, str]:
        return {
            "resourceType": self.resource_type,
            "created": self.created,
            "lastModified": self.last_modified,
            "location": self.location,
            "version": self.etag,
        }


@dataclass(frozen=True)
class StoredResource:
    """A resource as the store holds it: its id, attributes (canonical names) and meta timestamps."""

    id: str
    attributes: dict[str, Any]
    created: str
    last_modified: str
    version: int

    def meta(self, resource_type: ResourceType, base_url: str) -> Meta:
        """The full ``meta`` once the URL the client used is known (RFC 7643 §3.1 ``location``)."""
        return Meta(resource_type.name, self.created, self.last_modified,
                    f"{base_url}{resource_type.endpoint}/{self.id}", self.version)


def parse_resource(resource_type: ResourceType, body: object) -> dict[str, Any]:
    """Validate a POST or PUT body and return the attributes to store (RFC 7644 §3.3, §3.5.1).

    The result has canonical attribute names, extension attributes under their URN, no read-only
    attributes, no unassigned values, and a ``schemas`` list in canonical form.
    """
    if not isinstance(body, dict):
        raise InvalidSyntax(f"the request body must be a JSON object describing a {resource_type.name}")
    stored: dict[str, Any] = {}
    schemas_seen: list[str] = []
    for key, value in body.items():
        if not isinstance(key, str):
            raise InvalidSyntax("attribute names must be strings")
        lowered = key.lower()
        if lowered == "schemas":
            schemas_seen = _parse_schemas(resource_type, value)
            continue
        if lowered in _DROPPED_ON_INPUT:
            continue
        if lowered == "externalid":
            _put(stored, "externalId", value)
            continue
        extension = resource_type.extension(key)
        if extension is not None:
            _put_extension(stored, extension, value)
            continue
        attribute, schema = _core_attribute(resource_type, key)
        if attribute is None:
            raise InvalidSyntax(
                f"unknown attribute '{key}' for {resource_type.name}; see /Schemas/{schema.id}"
            )
        if attribute.mutability == Mutability.READ_ONLY:
            continue
        _put(stored, attribute.name, _canonical_value(attribute, value, attribute.name))
    stored["schemas"] = _schemas_for(resource_type, schemas_seen, stored)
    _validate(resource_type, stored)
    return stored


def _core_attribute(resource_type: ResourceType, key: str) -> tuple[Attribute | None, Schema]:
    schema = resource_type.schema
    name = key
    prefix = schema.id.lower() + ":"
    if key.lower().startswith(prefix):
        name = key[len(prefix):]
    return schema.attribute(name), schema


def _parse_schemas(resource_type: ResourceType, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidSyntax("'schemas' must be a list of schema URNs")
    known = {s.id.lower(): s.id for s in resource_type.schemas()}
    canonical: list[str] = []
    for urn in value:
        if urn.lower() not in known:
            raise InvalidValue(
                f"unknown schema URN '{urn}' for {resource_type.name}; "
                f"this resource type accepts {', '.join(known.values())}"
            )
        if known[urn.lower()] not in canonical:
            canonical.append(known[urn.lower()])
    if resource_type.schema.id not in canonical:
        raise InvalidValue(f"'schemas' must contain the core schema {resource_type.schema.id}")
    return canonical


def _schemas_for(resource_type: ResourceType, sent: list[str], stored: Mapping[str, Any]) -> list[str]:
    if not sent:
        raise InvalidValue(f"'schemas' is required and must contain {resource_type.schema.id}")
    return [urn for urn in (s.id for s in resource_type.schemas()) if urn in sent or urn in stored]


def _put(target: dict[str, Any], name: str, value: Any) -> None:
    if _is_unassigned(value):
        target.pop(name, None)
    else:
        target[name] = value


def _is_unassigned(value: Any) -> bool:
    return value is None or value == [] or value == {}


def _put_extension(stored: dict[str, Any], extension: Schema, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise InvalidSyntax(f"the extension '{extension.id}' must be a JSON object")
    attributes: dict[str, Any] = {}
    for key, sub_value in value.items():
        attribute = extension.attribute(str(key))
        if attribute is None:
            raise InvalidSyntax(f"unknown attribute '{key}' in extension {extension.id}")
        if attribute.mutability == Mutability.READ_ONLY:
            continue
        _put(attributes, attribute.name, _canonical_value(attribute, sub_value, attribute.name))
    _put(stored, extension.id, attributes)


def _canonical_value(attribute: Attribute, value: Any, where: str) -> Any:
    """Canonical sub-attribute names inside complex values; other values are kept as sent."""
    if attribute.type != AttributeType.COMPLEX or value is None:
        return value
    if attribute.multi_valued:
        if not isinstance(value, list):
            return value  # the model reports the type error with its location
        return [v for v in (_canonical_complex(attribute, item, f"{where}[{i}]")
                            for i, item in enumerate(value)) if not _is_unassigned(v)]
    return _canonical_complex(attribute, value, where)


def _canonical_complex(attribute: Attribute, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, sub_value in value.items():
        sub = attribute.sub_attribute(str(key))
        if sub is None:
            raise InvalidSyntax(f"unknown sub-attribute '{key}' in '{where}'")
        if sub.mutability == Mutability.READ_ONLY:
            continue
        _put(out, sub.name, sub_value)
    return out


def _validate(resource_type: ResourceType, stored: dict[str, Any]) -> None:
    try:
        request_model(resource_type).model_validate(stored)
    except ValidationError as exc:
        raise InvalidValue(_describe(exc)) from None


_PLAIN_MESSAGES = {
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "list_type": "must be a list",
    "extra_forbidden": "is not an attribute of this schema",
}
"""Pydantic's wording for these names our generated model classes; say it in SCIM's terms instead."""


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False)[:5]:
        location = _location(error["loc"])
        if error["type"] == "missing":
            problems.append(f"'{location}' is required")
        elif error["type"] in _PLAIN_MESSAGES:
            problems.append(f"'{location}': {_PLAIN_MESSAGES[error['type']]}")
        else:
            problems.append(f"'{location}': {error['msg']}")
    more = exc.error_count() - len(problems)
    suffix = f" (and {more} more)" if more > 0 else ""
    return "; ".join(problems) + suffix


def _location(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a SCIM attribute path, e.g. ``emails[0].value``."""
    text = ""
    after_urn = False
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part not in {"float", "int"} and not part.startswith(("function-", "constrained")):
            separator = ":" if after_urn else "."
            text += (separator if text else "") + part
            after_urn = part.startswith("urn:")
    return text


def render(
    resource_type: ResourceType,
    resource_id: str,
    attributes: Mapping[str, Any],
    meta: Meta,
) -> dict[str, Any]:
    """The resource as a response body (RFC 7643 §3): ``schemas``, ``id``, attributes, ``meta``.

    Attributes whose ``returned`` characteristic is ``never`` are never included.
    """
    body: dict[str, Any] = {
        "schemas": [s.id for s in resource_type.schemas()
                    if s is resource_type.schema or s.id in attributes],
        "id": resource_id,
    }
    for key, value in attributes.items():
        if key == "schemas":
            continue
        attribute = resource_type.schema.attribute(key)
        if attribute is not None and attribute.returned == Returned.NEVER:
            continue
        body[key] = value
    body["meta"] = meta.to_dict()
    return body
