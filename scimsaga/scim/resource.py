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
from .errors import Mutability as MutabilityError
from .etag import etag
from .models import validate_request
from .schema import Attribute, AttributeType, Mutability, ResourceType, Returned, Schema
from .tolerance import STRICT, Tolerances, bare_reference, coerce_boolean, wraps_single_value

_DROPPED_ON_INPUT = frozenset({"id", "meta"})


@dataclass(frozen=True)
class Meta:
    """The ``meta`` attribute of RFC 7643 §3.1, as the store knows it."""

    resource_type: str
    created: str
    last_modified: str
    location: str
    version: int
    revision: int = 0

    @property
    def etag(self) -> str:
        """The weak entity tag of RFC 7644 §3.14 (see ``etag``); ``meta.version`` carries the same value."""
        return etag(self.version, self.revision)

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
    revision: int = 0

    def meta(self, resource_type: ResourceType, base_url: str) -> Meta:
        """The full ``meta`` once the URL the client used is known (RFC 7643 §3.1 ``location``)."""
        return Meta(resource_type.name, self.created, self.last_modified,
                    f"{base_url}{resource_type.endpoint}/{self.id}", self.version, self.revision)


_SCHEMAS, _DROP, _EXTERNAL_ID, _EXTENSION, _ATTRIBUTE, _READ_ONLY = range(6)

_Plan = dict[str, tuple[int, Any]]
_UNKNOWN: tuple[int, Any] = (-1, None)
_PLANS: dict[int, tuple[ResourceType, _Plan]] = {}


def _plan(resource_type: ResourceType) -> _Plan:
    """What each top-level key of a request body means, by lower-cased key: built once per type.

    Core attributes answer to their name and to their URN-qualified name (RFC 7644 §3.10).
    """
    found = _PLANS.get(id(resource_type))
    if found is not None:
        return found[1]
    plan: _Plan = {"schemas": (_SCHEMAS, None), "externalid": (_EXTERNAL_ID, None)}
    for name in _DROPPED_ON_INPUT:
        plan[name] = (_DROP, None)
    core = resource_type.schema
    for attribute in core.attributes:
        entry = (_READ_ONLY if attribute.mutability == Mutability.READ_ONLY else _ATTRIBUTE, attribute)
        plan.setdefault(attribute.name.lower(), entry)
        plan[f"{core.id.lower()}:{attribute.name.lower()}"] = entry
    for extension in resource_type.extensions:
        plan[extension.schema.id.lower()] = (_EXTENSION, extension.schema)
    _PLANS[id(resource_type)] = (resource_type, plan)
    return plan


def parse_resource(resource_type: ResourceType, body: object,
                   tolerances: Tolerances = STRICT) -> dict[str, Any]:
    """Validate a POST or PUT body and return the attributes to store (RFC 7644 §3.3, §3.5.1).

    The result has canonical attribute names, extension attributes under their URN, no read-only
    attributes, no unassigned values, and a ``schemas`` list in canonical form. ``tolerances`` says
    which IdP habits to accept (``tolerance.py``); by default none are.
    """
    if not isinstance(body, dict):
        raise InvalidSyntax(f"the request body must be a JSON object describing a {resource_type.name}")
    plan = _plan(resource_type)
    stored: dict[str, Any] = {}
    schemas_seen: list[str] = []
    for key, value in body.items():
        if not isinstance(key, str):
            raise InvalidSyntax("attribute names must be strings")
        meaning, definition = plan.get(key.lower(), _UNKNOWN)
        if meaning == _ATTRIBUTE:
            if definition.type == AttributeType.COMPLEX:
                value = _canonical_value(definition, value, definition.name, tolerances)
            _put(stored, definition.name, value)
        elif meaning == _EXTENSION:
            _put_extension(stored, definition, value, tolerances)
        elif meaning == _SCHEMAS:
            schemas_seen = parse_schemas(resource_type, value, tolerances)
        elif meaning == _EXTERNAL_ID:
            _put(stored, "externalId", value)
        elif meaning == _UNKNOWN[0]:
            raise InvalidSyntax(
                f"unknown attribute '{key}' for {resource_type.name}; see /Schemas/{resource_type.schema.id}"
            )
    stored["schemas"] = _schemas_for(resource_type, schemas_seen, stored)
    return _validate(resource_type, stored, tolerances)


