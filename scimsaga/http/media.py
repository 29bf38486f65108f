"""JSON media for ``application/scim+json`` (RFC 7644 §3.1) and plain ``application/json``."""

from __future__ import annotations

import json
from functools import partial

import falcon
from falcon import media

SCIM_JSON = "application/scim+json"


def _refuse_constant(name: str) -> float:
    # RFC 8259 §6 has no NaN or Infinity; Python's json reads them unless told not to.
    raise ValueError(f"{name} is not a JSON number")


def handlers() -> dict[str, media.BaseHandler]:
    """The same JSON handler under both media types; responses are compact UTF-8 JSON; requests are
    strict JSON (``NaN`` and ``Infinity`` are malformed: 400 invalidSyntax)."""
    handler = media.JSONHandler(dumps=partial(json.dumps, ensure_ascii=False, separators=(",", ":")),
                                loads=partial(json.loads, parse_constant=_refuse_constant))
    return {SCIM_JSON: handler, falcon.MEDIA_JSON: handler}
