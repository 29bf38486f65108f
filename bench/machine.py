"""The machine a benchmark ran on, written next to every figure."""

from __future__ import annotations

import os
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from typing import Any


def describe() -> dict[str, Any]:
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
    versions = {}
    for package in ("scimsaga", "ray", "falcon", "waitress", "pydantic"):
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