def parse_schemas(resource_type: ResourceType, value: object, tolerances: Tolerances = STRICT) -> list[str]:
    """The canonical URNs of a ``schemas`` list (RFC 7643 §3). A URN this resource type does not know
    is 400 ``invalidValue``, or passed over when the tolerance allows: a body cannot carry attributes
    under it, since an unknown URN key is an unknown attribute."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidSyntax("'schemas' must be a list of schema URNs")
    known = resource_type.urn_names
    canonical: list[str] = []
    for urn in value:
        if urn.lower() not in known:
            if tolerances.unknown_schema_urns:
                continue
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
    if value is None or (not value and (type(value) is list or type(value) is dict)):
        target.pop(name, None)
    else:
        target[name] = value


def _is_unassigned(value: Any) -> bool:
    return value is None or (not value and (type(value) is list or type(value) is dict))


def _put_extension(stored: dict[str, Any], extension: Schema, value: object, tolerances: Tolerances) -> None:
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
        if attribute.type == AttributeType.COMPLEX:
            sub_value = _canonical_value(attribute, sub_value, attribute.name, tolerances)
        _put(attributes, attribute.name, sub_value)
    _put(stored, extension.id, attributes)


def _canonical_value(attribute: Attribute, value: Any, where: str, tolerances: Tolerances = STRICT) -> Any:
    """Canonical sub-attribute names inside complex values; other values are kept as sent (or read as
    the tolerances allow: one object for a list of one, a bare id for ``{"value": id}``)."""
    if attribute.type != AttributeType.COMPLEX or value is None:
        return value
    if wraps_single_value(attribute, value, tolerances):
        value = [value]
    elif not attribute.multi_valued and (reference := bare_reference(attribute, value, tolerances)):
        value = reference
    if attribute.multi_valued:
        if not isinstance(value, list):
            return value  # the model reports the type error with its location
        items = [_canonical_complex(attribute, item, where, index) for index, item in enumerate(value)]
        return [item for item in items if not _is_unassigned(item)]
    return _canonical_complex(attribute, value, where)


_WRITABLE_NAMES: dict[int, tuple[Attribute, frozenset[str]]] = {}


def _writable_names(attribute: Attribute) -> frozenset[str]:
    """The canonical names of the sub-attributes a client may send (by the definition's identity)."""
    found = _WRITABLE_NAMES.get(id(attribute))
    if found is None:
        names = frozenset(s.name for s in attribute.sub_attributes if s.mutability != Mutability.READ_ONLY)
        found = _WRITABLE_NAMES[id(attribute)] = (attribute, names)
    return found[1]


def _already_canonical(value: dict[str, Any], names: frozenset[str]) -> bool:
    """Every key a writable sub-attribute in canonical case, no value unassigned: nothing to rewrite."""
    for key, sub_value in value.items():
        if key not in names or sub_value is None or (not sub_value and type(sub_value) in (list, dict)):
            return False
    return True


def _canonical_complex(attribute: Attribute, value: Any, where: str, index: int | None = None) -> Any:
    if not isinstance(value, dict):
        return value
    if _already_canonical(value, _writable_names(attribute)):
        return value
    subs = attribute.sub_attributes_by_key
    out: dict[str, Any] = {}
    for key, sub_value in value.items():
        sub = subs.get(key.lower()) if isinstance(key, str) else None
        if sub is None:
            place = where if index is None else f"{where}[{index}]"
            raise InvalidSyntax(f"unknown sub-attribute '{key}' in '{place}'")
        if sub.mutability == Mutability.READ_ONLY:
            continue
        _put(out, sub.name, sub_value)
    return out


def _validate(resource_type: ResourceType, stored: dict[str, Any], tolerances: Tolerances) -> dict[str, Any]:
    """``stored`` when it fits the schema; else, where the tolerances allow, ``stored`` with booleans
    spelled as strings read as booleans, when that fits; else 400 ``invalidValue``."""
    try:
        validate_request(resource_type, stored)
        return stored
    except ValidationError as exc:
        error = exc
    if tolerances.string_booleans:
        coerced = with_booleans(resource_type, stored, tolerances)
        if coerced != stored:
            try:
                validate_request(resource_type, coerced)
                return coerced
            except ValidationError as exc:
                error = exc
    raise InvalidValue(describe_error(error)) from None


def validate_stored(resource_type: ResourceType, stored: dict[str, Any]) -> None:
    """400 ``invalidValue`` unless ``stored`` fits the resource type (the result of a PATCH)."""
    try:
        validate_request(resource_type, stored)
    except ValidationError as exc:
        raise InvalidValue(describe_error(exc)) from None


def with_booleans(resource_type: ResourceType, stored: Mapping[str, Any],
                  tolerances: Tolerances) -> dict[str, Any]:
    """A copy of ``stored`` in which each boolean attribute given as ``"True"``/``"false"`` is a boolean."""
    out = _booleans_in(resource_type.schema.attributes, stored, tolerances)
    for extension in resource_type.extensions:
        inner = stored.get(extension.schema.id)
        if isinstance(inner, Mapping):
            out[extension.schema.id] = _booleans_in(extension.schema.attributes, inner, tolerances)
    return out


def _booleans_in(attributes: tuple[Attribute, ...], values: Mapping[str, Any],
                 tolerances: Tolerances) -> dict[str, Any]:
    out = dict(values)
    for attribute in attributes:
        value = out.get(attribute.name)
        if value is None:
            continue
        if attribute.type == AttributeType.BOOLEAN and not attribute.multi_valued:
            out[attribute.name] = coerce_boolean(value, tolerances)
        elif attribute.type == AttributeType.COMPLEX:
            if isinstance(value, list):
                out[attribute.name] = [_booleans_in(attribute.sub_attributes, item, tolerances)
                                       if isinstance(item, Mapping) else item for item in value]
            elif isinstance(value, Mapping):
                out[attribute.name] = _booleans_in(attribute.sub_attributes, value, tolerances)
    return out


_PLAIN_MESSAGES = {
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a list",
    "extra_forbidden": "is not an attribute of this schema",
}
"""Pydantic's wording for these names our generated model classes; say it in SCIM's terms instead."""


def describe_error(exc: ValidationError, prefix: str = "") -> str:
    """Pydantic's errors in SCIM's terms, each at its attribute path (under ``prefix``, the path of the
    value that was validated, when it was not a whole resource)."""
    problems = []
    for error in exc.errors(include_url=False)[:5]:
        location = _location(error["loc"], prefix)
        if error["type"] == "missing":
            problems.append(f"'{location}' is required")
        elif error["type"] in _PLAIN_MESSAGES:
            problems.append(f"'{location}': {_PLAIN_MESSAGES[error['type']]}")
        else:
            problems.append(f"'{location}': {error['msg']}")
    more = exc.error_count() - len(problems)
    suffix = f" (and {more} more)" if more > 0 else ""
    return "; ".join(problems) + suffix


def _location(loc: tuple[int | str, ...], prefix: str = "") -> str:
    """A pydantic error location as a SCIM attribute path, e.g. ``emails[0].value``."""
    text = prefix
    after_urn = False
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part not in {"float", "int"} and not part.startswith(("function-", "constrained")):
            separator = ":" if after_urn else "."
            text += (separator if text else "") + part
            after_urn = part.startswith("urn:")
    return text


REFERENCE_ENDPOINTS = {"User": "/Users", "Group": "/Groups"}
COMPUTED_REFERENCES: dict[tuple[str, str], str | None] = {
    ("Group", "members"): None,
    ("User", "groups"): "Group",
}
"""Multi-valued attributes whose ``$ref`` the service provider writes (RFC 7643 §4.1.2, §4.2), and the
resource type their values name (None: the ``type`` of each value says)."""


def render(
    resource_type: ResourceType,
    resource_id: str,
    attributes: Mapping[str, Any],
    meta: Meta,
    base_url: str | None = None,
) -> dict[str, Any]:
    """The resource as a response body (RFC 7643 §3): ``schemas``, ``id``, attributes, ``meta``.

    Attributes whose ``returned`` characteristic is ``never`` are never included. Given the base URL,
    the ``$ref`` of group members and of a user's groups is the URI of the resource they name.
    """
    skipped, references = _render_plan(resource_type)
    body: dict[str, Any] = {
        "schemas": [s.id for s in resource_type.schemas()
                    if s is resource_type.schema or s.id in attributes],
        "id": resource_id,
    }
    for key, value in attributes.items():
        if key in skipped:
            continue
        if base_url is not None and key in references and isinstance(value, list):
            value = _with_references(value, references[key], base_url)
        body[key] = value
    body["meta"] = meta.to_dict()
    return body


_RENDER_PLANS: dict[int, tuple[ResourceType, frozenset[str], dict[str, str | None]]] = {}


def _render_plan(resource_type: ResourceType) -> tuple[frozenset[str], dict[str, str | None]]:
    """The stored keys a response leaves out (``schemas``, never-returned attributes) and the attributes
    whose ``$ref`` the provider writes, built once per resource type."""
    found = _RENDER_PLANS.get(id(resource_type))
    if found is None:
        never = {a.name for a in resource_type.schema.attributes if a.returned == Returned.NEVER}
        references = {attr: kind for (type_id, attr), kind in COMPUTED_REFERENCES.items()
                      if type_id == resource_type.id}
        found = _RENDER_PLANS[id(resource_type)] = (resource_type, frozenset({"schemas", *never}), references)
    return found[1], found[2]


def _with_references(items: list[Any], kind: str | None, base_url: str) -> list[Any]:
    out = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("value"), str):
            endpoint = REFERENCE_ENDPOINTS.get(kind or str(item.get("type")))
            if endpoint is not None:
                item = {**item, "$ref": f"{base_url}{endpoint}/{item['value']}"}
        out.append(item)
    return out


