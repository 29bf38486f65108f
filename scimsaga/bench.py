"""``scimsaga bench``: real HTTP load on a deployment, every stage of a provisioning timed.

It drives ``POST /Users`` over loopback, as an IdP would, against the deployment running in
``--data-dir`` (or at ``--url``), or against deployments it starts itself (``scimsaga up`` as a
subprocess, one per mode and fan-out width asked for, each with ``--sinks K`` extra subscribers of
identity's events). For each run it reports the HTTP acknowledgement, the fan-out and the saga
completion at p50/p95/p99/max, the throughput, and whether every user became active within the run
(``bench_report`` describes the figures, ``bench_collect`` where they come from).

Exit status: 0 when every run's checks held, 1 when one did not, 2 for a usage error or a deployment
that cannot be reached or started.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .bench_report import RunSettings
    from .demo_deployment import Deployment

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MODES = ("orchestration", "choreography")
MAX_WIDTH = 32
MAX_USERS = 100_000
MAX_CONCURRENCY = 256
MAX_PAYLOAD = 256 * 1024
OPEN_LOOP_IN_FLIGHT = 64


class BenchUsageError(Exception):
    """Something the user can fix; the message says how."""


def add_bench_parser(commands: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    bench = commands.add_parser(
        "bench", help="real HTTP load on a deployment: acknowledgement, fan-out and saga completion timed")
    target = bench.add_argument_group("which deployment")
    target.add_argument("--url", default=None,
                        help="the SCIM base URL of a running deployment (e.g. http://127.0.0.1:8080/scim/v2)")
    target.add_argument("--token", default=None,
                        help="its bearer token (default: $SCIMSAGA_TOKEN, else the data dir's)")
    target.add_argument("--fresh", action="store_true",
                        help="start a deployment of its own even when one runs in --data-dir")
    load = bench.add_argument_group("the load")
    load.add_argument("--mode", default=None, metavar="MODE[,MODE]",
                      help="orchestration, choreography, or both (each a fresh deployment; default: the "
                           "running deployment's, else orchestration)")
    load.add_argument("--fanout-width", default=None, metavar="K[,K...]",
                      help=f"extra sink services subscribed to identity's events, 0-{MAX_WIDTH}; several "
                           "widths run one fresh deployment each (default: 0)")
    load.add_argument("--users", type=int, default=500, metavar="N", help="users to create (default: 500)")
    load.add_argument("--concurrency", type=int, default=None, metavar="C",
                      help="requests in flight: closed-loop workers (default 8), or the cap of an open loop "
                           f"(default {OPEN_LOOP_IN_FLIGHT})")
    load.add_argument("--rate", type=float, default=None, metavar="R",
                      help="open loop: send R users a second whatever the answers (default: closed loop)")
    load.add_argument("--duration", type=float, default=120.0, metavar="S",
                      help="stop sending after S seconds even with users left (default: 120)")
    load.add_argument("--payload-bytes", type=int, default=0, metavar="B",
                      help="pad each user's JSON to about B bytes with work addresses (default: plain user)")
    load.add_argument("--drain-timeout", type=float, default=120.0, metavar="S",
                      help="after the load, wait up to S seconds for every user to become active")
    out = bench.add_argument_group("output")
    out.add_argument("--json", type=Path, default=None, metavar="PATH",
                     help="write the figures and the machine they ran on as JSON")
    out.add_argument("--plot", type=Path, default=None, metavar="DIR",
                     help="draw PNGs into DIR (needs matplotlib: pip install -e '.[bench]')")
    out.add_argument("--verbose", action="store_true", help="show the deployment's own output and logs")
    common(bench)


def _csv(text: str | None, convert: Callable[[str], Any], what: str) -> list[Any]:
    if text is None:
        return []
    try:
        values = [convert(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError:
        raise BenchUsageError(f"{what} takes a comma-separated list, not '{text}'") from None
    if not values:
        raise BenchUsageError(f"{what} needs at least one value")
    return values


def _mode(text: str) -> str:
    if text not in MODES:
        raise BenchUsageError(f"--mode takes {' or '.join(MODES)}, not '{text}'")
    return text


def check(args: argparse.Namespace) -> tuple[list[str], list[int]]:
    """The modes and widths asked for; raises BenchUsageError on anything out of range."""
    modes = _csv(args.mode, _mode, "--mode")
    widths = _csv(args.fanout_width, int, "--fanout-width")
    if any(not 0 <= w <= MAX_WIDTH for w in widths):
        raise BenchUsageError(f"--fanout-width takes 0 to {MAX_WIDTH} sinks, not {args.fanout_width}")
    if not 1 <= args.users <= MAX_USERS:
        raise BenchUsageError(f"--users takes 1 to {MAX_USERS}, not {args.users}")
    if args.concurrency is not None and not 1 <= args.concurrency <= MAX_CONCURRENCY:
        raise BenchUsageError(f"--concurrency takes 1 to {MAX_CONCURRENCY}, not {args.concurrency}")
    if args.rate is not None and args.rate <= 0:
        raise BenchUsageError("--rate takes a number of users a second above 0")
    if args.duration <= 0 or args.drain_timeout < 0:
        raise BenchUsageError("--duration must be above 0 and --drain-timeout at least 0")
    if not 0 <= args.payload_bytes <= MAX_PAYLOAD:
        raise BenchUsageError(f"--payload-bytes takes 0 to {MAX_PAYLOAD}")
    if args.url and (len(modes) > 1 or len(widths) > 1 or args.fresh):
        raise BenchUsageError("--url measures the deployment that runs there: one mode, one width, "
                              "no --fresh")
    return modes, widths


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .demo_client import DeploymentError

    console = Console(highlight=False)
    logging.getLogger().setLevel(logging.INFO if args.verbose else logging.ERROR)
    try:
        modes, widths = check(args)
        runs = measure_all(args, modes, widths, console)
    except BenchUsageError as exc:
        console.print(f"scimsaga: error: {exc}", markup=False)
        return EXIT_USAGE
    except DeploymentError as exc:
        console.print(f"scimsaga: error: {exc}", markup=False)
        return EXIT_USAGE
    from .bench_machine import describe
    from .bench_report import report

    result = report(describe(), runs, command_line(sys.argv))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        console.print(f"figures written to {args.json}", markup=False)
    if args.plot:
        try:
            from .bench_plot import plot_all
        except ImportError:
            console.print("no plots: matplotlib is not installed (pip install -e '.[bench]')", markup=False)
        else:
            for path in plot_all(result, args.plot):
                console.print(f"plot written to {path}", markup=False)
    return EXIT_OK if result["ok"] else EXIT_FAILED


def command_line(argv: Sequence[str]) -> list[str]:
    """How the bench was run, for the report: from ``bench`` on, with the token left out."""
    words = list(argv[argv.index("bench"):]) if "bench" in argv else ["bench"]
    shown = []
    for i, word in enumerate(words):
        secret = i > 0 and words[i - 1] == "--token"
        shown.append("(token)" if secret else "--token=(token)" if word.startswith("--token=") else word)
    return ["scimsaga", *shown]


def measure_all(args: argparse.Namespace, modes: list[str], widths: list[int],
                console: Any) -> list[dict[str, Any]]:
    """Measure the running deployment, or one fresh deployment per (mode, width)."""
    from .demo_deployment import Deployment, find_running, start_own
    from .demo_narration import Narrator

    narrator = Narrator(console, verbose=args.verbose)
    data_dir = args.data_dir.expanduser().resolve()
    running: Deployment | None = None
    if args.url:
        token = args.token or os.environ.get("SCIMSAGA_TOKEN")
        if not token:
            raise BenchUsageError("--url needs --token (or $SCIMSAGA_TOKEN)")
        running = Deployment(args.url, token, f"the deployment at {args.url}")
        if not running.scim.healthy():
            raise BenchUsageError(f"{args.url} does not answer GET /healthz with 200")
    elif not args.fresh and len(modes) <= 1 and len(widths) <= 1:
        running = find_running(data_dir, args.token)
    runs = []
    if running is not None:
        mode, width = _observed(running)
        if modes and modes[0] != mode:
            raise BenchUsageError(f"the running deployment is in {mode} mode; pass --fresh to measure "
                                  f"{modes[0]}")
        if widths and widths[0] != width:
            raise BenchUsageError(f"the running deployment has {width} sinks; pass --fresh to measure "
                                  f"{widths[0]}")
        console.print(f"Measuring {running.label} ({mode}, fan-out width {width})", markup=False)
        try:
            runs.append(measure(running, settings_for(args, mode, width), console))
        finally:
            running.stop()
        return runs
    for mode in modes or ["orchestration"]:
        for width in widths or [0]:
            extra = ["--mode", mode, "--sinks", str(width)]
            deployment = start_own(narrator, args.address, None, extra,
                                   label=f"a deployment in {mode} mode with {width} sinks")
            try:
                runs.append(measure(deployment, settings_for(args, mode, width), console))
            finally:
                deployment.stop()
    return runs


def settings_for(args: argparse.Namespace, mode: str, width: int) -> RunSettings:
    from .bench_report import RunSettings

    concurrency = args.concurrency or (OPEN_LOOP_IN_FLIGHT if args.rate else 8)
    return RunSettings(mode, width, args.users, concurrency, args.rate, args.duration, args.payload_bytes,
                       args.drain_timeout)


def _observed(deployment: Deployment) -> tuple[str, int]:
    """The running deployment's mode and fan-out width, from what its operator API shows."""
    status = deployment.operations.status()
    names = {s.get("subscriber") for s in status.get("subscriptions") or [] if s.get("topic") == "identity"}
    width = sum(1 for name in names if str(name).startswith("sink-"))
    mode = deployment.mode or ("orchestration" if "saga" in names else "choreography")
    return mode, width


