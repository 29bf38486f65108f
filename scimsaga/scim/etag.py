"""Entity tags and conditional requests (RFC 7644 §3.14, RFC 9110 §8.8.3 and §13.1).

A resource has a version, counting the writes SCIM clients made to it, and a revision, counting the
changes the service provider made on its own (a user's provisioning state, RFC 7643 §2.2 ``readOnly``).
Its tag is the weak ``W/"<version>"``, or ``W/"<version>.<revision>"`` once the provider changed it;
``meta.version`` and the ``ETag`` header carry the same tag.

* ``If-None-Match`` compares the whole tag: any change to the representation is a change.
* ``If-Match`` guards against lost updates, so it compares versions only: a client holding ``W/"1"``
  may still replace a user whose provisioning finished meanwhile (``W/"1.2"``), since a replacement
  keeps the read-only provisioning state; it may not overwrite another client's write (``W/"2"``).

Conditions compare weakly: ``"3"`` and ``W/"3"`` name the same version, since a client may drop the
weakness indicator it was given.
"""

from __future__ import annotations

import re

from .errors import InvalidSyntax, PreconditionFailed

_TAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*')


def etag(version: int, revision: int = 0) -> str:
    """The weak entity tag of a resource at ``version`` (client writes) and ``revision`` (the provider's)."""
    return f'W/"{version}"' if revision == 0 else f'W/"{version}.{revision}"'


def parse_condition(header: str) -> frozenset[str] | None:
    """The opaque tags an ``If-Match``/``If-None-Match`` header lists, or None for ``*`` (any version).

    Raises InvalidSyntax for a header that is not a list of quoted entity tags.
    """
    if header.strip() == "*":
        return None
    tags: set[str] = set()
    for part in _split(header):
        match = _TAG.fullmatch(part)
        if match is None:
            raise InvalidSyntax(f"'{part.strip()}' is not an entity tag; send one like W/\"3\"")
        tags.add(match.group(1))
    if not tags:
        raise InvalidSyntax("the condition header names no entity tag")
    return frozenset(tags)


def _split(header: str) -> list[str]:
    """Split a list of entity tags on the commas between them (a tag may itself hold commas)."""
    parts, current, quoted = [], "", False
    for char in header:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part for part in parts if part.strip()]


def condition_holds(header: str, version: int) -> bool:
    """Whether a resource at ``version`` matches an ``If-Match`` header: versions compare, revisions
    do not."""
    tags = parse_condition(header)
    return tags is None or any(tag.partition(".")[0] == str(version) for tag in tags)


def representation_matches(header: str, version: int, revision: int = 0) -> bool:
    """Whether an ``If-None-Match`` header names the current representation (the whole tag)."""
    tags = parse_condition(header)
    current = str(version) if revision == 0 else f"{version}.{revision}"
    return tags is None or current in tags


def require_match(if_match: str | None, version: int, what: str, revision: int = 0) -> None:
    """``If-Match`` (RFC 9110 §13.1.1): 412 unless the resource is at one of the listed versions."""
    if if_match is not None and not condition_holds(if_match, version):
        raise PreconditionFailed(
            f"{what} is at version {etag(version, revision)}, not {if_match.strip()}; read it again and retry"
        )
