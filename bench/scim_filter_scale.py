"""``GET /Users?filter=userName eq "..."`` over HTTP with 100,000 and 1,000,000 users in the store.

    flock /tmp/scimsaga-ray.lock .venv/bin/python -m bench.scim_filter_scale \
        [--sizes 100000 1000000] [--queries 2000] [--json bench/results/scim_filter_scale.json]

For each size the identity store is seeded in bulk, straight into its SQLite file with the service's own
schema (not through HTTP), then ``scimsaga up`` serves it on loopback and one client asks for random
existing users by ``userName`` (in a letter case other than the stored one, so the case-insensitive
index is what answers), one request at a time. An index lookup costs about the same at any size: the
goal is that a million users costs at most 1.5 times a hundred thousand.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from scimsaga.actors.identity import IdentityService
from scimsaga.scim.schema import ENTERPRISE_USER_URN, PROVISIONING_URN, USER_SCHEMA_URN
from scimsaga.settings import Settings
from scimsaga.storage import open_database

from .machine import describe

READY = re.compile(r"scimsaga ready: (?P<url>http://\S+)\s+token: (?P<token>\S+)")
TOKEN = "bench-token"
BATCH = 20_000


def user_name(number: int) -> str:
    return f"Test_User_{number:07d}@contoso.example"


def _rows(count: int) -> Iterator[tuple[tuple[Any, ...], tuple[str, str]]]:
    for number in range(count):
        user_id = f"{number:08x}-0000-4000-8000-{number:012x}"
        name = user_name(number)
        resource = {
            "schemas": [USER_SCHEMA_URN, ENTERPRISE_USER_URN, PROVISIONING_URN],
            "userName": name, "externalId": f"ext-{number}", "active": True,
            "displayName": f"Test User {number}",
            "name": {"givenName": "Test", "familyName": f"User{number}"},
            "emails": [{"value": name, "type": "work", "primary": True}],
            ENTERPRISE_USER_URN: {"employeeNumber": str(number),
                                  "department": f"Dept {number % 97}"},
            PROVISIONING_URN: {"state": "active", "services": []},
        }
        created = f"2026-01-01T00:00:00.{number % 1000:03d}Z"
        yield ((user_id, name.casefold(), f"ext-{number}", json.dumps(resource), "active", created, created),
               (user_id, name.casefold()))


def seed(data_dir: Path, count: int) -> float:
    """Write ``count`` active users into the identity store's file; returns the seconds it took."""
    started = time.perf_counter()
    data_dir.mkdir(parents=True, exist_ok=True)
    conn = open_database(data_dir / "identity.sqlite")
    IdentityService(Settings(data_dir=data_dir)).install(conn)
    conn.execute("PRAGMA synchronous=OFF")
    rows = _rows(count)
    while True:
        batch = [next(rows, None) for _ in range(BATCH)]
        present = [row for row in batch if row is not None]
        if not present:
            break
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO users (id, user_name_key, external_id, resource, state, created, "
                         "last_modified, version) VALUES (?, ?, ?, ?, ?, ?, ?, 1)", [r[0] for r in present])
        conn.executemany("INSERT INTO user_emails (user_id, value_key) VALUES (?, ?)",
                         [r[1] for r in present])
        conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - started


def start_up(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "SCIMSAGA_TOKEN")}
    process = subprocess.Popen(
        [sys.executable, "-m", "scimsaga", "up", "--port", "0", "--data-dir", str(data_dir), "--token", TOKEN,
         "--namespace", f"bench-{os.getpid()}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert process.stdout is not None
    deadline = time.monotonic() + 180
    for line in process.stdout:
        match = READY.search(line)
        if match:
            return process, match["url"]
        if time.monotonic() > deadline:
            break
    process.kill()
    raise RuntimeError("scimsaga up did not become ready")


def measure(url: str, count: int, queries: int, rng: random.Random) -> dict[str, Any]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"

    def ask(number: int) -> float:
        wanted = user_name(number).upper()
        started = time.perf_counter()
        response = session.get(f"{url}/Users", params={"filter": f'userName eq "{wanted}"'}, timeout=30)
        elapsed = time.perf_counter() - started
        body = response.json()
        if response.status_code != 200 or body["totalResults"] != 1:
            raise RuntimeError(f"unexpected answer for {wanted}: {response.status_code} {body}")
        return elapsed

    for _ in range(100):  # warm the connection, the actor and the page cache
        ask(rng.randrange(count))
    samples = sorted(ask(rng.randrange(count)) * 1000 for _ in range(queries))
    return {
        "users": count, "queries": queries,
        "p50_ms": round(statistics.median(samples), 3),
        "p90_ms": round(samples[int(0.90 * (len(samples) - 1))], 3),
        "p99_ms": round(samples[int(0.99 * (len(samples) - 1))], 3),
        "mean_ms": round(statistics.fmean(samples), 3),
    }


def run(sizes: list[int], queries: int, keep: Path | None) -> dict[str, Any]:
    rng = random.Random(7)
    results = []
    for size in sizes:
        root = Path(tempfile.mkdtemp(prefix=f"scim-bench-{size}-", dir=keep))
        data_dir = root / "data"
        seconds = seed(data_dir, size)
        database_bytes = (data_dir / "identity.sqlite").stat().st_size
        print(f"seeded {size:>9,} users in {seconds:6.1f} s ({database_bytes / 2**20:,.0f} MiB)", flush=True)
        process, url = start_up(data_dir)
        try:
            figure = measure(url, size, queries, rng)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        figure.update(seed_seconds=round(seconds, 1), database_mib=round(database_bytes / 2**20, 1))
        results.append(figure)
        print(f"{size:>9,} users: p50 {figure['p50_ms']:.2f} ms  p99 {figure['p99_ms']:.2f} ms", flush=True)
        for path in sorted(data_dir.glob("*")):
            path.unlink()
    ratio = None
    if len(results) >= 2:
        ratio = {"p50": round(results[-1]["p50_ms"] / results[0]["p50_ms"], 2),
                 "p99": round(results[-1]["p99_ms"] / results[0]["p99_ms"], 2)}
        print(f"largest / smallest: p50 x{ratio['p50']}, p99 x{ratio['p99']} (goal: at most x1.5)")
    return {"benchmark": "scim_filter_scale", "machine": describe(), "goal": "largest/smallest <= 1.5",
            "figures": results, "ratio": ratio}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--json", type=Path, help="write the result here as JSON")
    parser.add_argument("--work-dir", type=Path, help="where to put the seeded stores (default: /tmp)")
    args = parser.parse_args()
    result = run(args.sizes, args.queries, args.work_dir)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
