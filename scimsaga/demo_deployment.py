"""Where the demo runs: the deployment already running in the data directory, or one of its own.

A running deployment is found through the runfile ``scimsaga up`` writes in its data directory
(``cluster.json``: its URL, Ray address, namespace and mode). Otherwise the demo starts
``scimsaga up --port 0`` in a temporary data directory, exactly as a user would, waits for its ready
line, and stops it (SIGTERM) at the end. Either way the demo only talks HTTP to it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .demo_client import DeploymentError, HttpOperations, ScimClient
from .demo_narration import Narrator
from .settings import new_token

RUNFILE = "cluster.json"
"""The file ``Cluster.write_runfile`` writes (cluster.py is not imported here: it imports Ray)."""
TOKEN_FILE = "token"
TOKEN_ENV = "SCIMSAGA_TOKEN"
READY = re.compile(r"scimsaga ready: (?P<url>http://\S+)\s+token: (?P<token>\S+)")
START_TIMEOUT = 240.0


@dataclass
class Deployment:
    """A deployment the demo drives: its SCIM base URL, token and operator API."""

    url: str
    token: str
    label: str
    ray_address: str | None = None
    mode: str | None = None
    process: subprocess.Popen[str] | None = None
    data_dir: Path | None = None
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.scim = ScimClient(self.url, self.token)
        parts = urlsplit(self.url)
        self.root = f"{parts.scheme}://{parts.netloc}"
        self.operations = HttpOperations(self.root, self.token)

    @property
    def owned(self) -> bool:
        return self.process is not None

    def stop(self) -> None:
        """Stop a deployment the demo started (SIGTERM, as Ctrl-C would); leave anyone else's alone."""
        self.scim.http.close()
        self.operations.http.close()
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def read_runfile(data_dir: Path) -> dict[str, Any] | None:
    """The runfile of a deployment whose process is still alive, or None."""
    path = data_dir / RUNFILE
    try:
        info: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    pid = info.get("pid")
    if not isinstance(pid, int) or not isinstance(info.get("url"), str):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, someone else's
    return info


def find_running(data_dir: Path, token: str | None) -> Deployment | None:
    """The deployment running from ``data_dir``, checked to answer and to accept the token."""
    info = read_runfile(data_dir)
    if info is None:
        return None
    token = token or os.environ.get(TOKEN_ENV) or _stored_token(data_dir)
    if not token:
        raise DeploymentError(f"a deployment runs at {info['url']} but its token is not in {data_dir}; "
                              "pass it with --token")
    deployment = Deployment(info["url"], token, f"the running deployment at {info['url']}",
                            info.get("address"), info.get("mode"))
    if not deployment.scim.healthy():
        deployment.stop()
        return None
    deployment.operations.status()  # raises DeploymentError on a wrong token
    return deployment


def _stored_token(data_dir: Path) -> str | None:
    try:
        return (data_dir / TOKEN_FILE).read_text().strip() or None
    except OSError:
        return None


def up_supports(option: str, choice: str | None = None) -> bool:
    """Whether ``scimsaga up`` in this build takes ``option`` (and ``choice`` among its values)."""
    from argparse import _SubParsersAction

    from .cli import build_parser

    for action in build_parser()._actions:
        if not isinstance(action, _SubParsersAction) or "up" not in action.choices:
            continue
        for opt in action.choices["up"]._actions:
            if option in opt.option_strings:
                return choice is None or (opt.choices is not None and choice in opt.choices)
    return False


def start_own(narrator: Narrator, address: str | None = None, namespace: str | None = None,
              extra: Sequence[str] = (), label: str = "a deployment of its own") -> Deployment:
    """Start ``scimsaga up`` in a temporary data directory and wait until it is ready."""
    data_dir = Path(tempfile.mkdtemp(prefix="scimsaga-demo-"))
    token = new_token()
    namespace = namespace or f"demo-{secrets.token_hex(4)}"
    command = [sys.executable, "-m", "scimsaga", "up", "--port", "0", "--data-dir", str(data_dir),
               "--namespace", namespace, "--token", token, *extra]
    if address:
        command += ["--address", address]
    narrator.step(f"Starting {label}: [bold]scimsaga up[/] in {data_dir}"
                  + (f", joining Ray at {address}" if address else ", with a local Ray cluster"))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    lines: list[str] = []
    ready: dict[str, str] = {}

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            if narrator.verbose:
                narrator.console.print(f"  [dim]│ {line}[/]", markup=True, highlight=False)
            match = READY.search(line)
            if match:
                ready.update(url=match["url"], token=match["token"])

    threading.Thread(target=pump, daemon=True).start()
    deployment = Deployment("http://127.0.0.1:1/scim/v2", token, label, process=process, data_dir=data_dir,
                            log=lines)
    watched = narrator.watch(lambda _: "Ray, the bus and the services are starting",
                             poll=lambda: (dict(ready), process.poll()),
                             done=lambda v: bool(v[0]) or v[1] is not None,
                             timeout=START_TIMEOUT, interval=0.1)
    if not ready:
        deployment.stop()
        why = f"it exited with {process.returncode}" if process.returncode is not None else \
            f"it was not ready within {START_TIMEOUT:.0f}s"
        tail = "\n".join(lines[-15:])
        raise DeploymentError(f"scimsaga up did not start ({why}); its last lines:\n{tail}")
    info = read_runfile(data_dir) or {}
    started = Deployment(ready["url"], token, label, info.get("address"), info.get("mode"), process,
                         data_dir, lines)
    narrator.good(f"ready in {watched.seconds:.1f} s at {started.url}")
    return started
