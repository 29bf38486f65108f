"""``scimsaga up`` for real, as a subprocess on a free loopback port, driven over HTTP."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

READY = re.compile(r"scimsaga ready: (?P<url>http://\S+)\s+token: (?P<token>\S+)")


@dataclass
class Running:
    """A running ``scimsaga up``: its process, URL, token, namespace and what it printed."""

    process: subprocess.Popen[str]
    url: str
    token: str
    namespace: str
    data_dir: Path
    lines: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/scim+json"}

    @property
    def root(self) -> str:
        return self.url.rsplit("/scim/v2", 1)[0]

    def stop(self, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


def scimsaga(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run a short scimsaga command and capture what it printed."""
    return subprocess.run([sys.executable, "-m", "scimsaga", *args], capture_output=True, text=True,
                          timeout=timeout, env=_env())


def _env() -> dict[str, str]:
    """The environment of a user's shell: without what this test process set up for its own Ray."""
    env = dict(os.environ)
    for name in ("SCIMSAGA_TOKEN", "RAY_AUTH_MODE", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "RAY_ADDRESS"):
        env.pop(name, None)
    return env


def start_up(*args: str, timeout: float = 150.0) -> Running:
    """Start ``scimsaga up`` and wait for its ready line (or fail with what it printed)."""
    process = subprocess.Popen([sys.executable, "-m", "scimsaga", "up", "--port", "0", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env())
    lines: queue.Queue[str | None] = queue.Queue()
    seen: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    data_dir = Path(args[args.index("--data-dir") + 1]) if "--data-dir" in args else Path(".scimsaga")
    namespace = args[args.index("--namespace") + 1] if "--namespace" in args else "scimsaga"
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            process.kill()
            raise AssertionError(f"no ready line within {timeout}s; printed: {seen}") from None
        if line is None:
            raise AssertionError(f"scimsaga up exited {process.wait()} before ready; printed: {seen}")
        seen.append(line)
        match = READY.search(line)
        if match:
            running = Running(process, match["url"], match["token"], namespace, data_dir, seen)
            threading.Thread(target=_drain, args=(lines, seen), daemon=True).start()
            return running


def _drain(lines: queue.Queue[str | None], seen: list[str]) -> None:
    while (line := lines.get()) is not None:
        seen.append(line)


@pytest.fixture(scope="module")
def server(ray_address: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One deployment for a test module, joined to the shared Ray session with ``--address``."""
    data_dir = tmp_path_factory.mktemp("e2e")
    namespace = f"e2e-{uuid.uuid4().hex[:8]}"
    running = start_up("--address", ray_address, "--namespace", namespace, "--data-dir", str(data_dir),
                       "--token", "e2e-token")
    try:
        yield running
    finally:
        code = running.stop()
        assert code == 0, running.lines


@pytest.fixture
def http(server: Running) -> requests.Session:
    session = requests.Session()
    session.headers.update(server.headers)
    return session
