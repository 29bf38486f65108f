"""Reading a PATCH request body, the PatchOp message of RFC 7644 §3.5.2, into steps to apply.

Each operation becomes one or more :class:`PatchStep`: an operation on one resolved target with its
value already in canonical form and checked against the target's definition, so that applying the
steps (``patch.py``) is structural work only. A path-less ``add``/``replace`` becomes one step per key
of its value object, each key read as a path: an attribute name, a dotted sub-attribute
(``name.givenName``), a URN-qualified name (``urn:...:enterprise:2.0:User:employeeNumber``), an
extension URN, or a value path (``emails[type eq "work"].value``). A value for a whole extension is
likewise one step per attribute in it.

Where RFC 7644 leaves room, this module decides:

* The message's member names (``schemas``, ``Operations``, ``op``, ``path``, ``value``) are read in
  any letter case, as SCIM attribute names are (RFC 7643 §2.1); a member it does not know is an error.
* ``Operations`` must hold at least one operation (§3.5.2: "one or more").
* ``add`` needs a non-null ``value``; ``replace`` with ``null`` (or ``[]`` for a multi-valued
  attribute) leaves the target unassigned, as RFC 7643 §2.5 defines null; ``remove`` takes no value
  unless the ``remove_by_value`` tolerance reads one.
* Naming a read-only attribute as the ``path`` is 400 ``mutability`` (§3.5.2: a client MUST NOT
  modify it). Read-only attributes inside a value are 400 ``mutability`` too, unless the
  ``read_only_echo`` tolerance lets them be ignored as a PUT ignores them (§3.5.1); ``id`` must then
  name the resource being patched.
* Unknown attributes or sub-attributes are 400 ``invalidPath`` in a path and ``invalidSyntax`` in a
  value, as in a POST body.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .errors import InvalidSyntax, InvalidValue, Mutability, NoTarget
from .models import validate_value
from .patch_path import PatchPath, parse_path
from .resource import describe_error
from .schema import GROUP, ID, USER, Attribute, AttributeType, ResourceType
from .schema import Mutability as Mutable
from .tolerance import STRICT, Tolerances, bare_reference, coerce_boolean, wraps_single_value

PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_RESOURCE_TYPES = {resource_type.name: resource_type for resource_type in (USER, GROUP)}
OPERATIONS = ("add", "remove", "replace")
_MEMBERS = frozenset({"op", "path", "value"})


@dataclass(frozen=True)
class PatchStep:
    """One change: ``op`` on the target ``path``, with its ``value`` in stored form.

    ``number`` is the operation's position in ``Operations`` (from 1), for error messages. A value
    may hold ``None`` for a sub-attribute of a single complex value: "make it unassigned". ``echo``
    marks a read-only attribute sent back in a value; applying it only checks an ``id``.
    """

    number: int
    op: str
    path: PatchPath
    value: Any = None
    has_value: bool = False
    echo: bool = False

    @property
    def where(self) -> str:
        return f"operation {self.number} ({self.op} '{self.path}')"


@dataclass(frozen=True)
class PatchRequest:
    """A parsed PatchOp message: its steps, and the tolerances it was read (and is applied) with.

    It travels to the identity store (a Ray actor) as the message it was read from and is read again
    there: the steps point into the schema definitions, which are module-level objects that validators
    are cached by, and which would otherwise arrive as copies.
    """

    steps: tuple[PatchStep, ...]
    tolerances: Tolerances = STRICT
    resource_type: str = ""
    body: Any = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _read_again, (self.resource_type, self.body, self.tolerances)


def _read_again(resource_type: str, body: object, tolerances: Tolerances) -> PatchRequest:
    return parse_patch(_RESOURCE_TYPES[resource_type], body, tolerances)


def parse_patch(resource_type: ResourceType, body: object, tolerances: Tolerances = STRICT) -> PatchRequest:
    """Read a PatchOp message (RFC 7644 §3.5.2) for a resource of ``resource_type``."""
    if not isinstance(body, dict):
        raise InvalidSyntax("a PATCH body must be a JSON object: a PatchOp message with 'Operations'")
    members = _lowered(body, {"schemas", "operations"}, "the PatchOp message")
    _check_message_schema(members.get("schemas"), tolerances)
    operations = members.get("operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidValue("'Operations' must be a list of one or more operations (RFC 7644 §3.5.2)")
    steps: list[PatchStep] = []
    for number, operation in enumerate(operations, 1):
        steps.extend(_operation(resource_type, number, operation, tolerances))
    return PatchRequest(tuple(steps), tolerances, resource_type.name, body)


def _lowered(body: Mapping[Any, Any], known: set[str] | frozenset[str], what: str) -> dict[str, Any]:
    lowered: dict[str, Any] = {}
    for key, value in body.items():
        name = str(key).lower()
        if name not in known:
            raise InvalidSyntax(f"unknown member '{key}' in {what}; it has {', '.join(sorted(known))}")
        if name in lowered:
            raise InvalidSyntax(f"'{key}' is given twice in {what}")
        lowered[name] = value
    return lowered


def _check_message_schema(schemas: object, tolerances: Tolerances) -> None:
    if schemas is None and tolerances.message_schema_optional:
        return
    if not isinstance(schemas, list) or PATCH_OP_SCHEMA not in schemas:
        raise InvalidValue(f"'schemas' of a PATCH request must be [\"{PATCH_OP_SCHEMA}\"]")


def _op_name(raw: object, number: int, tolerances: Tolerances) -> str:
    name = raw.lower() if isinstance(raw, str) and tolerances.op_name_case else raw
    if name not in OPERATIONS:
        raise InvalidSyntax(f"operation {number}: 'op' must be one of {', '.join(OPERATIONS)}, not {raw!r}")
    return str(name)


def _operation(resource_type: ResourceType, number: int, operation: object,
               tolerances: Tolerances) -> Iterator[PatchStep]:
    if not isinstance(operation, dict):
        raise InvalidSyntax(f"operation {number} must be a JSON object with 'op', 'path' and 'value'")
    members = _lowered(operation, _MEMBERS, f"operation {number}")
    op = _op_name(members.get("op"), number, tolerances)
    has_value = "value" in members
    value = members.get("value")
    raw_path = members.get("path")
    if raw_path is None:
        if op == "remove":
            raise NoTarget(f"operation {number}: 'remove' needs a 'path' (RFC 7644 §3.5.2.2)")
        yield from _pathless(resource_type, number, op, value, tolerances)
        return
    path = parse_path(resource_type, raw_path)
    if _is_read_only(path):  # RFC 7644 §3.5.2: a client MUST NOT modify a read-only attribute
        raise Mutability(f"operation {number}: '{path}' is read-only and cannot be modified")
    if op == "remove":
        yield _removal(number, path, value, has_value, tolerances)
        return
    if not has_value or (value is None and op == "add"):
        raise InvalidValue(f"operation {number}: '{op}' needs a 'value' (RFC 7644 §3.5.2)")
    if path.attribute is None:
        yield from _extension_steps(resource_type, number, op, path, value, tolerances)
        return
    yield PatchStep(number, op, path, _value(path, value, number, tolerances), True)


def _extension_steps(resource_type: ResourceType, number: int, op: str, path: PatchPath, value: Any,
                     tolerances: Tolerances) -> Iterator[PatchStep]:
    """A value for a whole extension: one step per attribute in it; ``replace`` with null removes it."""
    if value is None and op == "replace":
        yield PatchStep(number, "remove", path)
        return
    yield from _object_steps(resource_type, number, op, value, path.schema.id + ":", tolerances,
                             f"the value for '{path}'")


def _removal(number: int, path: PatchPath, value: Any, has_value: bool, tolerances: Tolerances) -> PatchStep:
    if not has_value or value is None:
        return PatchStep(number, "remove", path)
    attribute = path.attribute
    if (tolerances.remove_by_value and attribute is not None and attribute.multi_valued
            and attribute.type == AttributeType.COMPLEX and not path.selects_values):
        records = _value(path, value, number, tolerances)
        return PatchStep(number, "remove", path, records, True)
    raise InvalidValue(f"operation {number}: 'remove' takes no 'value' (RFC 7644 §3.5.2.2); "
                       f"name what to remove in the path, e.g. 'members[value eq \"...\"]'")


def _pathless(resource_type: ResourceType, number: int, op: str, value: Any,
              tolerances: Tolerances) -> Iterator[PatchStep]:
    """RFC 7644 §3.5.2.1/§3.5.2.3 without ``path``: the value holds attributes of the resource."""
    yield from _object_steps(resource_type, number, op, value, "", tolerances, "a 'value' without 'path'")


def _object_steps(resource_type: ResourceType, number: int, op: str, value: Any, prefix: str,
                  tolerances: Tolerances, what: str) -> Iterator[PatchStep]:
    if not isinstance(value, dict):
        raise InvalidValue(f"operation {number}: {what} must be a JSON object of attributes")
    for key, item in value.items():
        name = str(key)
        if name.lower() == "schemas":  # the value's own schemas (an extension object lists its URN)
            _known_schemas(resource_type, item, tolerances, number)
            continue
        path = parse_path(resource_type, prefix + name)
        if _is_read_only(path):
            yield from _echo(number, op, path, item, tolerances)
            continue
        if path.attribute is None:
            yield from _extension_steps(resource_type, number, op, path, item, tolerances)
            continue
        if item is None and op == "add":
            raise InvalidValue(f"operation {number}: 'add' needs a value for '{path}'")
        yield PatchStep(number, op, path, _value(path, item, number, tolerances), True)


def _known_schemas(resource_type: ResourceType, value: Any, tolerances: Tolerances, number: int) -> None:
    """``schemas`` inside a value carries no data; it may only list schemas of this resource type (or,
    with the ``unknown_schema_urns`` tolerance, URNs this server does not know)."""
    urns = value if isinstance(value, list) else [value]
    for urn in urns:
        if not isinstance(urn, str):
            raise InvalidSyntax(f"operation {number}: 'schemas' must be a list of schema URNs")
        if urn.lower() not in resource_type.urn_names and not tolerances.unknown_schema_urns:
            raise InvalidValue(f"operation {number}: unknown schema URN '{urn}' for {resource_type.name}; "
                               f"this resource type accepts {', '.join(resource_type.urn_names.values())}")


def _is_read_only(path: PatchPath) -> bool:
    if path.attribute is None:
        return all(a.mutability == Mutable.READ_ONLY for a in path.schema.attributes)
    definition = path.definition
    return path.attribute.mutability == Mutable.READ_ONLY or (
        definition is not None and definition.mutability == Mutable.READ_ONLY)


def _echo(number: int, op: str, path: PatchPath, value: Any, tolerances: Tolerances) -> Iterator[PatchStep]:
    """A read-only attribute inside a value: ignored when the tolerance allows, except that ``id`` must
    name the resource being patched (checked when applied); else 400 ``mutability``."""
    if not tolerances.read_only_echo:
        raise Mutability(f"operation {number}: '{path}' is read-only and cannot be modified")
    if path.attribute is ID and path.sub_attribute is None:
        yield PatchStep(number, op, path, value, True, echo=True)


# --- values ----------------------------------------------------------------------------------------


def _value(path: PatchPath, value: Any, number: int, tolerances: Tolerances) -> Any:
    """``value`` for ``path`` in stored form, checked against the target's definition."""
    attribute = path.attribute
    assert attribute is not None
    where = f"operation {number}"
    if path.sub_attribute is not None:
        sub = path.sub_attribute
        return _checked(sub, _simple_or_complex(sub, value, tolerances, where, keep_nulls=False), where, path)
    if path.selects_values:  # emails[type eq "work"]: one value of the attribute, merged into matches
        return _checked(attribute, _record(attribute, value, tolerances, where, keep_nulls=True), where, path,
                        element=True)
    if attribute.multi_valued:
        if wraps_single_value(attribute, value, tolerances):
            value = [value]
        if isinstance(value, list):
            items = [_simple_or_complex(attribute, item, tolerances, where, keep_nulls=False)
                     for item in value]
            value = [item for item in items if item is not None and item != {}]
        return _checked(attribute, value, where, path)
    keep_nulls = attribute.type == AttributeType.COMPLEX
    value = _simple_or_complex(attribute, value, tolerances, where, keep_nulls)
    return _checked(attribute, value, where, path)


