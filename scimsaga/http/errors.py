"""Every error leaves as a SCIM error body (RFC 7644 §3.12), and none carries a traceback."""

from __future__ import annotations

import logging
from typing import Any

import falcon

from ..scim.errors import InternalError, InvalidSyntax, ScimError, error_for_status
from .media import SCIM_JSON

log = logging.getLogger(__name__)

def _send(resp: falcon.Response, error: ScimError) -> None:
    resp.status = falcon.code_to_http_status(error.status)
    resp.content_type = SCIM_JSON
    resp.media = error.to_dict()


def scim_error(req: falcon.Request, resp: falcon.Response, ex: ScimError, params: Any) -> None:
    _send(resp, ex)
    if ex.status == 401:
        resp.set_header("WWW-Authenticate", 'Bearer realm="scimsaga"')


def falcon_error(req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: Any) -> None:
    """Falcon's own errors (404 route, 405, malformed media ...) in SCIM form."""
    status = int(ex.status_code)
    detail = ex.description or ex.title or "request failed"
    if isinstance(ex, falcon.MediaMalformedError):
        _send(resp, InvalidSyntax("the request body is not valid JSON"))
        return
    _send(resp, error_for_status(status, detail))
    headers = ex.headers or {}
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers)
    for name, value in pairs:
        resp.set_header(name, value)


def unexpected_error(req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any) -> None:
    request_id = req.context.get("request_id", "-")
    log.error("request %s failed: %s", request_id, ex, exc_info=ex)
    _send(resp, InternalError(f"internal error; quote request id {request_id} when reporting it"))


def install(app: falcon.App[falcon.Request, falcon.Response]) -> None:
    """Register the handlers, most general first: Falcon picks the most specific one."""
    app.add_error_handler(Exception, unexpected_error)
    app.add_error_handler(falcon.HTTPError, falcon_error)
    app.add_error_handler(ScimError, scim_error)
