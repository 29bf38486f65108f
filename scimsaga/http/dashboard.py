"""``/dashboard``: a live page for the room, and the operator's JSON API behind it.

- ``GET /dashboard``: the page (or a redirect to the login form); it polls ``/dashboard/api/view``.
- ``GET|POST /dashboard/login``, ``POST /dashboard/logout``: the browser's sign-in (see dashboard_auth).
- ``GET /dashboard/api/view``: what the page draws (dashboard_state).
- ``GET /dashboard/api/status``, ``GET /dashboard/api/sagas?limit=N``, ``POST /dashboard/api/chaos``:
  the OperationsPort over HTTP, for the page's chaos buttons and for ``scimsaga demo``.

Everything the page needs is served from here (``http/static``): no CDN, no request leaves loopback.
"""

from __future__ import annotations

import html
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import falcon

from ..ports import OperationsPort
from ..scim.errors import InvalidSyntax, InvalidValue, NotFound, PayloadTooLarge, ServiceUnavailable
from .dashboard_auth import Sessions, require_same_origin
from .dashboard_state import BROKER, ViewSource

PAGE = "/dashboard"
LOGIN = "/dashboard/login"
LOGOUT = "/dashboard/logout"
API = "/dashboard/api"
STATIC = "/dashboard/static"
STATIC_FILES = {"dashboard.css": "text/css; charset=utf-8",
                "dashboard.js": "text/javascript; charset=utf-8"}
MAX_LOGIN_BYTES = 4096

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; "
                                "connect-src 'self'; img-src 'self' data:; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make the login form post Origin: null
    "Cache-Control": "no-store",
}


def open_paths() -> frozenset[str]:
    """The dashboard's paths: they authenticate for themselves (cookie or bearer), not by the SCIM rule."""
    return frozenset({PAGE, LOGIN, LOGOUT, f"{API}/view", f"{API}/status", f"{API}/sagas", f"{API}/chaos",
                      *(f"{STATIC}/{name}" for name in STATIC_FILES)})


def _asset(name: str) -> bytes:
    return resources.files(__package__).joinpath("static").joinpath(name).read_bytes()


def _html(resp: falcon.Response, body: bytes, status: str = falcon.HTTP_200) -> None:
    resp.status = status
    resp.content_type = falcon.MEDIA_HTML
    resp.data = body
    for name, value in SECURITY_HEADERS.items():
        resp.set_header(name, value)


def _json(resp: falcon.Response, body: Any) -> None:
    resp.content_type = falcon.MEDIA_JSON
    resp.set_header("Cache-Control", "no-store")
    resp.media = body


def _see_other(resp: falcon.Response, location: str) -> None:
    resp.status = falcon.HTTP_303
    resp.location = location


class Page:
    """The dashboard itself, for a signed-in browser; anyone else is sent to the login form."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions
        self._body = _asset("dashboard.html")

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not self._sessions.signed_in(req):
            _see_other(resp, LOGIN)
            return
        _html(resp, self._body)


class Login:
    """A form that takes the token once and answers with the session cookie."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions
        self._form = _asset("login.html").decode()

    def _render(self, resp: falcon.Response, message: str = "", status: str = falcon.HTTP_200) -> None:
        note = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
        _html(resp, self._form.replace("<!--message-->", note).encode(), status)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self._sessions.signed_in(req):
            _see_other(resp, PAGE)
            return
        self._render(resp)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        require_same_origin(req)
        length = req.content_length or 0
        if length > MAX_LOGIN_BYTES:
            raise PayloadTooLarge(f"a sign-in is at most {MAX_LOGIN_BYTES} bytes")
        form = parse_qs(req.bounded_stream.read(MAX_LOGIN_BYTES).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0]
        if not token or not self._sessions.token_matches(token):
            self._render(resp, "That token does not open this deployment. It is the bearer token "
                               "`scimsaga up` printed (also in the data directory's token file).",
                         falcon.HTTP_401)
            return
        self._sessions.set_cookie(req, resp)
        _see_other(resp, PAGE)


class Logout:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        require_same_origin(req)
        Sessions.clear_cookie(resp)
        _see_other(resp, LOGIN)


class Static:
    """The page's stylesheet and script; nothing else is served from the package."""

    def __init__(self) -> None:
        self._files = {name: _asset(name) for name in STATIC_FILES}

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        if name not in self._files:
            raise NotFound(f"no dashboard file '{name}'")
        resp.content_type = STATIC_FILES[name]
        resp.set_header("Cache-Control", "no-cache")
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.data = self._files[name]


class ViewApi:
    def __init__(self, sessions: Sessions, source: ViewSource) -> None:
        self._sessions = sessions
        self._source = source

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._sessions.require(req)
        _json(resp, self._source.view())