def _simple_or_complex(attribute: Attribute, value: Any, tolerances: Tolerances, where: str,
                       keep_nulls: bool) -> Any:
    if attribute.type == AttributeType.COMPLEX:
        if not attribute.multi_valued and (reference := bare_reference(attribute, value, tolerances)):
            value = reference
        return _record(attribute, value, tolerances, where, keep_nulls)
    if attribute.type == AttributeType.BOOLEAN:
        return coerce_boolean(value, tolerances)
    return value


def _record(attribute: Attribute, value: Any, tolerances: Tolerances, where: str, keep_nulls: bool) -> Any:
    """A complex value with canonical sub-attribute names; ``None`` sub-values kept only as "unassign"
    markers where a merge reads them (``keep_nulls``), else dropped (RFC 7643 §2.5)."""
    if not isinstance(value, dict):
        return value  # the validator reports the type
    out: dict[str, Any] = {}
    for key, sub_value in value.items():
        sub = attribute.sub_attribute(str(key))
        if sub is None:
            raise InvalidSyntax(f"{where}: '{attribute.name}' has no sub-attribute '{key}'")
        if sub.mutability == Mutable.READ_ONLY:
            if not tolerances.read_only_echo:
                raise Mutability(f"{where}: '{attribute.name}.{sub.name}' is read-only and cannot be "
                                 "modified")
            continue  # ignored, as a PUT ignores it (RFC 7644 §3.5.1)
        if sub_value is None or (isinstance(sub_value, (list, dict)) and not sub_value):
            if keep_nulls:
                out[sub.name] = None
            continue
        if sub.type == AttributeType.BOOLEAN:
            sub_value = coerce_boolean(sub_value, tolerances)
        out[sub.name] = sub_value
    return out


def _checked(attribute: Attribute, value: Any, where: str, path: PatchPath, element: bool = False) -> Any:
    if value is None:
        return None
    probe = {k: v for k, v in value.items() if v is not None} if isinstance(value, dict) else value
    try:
        validate_value(attribute, probe, element)
    except ValidationError as exc:
        raise InvalidValue(f"{where}: {describe_error(exc, path.text)}") from None
    return value
