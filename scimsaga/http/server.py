"""The waitress entry: bind first (so a port in use fails before anything starts), then serve."""

from __future__ import annotations

import logging
from typing import Any

import falcon
from waitress.server import create_server


def bind(app: falcon.App[falcon.Request, falcon.Response], host: str, port: int, threads: int = 8,
         max_body_bytes: int = 1_048_576) -> Any:
    """Create the server and bind its socket; raises OSError when the port is taken.

    Waitress buffers a whole body before the app sees it, a chunked one too (it then sets its
    Content-Length), up to ``max_request_body_size``: 1 GiB unless told. Twice our own limit keeps
    that buffer small while a body just over the limit still reaches the app and gets a SCIM 413
    (``BodyLimit``); past twice the limit waitress answers 413 itself, in plain text.
    """
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    return create_server(app, host=host, port=port, threads=threads, ident="scimsaga",
                         clear_untrusted_proxy_headers=True, max_request_body_size=2 * max_body_bytes)


def bound_port(server: Any) -> int:
    return int(server.effective_port)
