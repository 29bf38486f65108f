"""The command line: ``scimsaga up``, ``status``, ``chaos`` and ``bus``, thin over ``cluster.py``.

Errors a user can fix (bad flags, a port in use, an unreachable Ray address, an unwritable data
directory) are one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .settings import (
    POLICIES,
    Settings,
    is_loopback,
    keep_ray_on_loopback,
    new_token,
    use_ray_token_if_present,
)

EXIT_USAGE = 2
TOKEN_ENV = "SCIMSAGA_TOKEN"
TOKEN_FILE = "token"


class UsageError(Exception):
    """Something the user can fix; the message says how."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="scimsaga", description="SCIM 2.0 in microservices, on Ray, with sagas.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--data-dir", default=".scimsaga", type=Path,
                         help="where every service keeps its SQLite file (default: .scimsaga)")
        sub.add_argument("--address", default=None,
                         help="join the Ray cluster at HOST:PORT instead of starting a local one")
        sub.add_argument("--namespace", default=None,
                         help="Ray namespace of the deployment (default: scimsaga)")

    up = commands.add_parser("up", help="start the cluster and serve the SCIM API")
    up.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    up.add_argument("--port", default=8080, type=int, help="port to listen on; 0 picks a free one")
    up.add_argument("--token", default=None,
                    help=f"bearer token (default: ${TOKEN_ENV}, else one generated and kept in the data dir)")
    up.add_argument("--mode", choices=("orchestration", "choreography"), default="orchestration",
                    help="who drives provisioning: a saga coordinator, or the services themselves")
    up.add_argument("--on-failure", choices=("delete", "deactivate"), default="delete",
                    help="what identity does with a user whose provisioning failed (default: delete)")
    up.add_argument("--cost-center-rule", default=r"CC-\d{4}",
                    help="regular expression a costCenter must match for billing (default: CC-\\d{4})")
    up.add_argument("--sinks", type=int, default=0, metavar="K",
                    help="also run K sink services (0-32) subscribed to identity's events: fan-out width")
    up.add_argument("--strict", action="store_true",
                    help="accept only what RFC 7643/7644 describe, none of the IdP habits in "
                         "docs/idp-compatibility.md")
    defaults = Settings(data_dir=Path("."))
    up.add_argument("--background-policy", choices=POLICIES, default=defaults.background_policy,
                    help="Linux scheduling policy of the broker and the services (default: "
                         f"{defaults.background_policy}; idle: they run only when nothing else wants a core)")
    up.add_argument("--coordinator-policy", choices=POLICIES, default=defaults.coordinator_policy,
                    help=f"scheduling policy of the coordinator (default: {defaults.coordinator_policy})")
    common(up)

    status = commands.add_parser("status", help="show services, bus lag and sagas of the running cluster")
    status.add_argument("--json", action="store_true", help="print JSON with services, subscriptions, sagas")
    common(status)

    chaos = commands.add_parser("chaos", help="make a service slow, failing, unavailable, or kill an actor")
    chaos.add_argument("service", help="billing, profile, access, identity, saga or broker")
    switch = chaos.add_mutually_exclusive_group()
    switch.add_argument("--down", action="store_true", help="stop taking deliveries (events pile up)")
    switch.add_argument("--up", action="store_true", help="take deliveries again, clear every fault")
    switch.add_argument("--kill", action="store_true", help="kill the actor; Ray restarts it")
    chaos.add_argument("--latency", type=int, metavar="MS", help="add this much latency to every delivery")
    chaos.add_argument("--fail-rate", type=float, metavar="R", help="fail this share of events (0..1)")
    common(chaos)
    add_bus_commands(commands, common)
    add_demo_parser(commands, common)
    from .bench import add_bench_parser

    add_bench_parser(commands, common)
    return parser


def add_demo_parser(commands: Any, common: Any) -> None:
    from .demo import SCENARIOS

    demo = commands.add_parser("demo", help="narrated scenarios for a workshop: the tour, or one of them")
    demo.add_argument("scenario", nargs="?", choices=SCENARIOS, metavar="SCENARIO",
                      help=f"one of {', '.join(SCENARIOS)}; without it, the tour of all of them")
    demo.add_argument("--token", default=None,
                      help=f"the running deployment's token (default: ${TOKEN_ENV}, else the data dir's)")
    demo.add_argument("--fresh", action="store_true",
                      help="start a deployment of its own even when one runs in --data-dir")
    demo.add_argument("--users", type=int, default=None, metavar="N",
                      help="how many users the scenarios that create several create")
    demo.add_argument("--pause", action="store_true", help="wait for Enter between steps (for a trainer)")
    demo.add_argument("--verbose", action="store_true", help="show the deployment's own output and logs")
    common(demo)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if is_loopback(args.address):
        keep_ray_on_loopback()
    if args.command not in ("demo", "bench") and (args.command != "up" or args.address):  # HTTP only
        use_ray_token_if_present()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "up":
            return cmd_up(args)
        if args.command == "status":
            return cmd_status(args)
        if args.command == "demo":
            from .demo import run as run_demo

            return run_demo(args)
        if args.command == "bus":
            return cmd_bus(args)
        if args.command == "bench":
            from .bench import run as run_bench

            return run_bench(args)
        return cmd_chaos(args)
    except UsageError as exc:
        print(f"scimsaga: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 0


def prepare_data_dir(path: Path) -> Path:
    """Create the data directory and prove it is writable."""
    path = path.expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"cannot write to the data directory {path} ({exc.strerror or exc}); "
            "pass --data-dir with a writable path"
        ) from None
    return path


