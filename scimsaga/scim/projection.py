"""``attributes`` and ``excludedAttributes`` (RFC 7644 §3.4.2.5, §3.9) with ``returned`` (RFC 7643 §7).

Every response that carries resources passes through :func:`select`:

* ``returned: always`` (``id``, ``schemas``) is in every response, whatever was asked;
* ``returned: never`` (``password``) is in none;
* ``returned: default`` is there unless ``excludedAttributes`` names it, or ``attributes`` is given and
  does not name it (nor one of its sub-attributes);
* ``returned: request`` is there only when ``attributes`` names it.

Names are attribute paths in any letter case: ``userName``, ``name.givenName``, ``emails.value``,
``meta.lastModified``, URN-qualified ones, or a bare extension URN for the whole extension. Where the
RFC is silent this module decides: giving both parameters is 400 ``invalidValue``; a name that is no
attribute of the resource type is 400 ``invalidValue`` at a resource type's endpoint, and ignored by a
search across resource types (a ``userName`` means nothing to a Group there).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .errors import InvalidValue
from .filter import resolve_path
from .schema import COMMON_ATTRIBUTES, Attribute, AttributeType, ResourceType, Returned

_Key = tuple[str, str | None, str | None]
"""A resolved name: (lower-cased schema URN, lower-cased attribute or None for the whole extension,
lower-cased sub-attribute or None)."""


@dataclass(frozen=True)
class Selection:
    """What a request asked to include or leave out; both empty means the default representation."""

    attributes: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.attributes and self.excluded:
            raise InvalidValue("give 'attributes' or 'excludedAttributes', not both")

    @property
    def is_default(self) -> bool:
        return not self.attributes and not self.excluded


DEFAULT = Selection()


def _names(raw: object, parameter: str) -> tuple[str, ...]:
    if raw is None or raw == "":
        return ()
    if isinstance(raw, str):
        parts = raw.split(",")
    elif isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        parts = [part for item in raw for part in item.split(",")]
    else:
        raise InvalidValue(f"'{parameter}' must be a comma-separated string or a list of attribute names")
    return tuple(part.strip() for part in parts if part.strip())


def parse_selection(attributes: object, excluded: object) -> Selection:
    """A selection from query parameters (comma-separated text) or a SearchRequest body (lists)."""
    return Selection(_names(attributes, "attributes"), _names(excluded, "excludedAttributes"))


def check_selection(resource_type: ResourceType, selection: Selection) -> None:
    """400 ``invalidValue`` when a name is no attribute of ``resource_type`` (before any work is done)."""
    for name in (*selection.attributes, *selection.excluded):
        if _resolve(resource_type, name) is None:
            raise InvalidValue(f"'{name}' is not an attribute of {resource_type.name}; "
                               f"see /Schemas for the attributes it has")


@lru_cache(maxsize=1024)
def _resolve(resource_type: ResourceType, name: str) -> _Key | None:
    lowered = name.lower()
    if lowered in resource_type.extensions_by_urn:
        return lowered, None, None
    try:
        path = resolve_path(resource_type, name)
    except KeyError:
        return None
    sub = path.sub_attribute.name.lower() if path.sub_attribute is not None else None
    return path.schema_urn.lower(), path.attribute.name.lower(), sub


def _keys(resource_type: ResourceType, names: Iterable[str]) -> frozenset[_Key]:
    return frozenset(key for key in (_resolve(resource_type, name) for name in names) if key is not None)


@lru_cache(maxsize=64)
def _has_request_only(resource_type: ResourceType) -> bool:
    return any(_returned_on_request(a) for schema in resource_type.schemas() for a in schema.attributes)


def _returned_on_request(attribute: Attribute) -> bool:
    return attribute.returned == Returned.REQUEST or any(
        sub.returned == Returned.REQUEST for sub in attribute.sub_attributes)


def select(resource_type: ResourceType, body: Mapping[str, Any], selection: Selection) -> dict[str, Any]:
    """The response body ``selection`` asks for, from the full rendered ``body``."""
    if selection.is_default and not _has_request_only(resource_type):
        return dict(body)
    chooser = _Chooser(_keys(resource_type, selection.attributes), _keys(resource_type, selection.excluded),
                       bool(selection.attributes))
    core = resource_type.schema
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key in ("schemas", "id"):
            out[key] = value
            continue
        extension = resource_type.extension(key) if key.startswith("urn:") else None
        if extension is not None:
            if not isinstance(value, Mapping):
                continue
            urn = extension.id.lower()
            chosen: dict[str, Any] = {}
            for name, sub_value in value.items():
                attribute = extension.attribute(name)
                if attribute is not None:
                    _put(chosen, name, chooser.choose(urn, attribute, sub_value))
            if chosen:
                out[key] = chosen
            continue
        attribute = core.attribute(key) or _common(key)
        if attribute is not None:
            _put(out, key, chooser.choose(core.id.lower(), attribute, value))
    return out


def _common(name: str) -> Attribute | None:
    return next((a for a in COMMON_ATTRIBUTES if a.name.lower() == name.lower()), None)


_DROP = object()


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not _DROP:
        target[key] = value


class _Chooser:
    def __init__(self, included: frozenset[_Key], excluded: frozenset[_Key], only_included: bool) -> None:
        self.included = included
        self.excluded = excluded
        self.only_included = only_included

    def choose(self, urn: str, attribute: Attribute, value: Any) -> Any:
        """The part of ``value`` to return, or ``_DROP``."""
        name = attribute.name.lower()
        if attribute.returned == Returned.NEVER:
            return _DROP
        if attribute.returned == Returned.ALWAYS:
            return value
        whole = (urn, None, None) in self.included or (urn, name, None) in self.included
        if self.only_included:
            if whole:
                return value
            subs = {key[2] for key in self.included if key[0] == urn and key[1] == name and key[2]}
            if not subs:
                return _DROP
            return _sub_attributes(attribute, value, lambda sub: sub.name.lower() in subs
                                   or sub.returned == Returned.ALWAYS)
        if attribute.returned == Returned.REQUEST and not whole:
            return _DROP
        if (urn, None, None) in self.excluded or (urn, name, None) in self.excluded:
            return _DROP
        dropped = {key[2] for key in self.excluded if key[0] == urn and key[1] == name and key[2]}
        if not dropped and not any(sub.returned == Returned.REQUEST for sub in attribute.sub_attributes):
            return value
        return _sub_attributes(attribute, value, lambda sub: sub.returned == Returned.ALWAYS or (
            sub.name.lower() not in dropped and sub.returned != Returned.REQUEST))


def _sub_attributes(attribute: Attribute, value: Any, keep: Any) -> Any:
    """``value`` with only the sub-attributes ``keep`` accepts; empty results are dropped."""
    if attribute.type != AttributeType.COMPLEX:
        return value
    kept_names = {sub.name.lower() for sub in attribute.sub_attributes if keep(sub)}

    def trim(item: Any) -> Any:
        if not isinstance(item, Mapping):
            return item
        return {k: v for k, v in item.items() if k.lower() in kept_names}

    if attribute.multi_valued and isinstance(value, list):
        items = [trimmed for trimmed in (trim(item) for item in value) if trimmed]
        return items or _DROP
    trimmed = trim(value)
    return trimmed or _DROP
