"""Serve one of the suite's baselines in a process of its own, as ``scimsaga up`` serves our front door:

    .venv/bin/python -m bench.serve ceiling|peer|antipattern --token T

It listens on a free loopback port with waitress (8 threads), prints
``bench serving KIND at http://127.0.0.1:PORT/BASE``, and serves until SIGTERM or Ctrl-C. The load
generator runs in another process, so the server never shares an interpreter lock with its client.
"""

from __future__ import annotations

from scimsaga.settings import keep_ray_on_loopback

keep_ray_on_loopback()  # before Ray is imported: the anti-pattern's cluster listens on 127.0.0.1 only

import argparse  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import threading  # noqa: E402
from typing import Any  # noqa: E402

from .serving import served  # noqa: E402

KINDS = ("ceiling", "peer", "antipattern")


def app_for(kind: str, token: str) -> tuple[Any, str, Any]:
    """The WSGI app, its SCIM base path, and what to clean up after."""
    if kind == "ceiling":
        from . import http_ceiling

        return http_ceiling.create_app(token), http_ceiling.BASE, None
    if kind == "peer":
        from . import peer_scim2_server

        return peer_scim2_server.create_app(token), peer_scim2_server.BASE, None
    from . import antipattern

    app, data_dir = antipattern.start(token)
    return app, antipattern.BASE, data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    app, base, data_dir = app_for(args.kind, args.token)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        with served(app) as root:
            print(f"bench serving {args.kind} at {root}{base}", flush=True)
            stop.wait()
    finally:
        if data_dir is not None:
            import ray

            ray.shutdown()
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
