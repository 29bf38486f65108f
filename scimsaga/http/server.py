"""The waitress entry: bind first (so a port in use fails before anything starts), then serve."""

from __future__ import annotations

import logging
from typing import Any

import falcon
from waitress.server import create_server


def bind(app: falcon.App[falcon.Request, falcon.Response], host: str, port: int, threads: int = 8) -> Any:
    """Create the server and bind its socket; raises OSError when the port is taken."""
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    return create_server(app, host=host, port=port, threads=threads, ident="scimsaga",
                         clear_untrusted_proxy_headers=True)


def bound_port(server: Any) -> int:
    return int(server.effective_port)
