"""PATCH over HTTP against a running deployment: one attribute of a user, and 1,000 members added to a group.

    flock /tmp/scimsaga-ray.lock .venv/bin/python -m bench.scim_patch \\
        [--users 60000] [--single 2000] [--groups 50] [--members 1000] [--json bench/results/scim_patch.json]

The identity store is seeded in bulk with provisioned users (straight into its SQLite file, as
``bench.scim_filter_scale`` does), then ``scimsaga up`` serves it on loopback with a local Ray cluster
and one client sends one request at a time:

* ``single``: ``PATCH /Users/{id}`` replacing ``title`` with a new value each time (a real write: a
  new version, a ``UserUpdated`` event, the update saga behind it);
* ``group add``: a new empty group, then one ``PATCH /Groups/{id}`` adding ``--members`` users that are
  in no group yet (a ``GroupMembershipChanged`` naming all of them). Between two samples the bench waits
  until the bus has delivered everything (``scimsaga_bus_lag`` 0 in ``/metrics``), so each sample
  measures the request, not the backlog of the one before.

Figures are milliseconds from sending the request to reading the whole response. The machine may be
shared: the 1-minute load average before and after the run is written with the figures.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from .machine import describe, load_average
from .scim_filter_scale import TOKEN, seed, start_up

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def user_id(number: int) -> str:
    """The id ``bench.scim_filter_scale`` gives the seeded user ``number``."""
    return f"{number:08x}-0000-4000-8000-{number:012x}"


def figures(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "samples": len(ordered),
        "p50_ms": round(statistics.median(ordered), 3),
        "p90_ms": round(ordered[int(0.90 * (len(ordered) - 1))], 3),
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
        "max_ms": round(ordered[-1], 3),
    }


def timed(session: requests.Session, method: str, url: str,
          body: dict[str, Any]) -> tuple[float, requests.Response]:
    started = time.perf_counter()
    response = session.request(method, url, json=body, timeout=120)
    _ = response.content
    return (time.perf_counter() - started) * 1000, response


def quiet(session: requests.Session, root: str, timeout: float = 300.0) -> None:
    """Wait until every event is delivered and every outbox is empty (from ``/metrics``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = session.get(f"{root}/metrics", timeout=30).text
        pending = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                      if line.startswith(("scimsaga_bus_lag{", "scimsaga_service_outbox_pending{")))
        if pending == 0:
            return
        time.sleep(0.2)
    raise RuntimeError("the bus did not drain")


def single_attribute(session: requests.Session, url: str, samples: int) -> dict[str, Any]:
    target = f"{url}/Users/{user_id(0)}"
    for n in range(50):  # warm the connection, the actor and the caches
        timed(session, "PATCH", target, {"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": "title", "value": f"warm-{n}"}]})
    times = []
    for n in range(samples):
        elapsed, response = timed(session, "PATCH", target, {"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": "title", "value": f"title-{n}"}]})
        if response.status_code != 200 or response.json()["title"] != f"title-{n}":
            raise RuntimeError(f"unexpected answer: {response.status_code} {response.text[:300]}")
        times.append(elapsed)
    return figures(times)


def group_adds(session: requests.Session, url: str, root: str, groups: int, members: int) -> dict[str, Any]:
    times, sizes = [], []
    quiet(session, root)
    for number in range(groups):
        created = session.post(f"{url}/Groups", timeout=60,
                               json={"schemas": [CORE_GROUP], "displayName": f"bench-{number}"})
        group = created.json()["id"]
        first = 1 + number * members  # user 0 is the single-attribute one
        body = {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [
            {"value": user_id(first + n)} for n in range(members)]}]}
        sizes.append(len(json.dumps(body)))
        elapsed, response = timed(session, "PATCH", f"{url}/Groups/{group}", body)
        if response.status_code != 200 or len(response.json()["members"]) != members:
            raise RuntimeError(f"unexpected answer: {response.status_code} {response.text[:300]}")
        times.append(elapsed)
        quiet(session, root)
    return {**figures(times), "members": members, "request_bytes": max(sizes)}


def run(users: int, single: int, groups: int, members: int, keep: Path | None) -> dict[str, Any]:
    needed = 1 + groups * members
    if users < needed:
        raise SystemExit(f"--users must be at least {needed} for {groups} groups of {members}")
    root_dir = Path(tempfile.mkdtemp(prefix="scim-patch-bench-", dir=keep))
    data_dir = root_dir / "data"
    seconds = seed(data_dir, users)
    print(f"seeded {users:,} users in {seconds:.1f} s", flush=True)
    load_before = load_average()
    process, url = start_up(data_dir)
    root = url.rsplit("/scim/v2", 1)[0]
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"})
    try:
        single_figures = single_attribute(session, url, single)
        print(f"PATCH one attribute:       p50 {single_figures['p50_ms']:.2f} ms  "
              f"p99 {single_figures['p99_ms']:.2f} ms  ({single} requests)", flush=True)
        group_figures = group_adds(session, url, root, groups, members)
        print(f"PATCH add {members:,} members:  p50 {group_figures['p50_ms']:.2f} ms  "
              f"p99 {group_figures['p99_ms']:.2f} ms  ({groups} requests of "
              f"{group_figures['request_bytes'] / 1024:.0f} KiB)", flush=True)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        for path in sorted(data_dir.glob("*")):
            path.unlink()
    return {"benchmark": "scim_patch", "machine": describe(), "users_in_store": users,
            "load_average_1min": {"before": load_before, "after": load_average()},
            "single_attribute": single_figures, "group_add": group_figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=60_000, help="users seeded in the store")
    parser.add_argument("--single", type=int, default=2000, help="single-attribute PATCH requests")
    parser.add_argument("--groups", type=int, default=50, help="group-add PATCH requests")
    parser.add_argument("--members", type=int, default=1000, help="members added by each group PATCH")
    parser.add_argument("--json", type=Path, help="write the result here as JSON")
    parser.add_argument("--work-dir", type=Path, help="where to put the seeded store (default: /tmp)")
    args = parser.parse_args()
    result = run(args.users, args.single, args.groups, args.members, args.work_dir)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