class OperationsApi:
    """The OperationsPort over HTTP: status, recent sagas, chaos switches and kill."""

    def __init__(self, sessions: Sessions, operations: OperationsPort | None) -> None:
        self._sessions = sessions
        self._operations = operations

    def _port(self, req: falcon.Request) -> OperationsPort:
        self._sessions.require(req)
        if self._operations is None:
            raise ServiceUnavailable("this front door was started without an operations port")
        return self._operations

    def on_get_status(self, req: falcon.Request, resp: falcon.Response) -> None:
        _json(resp, _call(self._port(req).status))

    def on_get_sagas(self, req: falcon.Request, resp: falcon.Response) -> None:
        operations = self._port(req)
        limit = req.get_param_as_int("limit", min_value=1, max_value=500, default=20)
        _json(resp, _call(lambda: operations.recent_sagas(limit)))

    def on_post_chaos(self, req: falcon.Request, resp: falcon.Response) -> None:
        operations = self._port(req)
        require_same_origin(req)
        body = req.get_media(default_when_empty=None)
        service, kill, changes = parse_chaos(body)
        known = [str(s.get("name")) for s in _call(operations.status).get("services") or []]
        if service not in known and not (kill and service == BROKER):
            choices = ", ".join([*known, f"{BROKER} (kill only)"])
            raise NotFound(f"no service '{service}'; choose one of {choices}")
        if kill:
            _call(lambda: operations.kill(service))
            _json(resp, {"service": service, "killed": True})
            return
        faults = _call(lambda: operations.chaos(service, **changes))
        _json(resp, {"service": service, "faults": faults})


CHAOS_FIELDS = {"down": bool, "latency_ms": int, "fail_rate": float}


def parse_chaos(body: Any) -> tuple[str, bool, dict[str, Any]]:
    """``{"service": "billing", "down": true}``, ``{"latency_ms": 500}``, ``{"fail_rate": 0.3}``,
    ``{"kill": true}``; nothing but ``service`` reads the faults in force without changing them."""
    if not isinstance(body, dict):
        raise InvalidSyntax('send a JSON object such as {"service": "billing", "down": true}')
    service = body.get("service")
    if not isinstance(service, str) or not service:
        raise InvalidValue("'service' must name a service, e.g. \"billing\"")
    unknown = sorted(set(body) - {"service", "kill", *CHAOS_FIELDS})
    if unknown:
        raise InvalidValue(f"unknown field(s) {', '.join(unknown)}; use down, latency_ms, fail_rate or kill")
    kill = body.get("kill", False)
    if not isinstance(kill, bool):
        raise InvalidValue("'kill' must be true or false")
    changes: dict[str, Any] = {}
    for name, kind in CHAOS_FIELDS.items():
        if name not in body:
            continue
        value = body[name]
        ok = isinstance(value, bool) if kind is bool else (
            isinstance(value, (int, float)) and not isinstance(value, bool))
        if not ok:
            raise InvalidValue(f"'{name}' must be a {kind.__name__}")
        changes[name] = kind(value)
    if "latency_ms" in changes and not 0 <= changes["latency_ms"] <= 60_000:
        raise InvalidValue("'latency_ms' must be between 0 and 60000")
    if "fail_rate" in changes and not 0.0 <= changes["fail_rate"] <= 1.0:
        raise InvalidValue("'fail_rate' must be between 0 and 1")
    if kill and changes:
        raise InvalidValue("'kill' goes alone: a killed actor comes back with the faults it had")
    return service, kill, changes


def _call(run: Any) -> Any:
    """Run an operations call; a deployment that cannot answer now is a 503 the caller may retry."""
    try:
        return run()
    except (falcon.HTTPError, InvalidValue, NotFound):
        raise
    except Exception as exc:
        detail = str(exc).strip().splitlines()
        raise ServiceUnavailable(
            f"the deployment did not answer: {detail[0][:300] if detail else type(exc).__name__}") from None


def add_routes(app: falcon.App[falcon.Request, falcon.Response], sessions: Sessions, source: ViewSource,
               operations: OperationsPort | None) -> None:
    app.add_route(PAGE, Page(sessions))
    app.add_route(LOGIN, Login(sessions))
    app.add_route(LOGOUT, Logout())
    app.add_route(f"{STATIC}/{{name}}", Static())
    app.add_route(f"{API}/view", ViewApi(sessions, source))
    api = OperationsApi(sessions, operations)
    app.add_route(f"{API}/status", api, suffix="status")
    app.add_route(f"{API}/sagas", api, suffix="sagas")
    app.add_route(f"{API}/chaos", api, suffix="chaos")
