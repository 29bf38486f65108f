"""PATCH (RFC 7644 §3.5.2) as a pure function: a resource and a PatchOp request in, the new resource out.

``apply_patch`` takes a resource in stored form (canonical names, extension attributes under their
URN, writable attributes only) and a request read by ``patch_request.parse_patch``, applies every step
in order to a copy, and returns the result, checked against the schema as a PUT body would be. Any
error leaves nothing half-applied, since the input is never modified (§3.5.2: a PATCH is atomic).

Semantics (§3.5.2.1 add, §3.5.2.2 remove, §3.5.2.3 replace) and where the RFC is silent, the decisions:

* ``add`` to a single-valued attribute sets it; to a complex one merges the sub-attributes given; to
  a multi-valued one appends each value that is not there yet. A value is "there" when an existing
  value has the same ``value`` and ``type`` (the same ``value`` alone where ``value`` is immutable,
  as a group member's id is); the sub-attributes sent are then merged into it. Values without a
  ``value`` sub-attribute (addresses) are there when an equal value is.
* ``replace`` of a complex attribute merges too (§3.5.2.3: sub-attributes not given are left as they
  are); of a multi-valued attribute it replaces every value. On a value path it merges the value (or
  sets the sub-attribute) into each match. ``replace`` with null leaves the target unassigned.
* ``remove`` of an attribute without a value is a no-op. With a value filter it removes the matches,
  and a filter that matches nothing is 400 ``noTarget`` unless the ``absent_removal_is_noop``
  tolerance applies. A multi-valued attribute left without values, or a complex value left without
  sub-attributes, is unassigned. Removing a required attribute is 400 ``invalidValue``.
* A value filter that matches nothing on ``add``/``replace`` is 400 ``noTarget``, unless the
  ``filtered_path_creates`` tolerance applies and the filter is ``eq`` comparisons joined by ``and``:
  then the value is added with the sub-attributes the filter names.
* Setting ``primary`` to true on one value sets it to false on the others (§3.5.2); one operation
  that sets it on two values is 400 ``invalidValue`` (RFC 7643 §2.4).
* Changing an ``immutable`` value that is set is 400 ``mutability``; adding whole values of a
  multi-valued attribute (group members) is not a change of their immutable sub-attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from .errors import InvalidValue, Mutability, NoTarget
from .filter_eval import element_matches
from .models import validate_value
from .patch_path import equality_terms
from .patch_request import PatchRequest, PatchStep
from .resource import validate_stored
from .schema import Attribute, AttributeType, ResourceType
from .schema import Mutability as Mutable
from .tolerance import Tolerances

__all__ = ["apply_patch"]

_Key = tuple[Any, ...]


def apply_patch(resource_type: ResourceType, current: Mapping[str, Any], request: PatchRequest,
                resource_id: str | None = None) -> dict[str, Any]:
    """The resource ``current`` (stored form) after every step of ``request``; ``current`` is unchanged.

    ``resource_id`` is the id of the resource patched, which an ``id`` echoed in a value must name.
    """
    patcher = _Patcher(resource_type, current, request.tolerances, resource_id)
    for step in request.steps:
        patcher.apply(step)
    return patcher.result()


def _fold(value: Any, case_exact: bool) -> Any:
    return value.casefold() if isinstance(value, str) and not case_exact else value


def _same(attribute: Attribute, name: str, left: Any, right: Any) -> bool:
    sub = attribute.sub_attribute(name)
    exact = sub.case_exact if sub is not None else True
    return bool(_fold(left, exact) == _fold(right, exact))


def value_key(attribute: Attribute, record: Any) -> _Key | None:
    """What makes a value of a multi-valued complex attribute the same value (see the module doc)."""
    if not isinstance(record, Mapping):
        return ("", record)
    value_sub = attribute.sub_attribute("value")
    if value_sub is None or record.get("value") is None:
        return None
    value = _fold(record["value"], value_sub.case_exact)
    if value_sub.mutability == Mutable.IMMUTABLE:
        return (value,)
    type_sub = attribute.sub_attribute("type")
    kind = _fold(record.get("type"), type_sub.case_exact) if type_sub is not None else None
    return (value, kind)


def _contains(attribute: Attribute, record: Any, wanted: Mapping[str, Any]) -> bool:
    """Whether ``record`` has every sub-attribute value ``wanted`` gives."""
    return isinstance(record, Mapping) and all(
        _same(attribute, name, record.get(name), value) for name, value in wanted.items())


class _Patcher:
    """Applies steps to a copy of the resource; containers are copied before their first change."""

    def __init__(self, resource_type: ResourceType, current: Mapping[str, Any], tolerances: Tolerances,
                 resource_id: str | None) -> None:
        self.type = resource_type
        self.tolerances = tolerances
        self.resource_id = resource_id
        self.schemas = list(current.get("schemas") or [])
        self.data: dict[str, Any] = dict(current)
        self._copied: set[int] = set()

    # --- containers ------------------------------------------------------------------------------

    def _container(self, step: PatchStep, create: bool) -> dict[str, Any] | None:
        """The object holding the step's attribute: the resource, or its extension object."""
        if not step.path.in_extension:
            return self.data
        urn = step.path.schema.id
        found = self.data.get(urn)
        if not isinstance(found, dict):
            if not create:
                return None
            found = {}
        elif id(found) not in self._copied:
            found = dict(found)
        self._copied.add(id(found))
        self.data[urn] = found
        return found

    @staticmethod
    def _store(container: dict[str, Any], name: str, value: Any) -> None:
        if value is None or value == [] or value == {}:
            container.pop(name, None)
        else:
            container[name] = value

    # --- steps -----------------------------------------------------------------------------------

    def apply(self, step: PatchStep) -> None:
        if step.echo:
            self._echo(step)
            return
        path = step.path
        attribute = path.attribute
        if attribute is None:  # a whole extension (only remove gets here; add/replace were split up)
            self.data.pop(path.schema.id, None)
            return
        if attribute.multi_valued:
            self._multi_valued(step, attribute)
        elif path.sub_attribute is not None:
            self._sub_attribute(step, attribute, path.sub_attribute)
        elif attribute.type == AttributeType.COMPLEX:
            self._complex(step, attribute)
        else:
            self._simple(step, attribute)

    def _echo(self, step: PatchStep) -> None:
        if self.resource_id is not None and step.value != self.resource_id:
            raise Mutability(f"{step.where}: 'id' is read-only; the value names '{step.value}', "
                             f"not the resource being patched ('{self.resource_id}')")

    def _required(self, step: PatchStep, attribute: Attribute) -> None:
        if attribute.required:
            raise InvalidValue(f"{step.where}: '{attribute.name}' is required and cannot be removed")

    def _immutable(self, step: PatchStep, attribute: Attribute, name: str, old: Any, new: Any) -> None:
        if (attribute.mutability == Mutable.IMMUTABLE and old is not None
                and _fold(old, attribute.case_exact) != _fold(new, attribute.case_exact)):
            raise Mutability(f"{step.where}: '{name}' is immutable: it is {old!r} and stays so")

    def _simple(self, step: PatchStep, attribute: Attribute) -> None:
        unassign = step.op == "remove" or step.value is None
        container = self._container(step, create=not unassign)
        if container is None or (unassign and attribute.name not in container):
            return
        if unassign:
            self._required(step, attribute)
            del container[attribute.name]
            return
        self._immutable(step, attribute, attribute.name, container.get(attribute.name), step.value)
        container[attribute.name] = step.value

    def _complex(self, step: PatchStep, attribute: Attribute) -> None:
        unassign = step.op == "remove" or step.value is None
        container = self._container(step, create=not unassign)
        if container is None:
            return
        if unassign:
            if attribute.name in container:
                self._required(step, attribute)
                del container[attribute.name]
            return
        old = container.get(attribute.name)
        self._store(container, attribute.name, self._merged(step, attribute, old, step.value))

    def _sub_attribute(self, step: PatchStep, attribute: Attribute, sub: Attribute) -> None:
        value = None if step.op == "remove" else step.value
        container = self._container(step, create=value is not None)
        if container is None:
            return
        old = container.get(attribute.name)
        if value is None and not (isinstance(old, Mapping) and sub.name in old):
            return
        self._store(container, attribute.name, self._merged(step, attribute, old, {sub.name: value}))

    def _merged(self, step: PatchStep, attribute: Attribute, old: Any,
                changes: Mapping[str, Any]) -> dict[str, Any]:
        """``old`` (a complex value) with ``changes`` merged in; a None change unassigns."""
        merged = dict(old) if isinstance(old, Mapping) else {}
        for name, value in changes.items():
            sub = attribute.sub_attribute(name)
            if value is None:
                merged.pop(name, None)
                continue
            if sub is not None:
                self._immutable(step, sub, f"{attribute.name}.{name}", merged.get(name), value)
            merged[name] = value
        return merged

    # --- multi-valued attributes ------------------------------------------------------------------

    def _multi_valued(self, step: PatchStep, attribute: Attribute) -> None:
        path = step.path
        container = self._container(step, create=step.op != "remove")
        if container is None:
            return
        existing = container.get(attribute.name)
        records: list[Any] = list(existing) if isinstance(existing, list) else []
        touched: list[int] = []
        if not path.selects_values:
            if step.op == "add":
                records, touched = self._added(step, attribute, records)
            elif step.op == "replace":
                records = list(step.value or [])
                touched = list(range(len(records)))
            elif step.has_value:
                records = self._removed_by_value(step, attribute, records)
            else:
                records = []
        else:
            records, touched = self._selected(step, attribute, records)
        self._primary(step, attribute, records, touched)
        self._store(container, attribute.name, records)

    def _added(self, step: PatchStep, attribute: Attribute,
               records: list[Any]) -> tuple[list[Any], list[int]]:
        index: dict[_Key, int] = {}
        for position, record in enumerate(records):
            key = value_key(attribute, record)
            if key is not None:
                index.setdefault(key, position)
        touched: list[int] = []
        for item in step.value or []:
            key = value_key(attribute, item)
            if key is None:
                if any(record == item for record in records):
                    continue
                records.append(item)
                touched.append(len(records) - 1)
            elif key in index:
                position = index[key]
                records[position] = self._merged(step, attribute, records[position], item)
                touched.append(position)
            else:
                index[key] = len(records)
                records.append(item)
                touched.append(len(records) - 1)
        return records, touched

    def _removed_by_value(self, step: PatchStep, attribute: Attribute, records: list[Any]) -> list[Any]:
        """The ``remove_by_value`` tolerance: remove each value that has every sub-attribute given."""
        by_value: dict[Any, list[int]] = {}
        value_sub = attribute.sub_attribute("value")
        exact = value_sub.case_exact if value_sub is not None else True
        for position, record in enumerate(records):
            if isinstance(record, Mapping):
                by_value.setdefault(_fold(record.get("value"), exact), []).append(position)
        gone: set[int] = set()
        for item in step.value or []:
            if "value" in item:
                candidates = by_value.get(_fold(item["value"], exact), [])
            else:
                candidates = list(range(len(records)))
            found = [p for p in candidates if _contains(attribute, records[p], item)]
            if not found and not self.tolerances.absent_removal_is_noop:
                raise NoTarget(f"{step.where}: no value of '{attribute.name}' matches {item}")
            gone.update(found)
        return [record for position, record in enumerate(records) if position not in gone]

    def _selected(self, step: PatchStep, attribute: Attribute,
                  records: list[Any]) -> tuple[list[Any], list[int]]:
        """A value path: ``emails[type eq "work"]``, ``emails[...].value`` or ``emails.value``."""
        path = step.path
        flt, sub = path.value_filter, path.sub_attribute
        matched = [position for position, record in enumerate(records) if isinstance(record, Mapping)
                   and (flt is None or element_matches(flt, record))]
        if not matched:
            if step.op == "remove":
                if self.tolerances.absent_removal_is_noop:
                    return records, []
                raise NoTarget(f"{step.where}: no value of '{attribute.name}' matches the filter")
            records.append(self._created(step, attribute))
            return records, [len(records) - 1]
        if step.op == "remove":
            if sub is None:
                chosen = set(matched)
                return [record for position, record in enumerate(records) if position not in chosen], []
            changes: Mapping[str, Any] = {sub.name: None}
        else:
            changes = {sub.name: step.value} if sub is not None else step.value
        for position in matched:
            records[position] = self._merged(step, attribute, records[position], changes)
        kept: list[Any] = []
        touched: list[int] = []
        chosen = set(matched)
        for position, record in enumerate(records):
            if record:  # a value left without sub-attributes is gone
                if position in chosen and step.op != "remove":
                    touched.append(len(kept))
                kept.append(record)
        return kept, touched

    def _created(self, step: PatchStep, attribute: Attribute) -> dict[str, Any]:
        """The ``filtered_path_creates`` tolerance: the value a filter of ``eq`` terms describes."""
        flt = step.path.value_filter
        terms = equality_terms(flt) if flt is not None and self.tolerances.filtered_path_creates else None
        if terms is None:
            raise NoTarget(f"{step.where}: no value of '{attribute.name}' matches the filter")
        sub = step.path.sub_attribute
        given = {sub.name: step.value} if sub is not None else dict(step.value or {})
        for name, value in given.items():
            if name in terms and value is not None and not _same(attribute, name, terms[name], value):
                raise InvalidValue(f"{step.where}: the value sets '{name}' to {value!r}, which the filter "
                                   f"says is {terms[name]!r}")
        created = {**terms, **{name: value for name, value in given.items() if value is not None}}
        try:
            validate_value(attribute, created, element=True)
        except ValidationError:
            raise InvalidValue(f"{step.where}: the filter and the value do not make a valid value of "
                               f"'{attribute.name}': {created}") from None
        return created

    def _primary(self, step: PatchStep, attribute: Attribute, records: list[Any], touched: list[int]) -> None:
        """RFC 7644 §3.5.2: setting ``primary`` on one value clears it on the others."""
        if step.op == "remove" or attribute.sub_attribute("primary") is None:
            return
        primary = [position for position in touched
                   if isinstance(records[position], Mapping) and records[position].get("primary") is True]
        if len(primary) > 1:
            raise InvalidValue(f"{step.where}: 'primary' is true on {len(primary)} values of "
                               f"'{attribute.name}'; RFC 7643 §2.4 allows it on one")
        if not primary:
            return
        for position, record in enumerate(records):
            if position != primary[0] and isinstance(record, Mapping) and record.get("primary") is True:
                records[position] = {**record, "primary": False}

    # --- the result ------------------------------------------------------------------------------

    def result(self) -> dict[str, Any]:
        data = self.data
        for extension in self.type.extensions:
            if extension.schema.id in data and not data[extension.schema.id]:
                del data[extension.schema.id]
        data["schemas"] = [schema.id for schema in self.type.schemas()
                           if schema is self.type.schema or schema.id in data or schema.id in self.schemas]
        validate_stored(self.type, data)
        return data