def lock_data_dir(path: Path) -> Any:
    """Hold an exclusive lock on the data directory for as long as this process runs ``up``.

    Two deployments writing the same SQLite files would corrupt each other's state.
    """
    import fcntl

    handle = (path / ".lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise UsageError(
            f"another `scimsaga up` is using {path}; stop it or pass a different --data-dir"
        ) from None
    return handle


def resolve_token(flag: str | None, data_dir: Path) -> str:
    """--token, else $SCIMSAGA_TOKEN, else the token kept in the data dir, else a new one kept there."""
    token = flag or os.environ.get(TOKEN_ENV)
    if token:
        return token
    stored = data_dir / TOKEN_FILE
    if stored.exists():
        return stored.read_text().strip()
    token = new_token()
    stored.touch(mode=0o600)
    stored.write_text(token)
    return token


def cmd_up(args: argparse.Namespace) -> int:
    from .cluster import Cluster, ClusterError
    from .http.app import HttpSettings, create_app
    from .http.server import bind, bound_port

    data_dir = prepare_data_dir(args.data_dir)
    lock = lock_data_dir(data_dir)  # noqa: F841  (held until the process exits)
    token = resolve_token(args.token, data_dir)
    settings = Settings(data_dir=data_dir, namespace=args.namespace or "scimsaga", mode=args.mode,
                        cost_center_pattern=args.cost_center_rule, on_failure=args.on_failure,
                        background_policy=args.background_policy, coordinator_policy=args.coordinator_policy)
    from .actors.topology import MAX_SINKS, topology_for, with_sinks

    if not 0 <= args.sinks <= MAX_SINKS:
        raise UsageError(f"--sinks takes 0 to {MAX_SINKS}, not {args.sinks}")
    topology = with_sinks(topology_for(args.mode), args.sinks)
    cluster = Cluster(settings, address=args.address, topology=topology)
    http = HttpSettings(token=token, strict=args.strict)
    app = create_app(cluster.identity(), cluster, http, cluster.operations())
    try:
        server = bind(app, args.host, args.port, max_body_bytes=http.max_payload_bytes)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); "
            "stop whatever uses it or pass --port 0 for a free port"
        ) from None

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        try:
            cluster.start()
        except ClusterError as exc:
            raise UsageError(str(exc)) from None
        # Ray's native failure-signal handler replaced ours and would print a stack dump on SIGTERM.
        signal.signal(signal.SIGTERM, _interrupt)
        url = f"http://{_url_host(args.host)}:{bound_port(server)}/scim/v2"
        threading.Thread(target=_announce, args=(cluster, url, token), daemon=True).start()
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        cluster.stop()
    print("scimsaga stopped.", flush=True)
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _announce(cluster: Any, url: str, token: str) -> None:
    if not cluster.wait_ready(timeout=120):
        print("scimsaga: the actors did not become ready within 120s; see `scimsaga status`",
              file=sys.stderr, flush=True)
        return
    cluster.write_runfile(url)
    body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com"}'
    print(f"scimsaga ready: {url}  token: {token}  try: curl -s -X POST {url}/Users "
          f"-H 'Authorization: Bearer {token}' -H 'Content-Type: application/scim+json' -d '{body}'",
          flush=True)


def _attach(args: argparse.Namespace) -> Any:
    from .cluster import ClusterError, attach

    try:
        return attach(args.data_dir.expanduser().resolve(), args.address, args.namespace)
    except ClusterError as exc:
        raise UsageError(str(exc)) from None


def cmd_status(args: argparse.Namespace) -> int:
    from .cluster import ClusterError

    attached = _attach(args)
    try:
        status = attached.status()
    except (ClusterError, TimeoutError) as exc:
        raise UsageError(f"the cluster did not answer: {exc}") from None
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
    else:
        print(render_status(status))
    return 0


def render_status(status: dict[str, Any]) -> str:
    lines = ["services:"]
    for service in status["services"]:
        lines.append(f"  {service['name']:<10} {service['state']:<16} processed {service['processed']:>7}"
                     f"  outbox {service['outbox']}")
    lines.append("subscriptions:")
    for sub in status["subscriptions"]:
        lines.append(f"  {sub['name']:<26} lag {sub['lag']:>6}  in flight {sub['in_flight']:>4}  "
                     f"retrying {sub['retrying']:>4}  redelivered {sub['redelivered']:>4}  "
                     f"dead letters {sub['dead_letters']:>4}  "
                     f"oldest {sub['oldest_unacked_age_s']:.1f}s  {sub['state']}")
    sagas = status["sagas"] or {}
    summary = ", ".join(f"{state} {count}" for state, count in sorted(sagas.items())) or "none yet"
    lines.append(f"sagas: {summary}")
    return "\n".join(lines)


