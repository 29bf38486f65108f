"""JSON media for ``application/scim+json`` (RFC 7644 §3.1) and plain ``application/json``."""

from __future__ import annotations

import json
from functools import partial

import falcon
from falcon import media

SCIM_JSON = "application/scim+json"


def handlers() -> dict[str, media.BaseHandler]:
    """The same JSON handler under both media types; responses are compact UTF-8 JSON."""
    handler = media.JSONHandler(dumps=partial(json.dumps, ensure_ascii=False, separators=(",", ":")))
    return {SCIM_JSON: handler, falcon.MEDIA_JSON: handler}
