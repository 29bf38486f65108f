"""A WSGI app served by waitress on a free loopback port, in a thread of this process, for as long as
a ``with`` block runs: the baselines and the peer are served exactly as scimsaga's front door is."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from waitress.server import create_server

THREADS = 8
"""waitress's worker threads, as ``scimsaga.http.server.bind`` gives the front door."""


@contextmanager
def served(app: Any, threads: int = THREADS) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1; yields ``http://127.0.0.1:PORT``."""
    server = create_server(app, host="127.0.0.1", port=0, threads=threads, ident="bench",
                           clear_untrusted_proxy_headers=True)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(5)