def cmd_chaos(args: argparse.Namespace) -> int:
    from .cluster import ClusterError

    attached = _attach(args)
    if args.service not in attached.names:
        raise UsageError(f"no service '{args.service}'; choose one of {', '.join(attached.names)}")
    if args.kill:
        try:
            attached.kill(args.service)
        except ClusterError as exc:
            raise UsageError(str(exc)) from None
        print(f"{args.service}: killed; Ray restarts it")
        return 0
    if args.service == "broker":
        raise UsageError("the broker takes only --kill")
    changes: dict[str, Any] = {}
    if args.down:
        changes["down"] = True
    if args.up:
        changes.update(down=False, latency_ms=0, fail_rate=0.0)
    if args.latency is not None:
        changes["latency_ms"] = args.latency
    if args.fail_rate is not None:
        if not 0.0 <= args.fail_rate <= 1.0:
            raise UsageError("--fail-rate must be between 0 and 1")
        changes["fail_rate"] = args.fail_rate
    if not changes:
        raise UsageError("say what to do: --down, --up, --latency MS, --fail-rate R or --kill")
    faults = attached.chaos(args.service, **changes)
    print(f"{args.service}: {faults}")
    return 0


# --- scimsaga bus: a subscription's dead letters, their replay, a rewind ----------------------------


def add_bus_commands(commands: Any, common: Any) -> None:
    bus = commands.add_parser("bus", help="look at and steer the bus: dead letters, replay, rewind")
    actions = bus.add_subparsers(dest="bus_command", required=True, parser_class=_Parser)
    letters = actions.add_parser("dead-letters", help="list a subscription's dead letters with their errors")
    letters.add_argument("subscription",
                         help="as `scimsaga status` names it, e.g. 'billing<-billing.commands'")
    letters.add_argument("--json", action="store_true", help="print them as JSON")
    common(letters)
    replay = actions.add_parser("replay", help="put a subscription's dead letters back in line for delivery")
    replay.add_argument("subscription")
    common(replay)
    rewind = actions.add_parser("rewind",
                                help="deliver a subscription's events again from an offset or a time")
    rewind.add_argument("subscription")
    target = rewind.add_mutually_exclusive_group(required=True)
    target.add_argument("--to-offset", type=_offset, metavar="N",
                        help="from offset N of the log (0: the start)")
    target.add_argument("--to-time", type=_timestamp, metavar="ISO",
                        help="from the first event published at or after this time, "
                             "e.g. 2026-01-31T09:30:00Z (UTC unless it names an offset)")
    common(rewind)


def _offset(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"an offset is a whole number of 0 or more, not '{text}'")
    return int(text)


def _timestamp(text: str) -> float:
    """An ISO 8601 time as epoch seconds; ``Z`` or an offset names the zone, none means UTC."""
    from datetime import datetime, timezone

    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a time looks like 2026-01-31T09:30:00Z, not '{text}'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def cmd_bus(args: argparse.Namespace) -> int:
    from .cluster import ClusterError

    attached = _attach(args)
    try:
        if args.bus_command == "dead-letters":
            letters = attached.dead_letters(args.subscription)
            if args.json:
                print(json.dumps(letters, indent=2))
            else:
                print(render_dead_letters(args.subscription, letters))
        elif args.bus_command == "replay":
            count = attached.replay(args.subscription)
            print(f"{args.subscription}: {count} dead letter{'s' * (count != 1)} back in line for delivery")
        else:
            outcome = attached.rewind(args.subscription, to_offset=args.to_offset, to_time=args.to_time)
            print(render_rewind(outcome))
    except (ClusterError, TimeoutError) as exc:
        raise UsageError(str(exc)) from None
    return 0


def render_dead_letters(subscription: str, letters: list[dict[str, Any]]) -> str:
    from datetime import datetime, timezone

    if not letters:
        return f"{subscription}: no dead letters"
    lines = [f"{subscription}: {len(letters)} dead letter{'s' * (len(letters) != 1)}"]
    for letter in letters:
        when = datetime.fromtimestamp(letter["dead_at"], timezone.utc).isoformat(timespec="seconds")
        lines.append(f"  offset {letter['offset']:>8}  {letter['type']:<28} key {letter['key']:<24} "
                     f"attempts {letter['attempts']:>2}  {when}  {letter['error']}")
    return "\n".join(lines)


def render_rewind(outcome: dict[str, Any]) -> str:
    again = outcome["redeliver"]
    start = f" from offset {outcome['from_offset']}" if outcome.get("from_offset") else ""
    return (f"{outcome['subscription']}: rewound from position {outcome['previous_position']} to "
            f"{outcome['position']}; {again} event{'s' * (again != 1)} will be delivered again{start}")