def measure(deployment: Deployment, settings: RunSettings, console: Any,
            tag: str | None = None) -> dict[str, Any]:
    """One run against ``deployment``: load (closed or open loop), wait for every user to become active
    (up to ``drain_timeout``), read the users' timestamps and the broker's fan-out figures back."""
    from .bench_collect import fanout_of, users_of_run, wait_active
    from .bench_load import Progress, closed_loop, open_loop, post_user, user_body
    from .bench_machine import load_average
    from .bench_report import build_run
    from .demo_client import ScimClient

    tag = tag or secrets.token_hex(4)
    bodies = [user_body(tag, i, settings.payload_bytes) for i in range(settings.users)]
    clients = [ScimClient(deployment.url, deployment.token) for _ in range(settings.concurrency)]
    for client in clients:  # open each kept-alive connection before the clock starts
        client.healthy()
    before = fanout_of(deployment.operations.status())
    load_before = load_average()
    progress = Progress()
    result: dict[str, Any] = {}
    deadline = time.time() + settings.duration

    def drive() -> None:
        try:
            send = post_user(bodies, tag)
            if settings.rate:
                result["load"] = open_loop(clients, len(bodies), send, settings.rate, deadline, progress)
            else:
                result["load"] = closed_loop(clients, len(bodies), send, deadline, progress)
        except BaseException as exc:  # shown by the main thread
            result["error"] = exc

    worker = threading.Thread(target=drive, name="bench load", daemon=True)
    title = f"POST /Users ({settings.mode}, width {settings.fanout_width})"
    with _bar(console, title, settings.users) as bar:
        worker.start()
        while worker.is_alive():
            bar(progress.done, f"{progress.failed} failed" if progress.failed else "")
            worker.join(0.1)
        bar(progress.done, "")
    if "error" in result:
        raise result["error"]
    load = result["load"]
    for client in clients:
        client.http.close()
    created = sum(1 for o in load.outcomes if o.ok)
    watcher = clients[0]
    drained_at = None
    with _bar(console, "waiting for every user to become active", created) as bar:
        active = wait_active(watcher, tag, created, time.time() + settings.drain_timeout,
                             lambda n: bar(n, ""))
    if active >= created:
        drained_at = time.time()
    users = users_of_run(watcher, tag)
    after = fanout_of(deployment.operations.status())
    watcher.http.close()
    run = build_run(settings, load, users, before, after, drained_at, [load_before, load_average()],
                    deployment.label)
    render(console, run)
    return run


