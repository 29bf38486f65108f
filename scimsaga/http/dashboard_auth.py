"""Who may see the dashboard: the holder of the deployment's token, signed in once per browser.

A browser cannot send a bearer header when it follows a link, so the dashboard has a login form: the
token is posted once and answered with a session cookie (HttpOnly, SameSite=Strict, scoped to
``/dashboard``). The cookie holds an expiry and an HMAC of it keyed with the token, never the token
itself; it needs no server-side state, survives a restart of the front door, and dies with a change of
token. Scripts may send ``Authorization: Bearer <token>`` instead (RFC 6750 §2.1), as for the SCIM API,
which stays bearer-only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import falcon

from ..scim.errors import Forbidden, Unauthorized

COOKIE = "scimsaga_dashboard"
COOKIE_PATH = "/dashboard"
LIFETIME = 12 * 3600
"""Seconds a sign-in lasts: a working day, a workshop and then some."""


class Sessions:
    """Issues and checks session cookies for the holder of ``token``."""

    def __init__(self, token: str, lifetime: int = LIFETIME, clock: Callable[[], float] = time.time) -> None:
        self._token = token.encode()
        self._lifetime = lifetime
        self._clock = clock

    def token_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.strip().encode(), self._token)

    def issue(self) -> str:
        expires = int(self._clock()) + self._lifetime
        return f"{expires}.{self._sign(expires)}"

    def valid(self, value: str | None) -> bool:
        if not value:
            return False
        expires_text, _, signature = value.partition(".")
        if not expires_text.isdigit() or not signature:
            return False
        expires = int(expires_text)
        return expires > self._clock() and hmac.compare_digest(signature, self._sign(expires))

    def _sign(self, expires: int) -> str:
        digest = hmac.new(self._token, f"scimsaga-dashboard:{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    # --- requests -------------------------------------------------------------------------------

    def signed_in(self, req: falcon.Request) -> bool:
        """A valid session cookie, or the bearer token itself."""
        if any(self.valid(value) for value in req.get_cookie_values(COOKIE) or ()):
            return True
        scheme, _, credentials = (req.get_header("Authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and bool(credentials) and self.token_matches(credentials)

    def require(self, req: falcon.Request) -> None:
        """For the JSON API: 401 unless signed in."""
        if not self.signed_in(req):
            raise Unauthorized("sign in at /dashboard/login, or send 'Authorization: Bearer <token>'")

    def set_cookie(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.set_cookie(COOKIE, self.issue(), max_age=self._lifetime, path=COOKIE_PATH,
                        secure=req.scheme == "https", http_only=True, same_site="Strict")

    @staticmethod
    def clear_cookie(resp: falcon.Response) -> None:
        resp.unset_cookie(COOKIE, path=COOKIE_PATH, same_site="Strict")


def require_same_origin(req: falcon.Request) -> None:
    """A browser's state-changing request must come from the dashboard's own page (no cross-site forms).

    Browsers send ``Origin`` on every POST; clients that are not browsers send none, and are
    authenticated by their bearer token alone.
    """
    origin = req.get_header("Origin")
    if origin is None:
        return
    if origin == "null" or urlsplit(origin).netloc.lower() != req.netloc.lower():
        raise Forbidden(f"a request from {origin} may not change this deployment")