def keep_immutable(resource_type: ResourceType, current: Mapping[str, Any],
                   replacement: dict[str, Any]) -> dict[str, Any]:
    """Check a PUT against ``immutable`` attributes (RFC 7644 §3.5.1, RFC 7643 §2.2).

    An immutable value already set must come back unchanged (else 400 ``mutability``); one the
    replacement leaves out is kept, since it cannot be removed. Values of multi-valued complex
    attributes (group members) are added and removed as wholes, so their immutable sub-attributes
    constrain nothing here.
    """
    out = dict(replacement)
    for schema in resource_type.schemas():
        extension = schema is not resource_type.schema
        old = current.get(schema.id, {}) if extension else current
        new = dict(out.get(schema.id) or {}) if extension else out
        if not isinstance(old, Mapping):
            continue
        changed = False
        for attribute in schema.attributes:
            if attribute.multi_valued and attribute.type == AttributeType.COMPLEX:
                continue
            had, wanted = old.get(attribute.name), new.get(attribute.name)
            if attribute.mutability == Mutability.IMMUTABLE and had is not None:
                if wanted is None:
                    new[attribute.name], changed = had, True
                elif wanted != had:
                    raise MutabilityError(f"'{attribute.name}' is immutable: it is {had!r} and stays so")
            elif attribute.type == AttributeType.COMPLEX and isinstance(had, Mapping):
                kept = _keep_immutable_subs(attribute, had, wanted)
                if kept is not wanted:
                    new[attribute.name], changed = kept, True
        if extension and changed:
            out[schema.id] = new
    return out


def _keep_immutable_subs(attribute: Attribute, had: Mapping[str, Any], wanted: Any) -> Any:
    result = wanted
    for sub in attribute.sub_attributes:
        if sub.mutability != Mutability.IMMUTABLE or had.get(sub.name) is None:
            continue
        value = wanted.get(sub.name) if isinstance(wanted, Mapping) else None
        if value is None:
            result = {**(result if isinstance(result, Mapping) else {}), sub.name: had[sub.name]}
        elif value != had[sub.name]:
            raise MutabilityError(f"'{attribute.name}.{sub.name}' is immutable: it is {had[sub.name]!r} "
                                  "and stays so")
    return result
