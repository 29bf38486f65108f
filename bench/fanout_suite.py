"""The fan-out benchmark suite behind the README's numbers: scimsaga and what a user would otherwise
pick, side by side, in one run on one machine.

    flock /tmp/scimsaga-ray.lock .venv/bin/python -m bench.fanout_suite \\
        [--json bench/results/fanout.json] [--plots bench/results] [--users 2000] [--widths 0,1,4,16,32]

Each part gets the same HTTP load from the same client (``scimsaga.bench_load``: stdlib ``http.client``,
one kept-alive connection per worker) over loopback, every server in a process of its own on waitress
with 8 threads:

- ``http_ceiling``: a bare Falcon app answering the same ``POST /Users`` (parse, validate, render; no
  store), ``bench/http_ceiling.py``;
- ``peer``: the ``scim2-server`` package (in-memory storage, its WSGI app) for ``POST /Users`` and a
  filtered ``GET /Users?filter=userName eq "..."``, ``bench/peer_scim2_server.py``;
- ``actor_ceiling``: a bare Ray call-and-gather to N actors, and one event through the bus to N
  subscribers, at light load (``bench/bus.py``'s own measurement, reused);
- ``antipattern``: a front door that calls identity and every service synchronously over Ray before
  it answers, ``bench/antipattern.py``;
- ``scimsaga``: ``scimsaga up`` (a subprocess, its own local Ray) in each mode at each fan-out width,
  measured by ``scimsaga bench``'s own code (acknowledgement, fan-out, saga completion), plus the
  acknowledgement at one request at a time and the filtered GET.

Latency at one request at a time (``--latency-users`` requests, concurrency 1); throughput with 8
requests in flight (``--users`` requests). The goals are ratios of figures of this one run:

- sustained provisioning throughput (every user ``active: true`` within the run) at least
  scim2-server's plain ``POST /Users`` throughput;
- HTTP acknowledgement p50 at most 1.5 x (HTTP ceiling p50 + one Ray round trip), both at
  concurrency 1, the round trip being the bare call-and-gather to one actor.
"""

from __future__ import annotations

from scimsaga.settings import keep_ray_on_loopback, new_token

keep_ray_on_loopback()  # before Ray is imported: every cluster of the suite listens on 127.0.0.1 only

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import queue  # noqa: E402
import secrets  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator, Sequence  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from rich.console import Console  # noqa: E402

from scimsaga.bench import measure  # noqa: E402
from scimsaga.bench_load import (  # noqa: E402
    Load,
    Progress,
    Send,
    closed_loop,
    find_user,
    open_loop,
    post_user,
    user_body,
    user_name,
)
from scimsaga.bench_machine import PACKAGES, describe, load_average  # noqa: E402
from scimsaga.bench_report import RunSettings  # noqa: E402
from scimsaga.bench_stats import per_second, ratio, summarize  # noqa: E402
from scimsaga.demo_client import ScimClient  # noqa: E402
from scimsaga.demo_deployment import start_own  # noqa: E402
from scimsaga.demo_narration import Narrator  # noqa: E402

CONCURRENCY = 8
GOALS = {
    "provisioning_over_peer_post": "scimsaga's sustained provisioning throughput / scim2-server's POST "
    "throughput, both at concurrency 8: at least 1.0",
    "ack_p50_over_ceiling_plus_ray": "scimsaga's HTTP acknowledgement p50 / (HTTP ceiling p50 at "
    "concurrency 1 + one Ray round trip p50 at light load): at most 1.5; our p50 taken at concurrency 1 "
    "and in the paced run (an open loop the deployment keeps up with). Also given like for like: each "
    "baseline taken the way the acknowledgement was (one after another, or paced at the same rate)",
}
SUITE_PACKAGES = (*PACKAGES, "scim2-server", "scim2-models", "matplotlib")
START_TIMEOUT = 240.0


# --- driving load ------------------------------------------------------------------------------------