def render(console: Any, run: dict[str, Any]) -> None:
    from rich.table import Table

    from .bench_report import headline, table_rows

    table = Table(title=headline(run), title_justify="left", show_edge=False)
    for name in ("stage", "count", "p50 ms", "p95 ms", "p99 ms", "max ms"):
        table.add_column(name, justify="left" if name == "stage" else "right")
    for row in table_rows(run):
        table.add_row(*row)
    console.print(table)
    if not run["ok"]:
        failed = ", ".join(name for name, held in run["checks"].items() if not held)
        console.print(f"[bold red]✘ not every check held:[/] {failed}"
                      + (f"; first errors: {run['first_errors']}" if run["first_errors"] else ""))


class _bar:
    """A progress bar on a terminal; nothing elsewhere (a log, a test's captured output)."""

    def __init__(self, console: Any, description: str, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(bar_width=30),
                                  MofNCompleteColumn(), TimeElapsedColumn(),
                                  TextColumn("{task.fields[note]}"),
                                  console=console, transient=True, disable=not console.is_terminal)
        self._task = self._progress.add_task(description, total=max(total, 1), note="")

    def __enter__(self) -> Callable[[int, str], None]:
        self._progress.start()
        return lambda done, note: self._progress.update(self._task, completed=done, note=note)

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

