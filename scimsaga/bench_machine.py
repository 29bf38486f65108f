"""The machine a benchmark ran on, written next to every figure (``bench/machine.py`` is this one)."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

PACKAGES = ("scimsaga", "ray", "falcon", "waitress", "pydantic")


def describe(packages: Sequence[str] = PACKAGES) -> dict[str, Any]:
    """When, which CPU (model, cores), how much memory, which Python, OS and package versions."""
    memory = None
    try:
        with open("/proc/meminfo") as meminfo:
            memory = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1]) * 1024
    except (OSError, StopIteration):
        pass
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions: dict[str, str | None] = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_bytes": memory,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
    }


def load_average() -> float | None:
    """The 1-minute load average: the machine may be shared, and a busy neighbour shows in figures."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None