@contextmanager
def connected(url: str, token: str, count: int) -> Iterator[list[ScimClient]]:
    """``count`` clients, each kept-alive connection opened before the clock starts."""
    clients = [ScimClient(url, token) for _ in range(count)]
    try:
        for client in clients:
            client.healthy()
        yield clients
    finally:
        for client in clients:
            client.http.close()


def drive(url: str, token: str, count: int, send: Send, concurrency: int, timeout: float = 600.0) -> Load:
    with connected(url, token, concurrency) as clients:
        return closed_loop(clients, count, send, time.time() + timeout, Progress())


def drive_paced(url: str, token: str, count: int, send: Send, rate: float, clients: int = 8) -> Load:
    """``count`` requests due at ``rate`` per second (an open loop), over kept-alive connections."""
    with connected(url, token, clients) as ready:
        return open_loop(ready, count, send, rate, time.time() + count / rate + 60, Progress())


def figures(load: Load) -> dict[str, Any]:
    """Latency summary (with its CDF), throughput and failures of one load."""
    ok = [o for o in load.outcomes if o.ok]
    first = min((o.sent for o in load.outcomes), default=load.started)
    last = max((o.received for o in ok), default=first)
    return {
        **summarize([o.ack_ms for o in ok]),
        "requests": len(load.outcomes),
        "failed": len(load.outcomes) - len(ok),
        "per_s": per_second(len(ok), last - first),
        "first_errors": [o.error for o in load.outcomes if o.error][:3],
    }


@contextmanager
def baseline_server(kind: str, token: str) -> Iterator[str]:
    """``python -m bench.serve KIND`` in a process of its own; yields its SCIM base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.serve", kind, "--token", token],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.strip())
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        url = None
        deadline = time.monotonic() + START_TIMEOUT
        while url is None:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                raise RuntimeError(f"bench.serve {kind} exited with {process.wait()} before serving")
            if line.startswith("bench serving"):
                url = line.rsplit(" at ", 1)[1]
        yield url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


def posts(tag: str, count: int) -> Send:
    return post_user([user_body(tag, i) for i in range(count)], tag)


def lookups(tag: str, created: int, count: int) -> Send:
    """Filtered GETs of users the run created, spread over all of them."""
    return find_user([user_name(tag, (i * 7919) % created) for i in range(count)])


# --- the parts -----------------------------------------------------------------------------------------


def http_part(
    kind: str, latency_users: int, users: int, lookups_too: bool, say: Callable[[str], None],
    rate: float = 0.0,
) -> dict[str, Any]:
    """One baseline server: latency one request at a time, throughput at 8 in flight; with ``rate``,
    also the latency paced at that many requests per second (as the paced scimsaga run is)."""
    token = new_token()
    out: dict[str, Any] = {"load_average_before": load_average()}
    with baseline_server(kind, token) as url:
        out["latency"] = figures(drive(url, token, latency_users, posts(f"{kind}-lat", latency_users), 1))
        if rate:
            out["paced_latency"] = {**figures(drive_paced(
                url, token, latency_users, posts(f"{kind}-paced", latency_users), rate)), "rate": rate}
        out["post"] = figures(drive(url, token, users, posts(f"{kind}-thr", users), CONCURRENCY))
        if lookups_too:
            out["filtered_get"] = figures(
                drive(url, token, users, lookups(f"{kind}-thr", users, users), CONCURRENCY)
            )
    out["load_average_after"] = load_average()
    say(
        f"{kind}: p50 {out['latency']['p50_ms']} ms alone"
        + (f", {out['paced_latency']['p50_ms']} ms paced at {rate:g}/s" if rate else "")
        + f"; {out['post']['per_s']} POST/s at {CONCURRENCY}"
        + (f"; {out['filtered_get']['per_s']} filtered GET/s" if lookups_too else "")
    )
    return out


def round_trips(pings: int, gaps: dict[str, float]) -> dict[str, float]:
    """p50 of a bare call to one plain actor (ms), for each named pause before each call.

    An actor that has been idle for a while answers slower on this kind of machine (its threads and
    the CPU wake up first), so each acknowledgement figure is set against calls paced like it.
    """
    import ray

    @ray.remote(num_cpus=0)
    class Echo:
        def ping(self) -> int:
            return 1

    actor = Echo.remote()  # type: ignore[attr-defined]
    out = {}
    try:
        ray.get(actor.ping.remote(), timeout=60)
        for name, gap in gaps.items():
            samples = []
            for _ in range(pings):
                if gap:
                    time.sleep(gap)
                start = time.perf_counter()
                ray.get(actor.ping.remote(), timeout=60)
                samples.append((time.perf_counter() - start) * 1000)
            out[name] = summarize(samples[pings // 10:])["p50_ms"]
    finally:
        ray.kill(actor)
    return out


def actor_ceiling(counts: Sequence[int], pings: int, say: Callable[[str], None],
                  rate: float = 0.0) -> dict[str, Any]:
    """``bench/bus.py``'s light-load measurement: a bare call-and-gather to N actors, interleaved with
    one event through the bus to the same N subscribers; and a bare call to one actor back to back
    and, with ``rate``, one call every 1/rate seconds."""
    import ray

    from scimsaga.cluster import LOCAL_SYSTEM_CONFIG
    from scimsaga.settings import BusSettings

    from . import bus as bus_bench

    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        object_store_memory=256 * 1024 * 1024,
        _system_config=LOCAL_SYSTEM_CONFIG,  # as scimsaga up starts its cluster
    )
    rows = []
    try:
        gaps = {"back_to_back": 0.0, **({"paced": 1 / rate} if rate else {})}
        paced_trips = round_trips(pings, gaps)
        say("actor ceiling: one call to one actor p50 " + ", ".join(
            f"{value} ms {name.replace('_', ' ')}" for name, value in paced_trips.items()))
        for n in counts:
            run = bus_bench.Run(n, BusSettings(idle_poll=1.0))
            try:
                rows.append({"actors": n, **bus_bench.latency(run, pings, first_offset=1)})
            finally:
                run.stop()
            say(
                f"actor ceiling: {n} actors, bare call-and-gather p50 {rows[-1]['bare_p50_ms']} ms, "
                f"one event through the bus p50 {rows[-1]['bus_p50_ms']} ms"
            )
    finally:
        ray.shutdown()
    return {"rows": rows, "ray_round_trip_p50_ms": next(r["bare_p50_ms"] for r in rows if r["actors"] == 1),
            "round_trip_p50_ms": paced_trips}


def scimsaga_part(
    modes: Sequence[str],
    widths: Sequence[int],
    latency_users: int,
    users: int,
    rate: float,
    paced_seconds: float,
    console: Console,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """scimsaga at concurrency 1 (latency), paced at ``rate`` users/s in each mode (an open loop under
    its capacity: what each stage takes when the system keeps up), and at concurrency 8 in each mode at
    each fan-out width (capacity)."""
    narrator = Narrator(console)
    out: dict[str, Any] = {"runs": []}

    def settings(
        mode: str, width: int, count: int, concurrency: int, rate: float | None = None
    ) -> RunSettings:
        return RunSettings(mode, width, count, concurrency, rate, 900.0, 0, 600.0)

    deployment = start_own(
        narrator,
        extra=["--mode", "orchestration", "--sinks", "0"],
        label="scimsaga (orchestration, no sinks) for the latency at concurrency 1",
    )
    try:
        out["latency"] = measure(deployment, settings("orchestration", 0, latency_users, 1), console)
    finally:
        deployment.stop()
    out["paced"] = []
    for mode in modes if rate else ():
        deployment = start_own(
            narrator,
            extra=["--mode", mode, "--sinks", "0"],
            label=f"scimsaga ({mode}, no sinks) paced at {rate:g} users/s",
        )
        try:
            count = int(rate * paced_seconds)
            out["paced"].append(measure(deployment, settings(mode, 0, count, 64, rate), console))
        finally:
            deployment.stop()
    for mode in modes:
        for width in widths:
            deployment = start_own(
                narrator,
                extra=["--mode", mode, "--sinks", str(width)],
                label=f"scimsaga ({mode}, {width} sinks)",
            )
            try:
                tag = secrets.token_hex(4)
                run = measure(deployment, settings(mode, width, users, CONCURRENCY), console, tag)
                if mode == modes[0] and width == widths[0]:
                    load = drive(
                        deployment.url, deployment.token, users, lookups(tag, users, users), CONCURRENCY
                    )
                    out["filtered_get"] = {**figures(load), "mode": mode, "fanout_width": width}
                    say(f"scimsaga filtered GET: {out['filtered_get']['per_s']}/s")
            finally:
                deployment.stop()
            out["runs"].append(run)
    return out


# --- goals and report ----------------------------------------------------------------------------------


def headline_run(result: dict[str, Any], mode: str) -> dict[str, Any] | None:
    runs = [r for r in result["scimsaga"]["runs"] if r["mode"] == mode]
    return min(runs, key=lambda r: r["fanout_width"]) if runs else None


def goals(result: dict[str, Any]) -> dict[str, Any]:
    peer_post = result["peer"]["post"]["per_s"]
    ceiling = result["http_ceiling"]["latency"]["p50_ms"]
    round_trip = result["actor_ceiling"]["ray_round_trip_p50_ms"]
    ack = result["scimsaga"]["latency"]["stages"]["ack"]["p50_ms"]
    out: dict[str, Any] = {"stated": GOALS}
    for mode in ("orchestration", "choreography"):
        run = headline_run(result, mode)
        if run is None:
            continue
        provisioning = run["throughput"]["provisioning_per_s"] if run["throughput"]["sustained"] else 0.0
        value = ratio(provisioning, peer_post)
        out[f"provisioning_over_peer_post_{mode}"] = {
            "scimsaga_provisioning_per_s": provisioning,
            "fanout_width": run["fanout_width"],
            "peer_post_per_s": peer_post,
            "ratio": value,
            "met": value is not None and value >= 1.0,
        }
    paced = [r for r in result["scimsaga"].get("paced") or [] if r["mode"] == "orchestration"]
    acks = {"concurrency_1": ack}
    if paced:
        acks["paced"] = paced[0]["stages"]["ack"]["p50_ms"]
    for load, value in acks.items():
        out[f"ack_p50_over_ceiling_plus_ray_{load}"] = ack_goal(value, ceiling, round_trip)
    out.update(like_for_like(result, acks))
    return out


def ack_goal(ack: float, http: float, ray_trip: float) -> dict[str, Any]:
    """The acknowledgement p50 over (HTTP ceiling p50 + one Ray round trip), against at most 1.5."""
    measured = ratio(ack, http + ray_trip)
    return {
        "scimsaga_ack_p50_ms": ack,
        "http_ceiling_p50_ms": http,
        "ray_round_trip_p50_ms": ray_trip,
        "ratio": measured,
        "met": measured is not None and measured <= 1.5,
    }


def like_for_like(result: dict[str, Any], acks: dict[str, float]) -> dict[str, Any]:
    """The same ratio with both baselines taken the way the acknowledgement was: the ceiling and a
    bare Ray call one after another for the figure at concurrency 1, each paced at the paced run's
    rate for the paced figure (where this run measured them)."""
    ceiling = result["http_ceiling"]
    trips = result["actor_ceiling"].get("round_trip_p50_ms") or {}
    baselines = {
        "concurrency_1": (ceiling["latency"]["p50_ms"], trips.get("back_to_back")),
        "paced": ((ceiling.get("paced_latency") or {}).get("p50_ms"), trips.get("paced")),
    }
    out: dict[str, Any] = {}
    for load, value in acks.items():
        http, ray_trip = baselines[load]
        if http is not None and ray_trip is not None:
            out[f"ack_p50_like_for_like_{load}"] = ack_goal(value, http, ray_trip)
    return out


def summary_lines(result: dict[str, Any]) -> list[str]:
    lines = []
    g = result["goals"]
    for mode in ("orchestration", "choreography"):
        goal = g.get(f"provisioning_over_peer_post_{mode}")
        if goal:
            lines.append(
                f"goal, {mode}: provisioning {goal['scimsaga_provisioning_per_s']}/s over scim2-server "
                f"POST {goal['peer_post_per_s']}/s = {goal['ratio']} ({'met' if goal['met'] else 'missed'}, "
                "goal >= 1.0)"
            )
    for key, label in (("ack_p50_over_ceiling_plus_ray", "goal"), ("ack_p50_like_for_like", "like for like")):
        for load in ("concurrency_1", "paced"):
            a = g.get(f"{key}_{load}")
            if a:
                lines.append(
                    f"{label}, {load.replace('_', ' ')}: ack p50 {a['scimsaga_ack_p50_ms']} ms over ceiling "
                    f"{a['http_ceiling_p50_ms']} ms + Ray {a['ray_round_trip_p50_ms']} ms = {a['ratio']} "
                    f"({'met' if a['met'] else 'missed'}, goal <= 1.5)"
                )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", type=Path, default=Path("bench/results/fanout.json"))
    parser.add_argument("--plots", type=Path, default=Path("bench/results"), help="directory for the PNGs")
    parser.add_argument(
        "--users", type=int, default=2000, help=f"requests per throughput run (at {CONCURRENCY})"
    )
    parser.add_argument(
        "--latency-users", type=int, default=500, help="requests per latency run (one at a time)"
    )
    parser.add_argument("--widths", default="0,1,4,16,32", help="fan-out widths (extra sinks) to measure")
    parser.add_argument("--modes", default="orchestration,choreography")
    parser.add_argument("--actors", default="1,2,4,8,16,32", help="actor counts of the actor ceiling")
    parser.add_argument("--pings", type=int, default=200, help="samples per actor count of the actor ceiling")
    parser.add_argument("--rate", type=float, default=50.0, help="users/s of the paced runs (0: none)")
    parser.add_argument("--paced-seconds", type=float, default=20.0, help="how long each paced run sends")
    parser.add_argument("--replot", action="store_true",
                        help="measure nothing: recompute the goals and draw the plots from --json")
    args = parser.parse_args(argv)
    if args.replot:
        result = json.loads(args.json.read_text())
        result["goals"] = goals(result)
        return publish(result, args.json, args.plots, say_plainly)
    widths = [int(w) for w in args.widths.split(",")]
    modes = [m for m in args.modes.split(",") if m]
    console = Console(highlight=False)

    def say(text: str) -> None:
        console.print(f"[bold]·[/] {text}", highlight=False)

    started = time.time()
    result: dict[str, Any] = {
        "benchmark": "fanout_suite",
        "machine": describe(SUITE_PACKAGES),
        "settings": {
            "users": args.users,
            "latency_users": args.latency_users,
            "concurrency": CONCURRENCY,
            "widths": widths,
            "modes": modes,
            "server_threads": 8,
            "paced_rate": args.rate,
            "paced_seconds": args.paced_seconds,
        },
    }
    result["http_ceiling"] = http_part("ceiling", args.latency_users, args.users, False, say, args.rate)
    result["peer"] = http_part("peer", args.latency_users, args.users, True, say)
    result["actor_ceiling"] = actor_ceiling([int(n) for n in args.actors.split(",")], args.pings, say,
                                            args.rate)
    result["antipattern"] = http_part("antipattern", args.latency_users, args.users, False, say)
    result["scimsaga"] = scimsaga_part(
        modes, widths, args.latency_users, args.users, args.rate, args.paced_seconds, console, say
    )
    result["goals"] = goals(result)
    result["seconds"] = round(time.time() - started, 1)
    return publish(result, args.json, args.plots, say)


def say_plainly(text: str) -> None:
    print(f"· {text}", flush=True)


def publish(result: dict[str, Any], path: Path, plots: Path, say: Callable[[str], None]) -> int:
    """Print the goals, write the JSON, draw the plots."""
    for line in summary_lines(result):
        say(line)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    say(f"figures written to {path}")
    try:
        from .fanout_plots import plot_suite
    except ImportError:
        say("no plots: matplotlib is not installed (pip install -e '.[bench]')")
    else:
        for written in plot_suite(result, plots):
            say(f"plot written to {written}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
