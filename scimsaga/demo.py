"""``scimsaga demo [SCENARIO]``: the lessons of the pattern, narrated step by step with timings.

The demo is a client, like an IdP plus an operator: it talks SCIM to the front door and uses the
OperationsPort through the dashboard's API, over HTTP, to a deployment already running in
``--data-dir`` or to one it starts for itself in a temporary directory (and stops at the end).

Exit status: 0 when every scenario showed what it teaches, 1 when one did not, 2 for a usage error or
a deployment that cannot be reached or started, 3 when the scenario asked for is not available in
this build (``modes`` without choreography); nothing is run then.
"""

from __future__ import annotations

import argparse
import logging
import secrets
from pathlib import Path
from typing import Any

SCENARIOS = ("fanout", "billing-down", "compensation", "consistency", "modes")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3
MAX_USERS = 1000


def run(args: argparse.Namespace) -> int:
    from .demo_client import DeploymentError
    from .demo_deployment import Deployment, find_running, start_own
    from .demo_narration import Narrator, Unavailable, Verdict
    from .demo_stage import Stage

    logging.getLogger().setLevel(logging.INFO if args.verbose else logging.ERROR)
    narrator = Narrator(pause=args.pause, verbose=args.verbose)
    if args.users is not None and not 1 <= args.users <= MAX_USERS:
        narrator.console.print(f"scimsaga: error: --users must be between 1 and {MAX_USERS}")
        return EXIT_USAGE
    names = [args.scenario] if args.scenario else list(SCENARIOS)
    tag = secrets.token_hex(3)
    from . import demo_modes

    if "modes" in names and not demo_modes.available():
        if args.scenario == "modes":
            narrator.title("modes", demo_modes.LESSON)
            reason = demo_modes.unavailable_reason()
            narrator.console.print(f"[bold red]✘ modes: not available[/] — {reason}. Nothing was run.")
            return EXIT_UNAVAILABLE
        names.remove("modes")
        narrator.note(f"the tour leaves out modes: {demo_modes.unavailable_reason()}")

    started: list[Deployment] = []

    def start(mode: str | None = None, address: str | None = None) -> Deployment:
        extra = ["--mode", mode] if mode else []
        deployment = start_own(narrator, address or args.address, None if mode else args.namespace, extra,
                               label=f"a deployment in {mode} mode" if mode else "a deployment of its own")
        started.append(deployment)
        return deployment

    verdicts: list[Verdict] = []
    try:
        deployment = None
        if any(name != "modes" for name in names):
            deployment = None if args.fresh else find_running(Path(args.data_dir).expanduser(), args.token)
            if deployment is not None:
                narrator.step(f"Using {deployment.label}")
            else:
                deployment = start()
            narrator.info(f"watch it live: {deployment.root}/dashboard"
                          + (f"  (token {deployment.token})" if deployment.owned else ""))
        for name in names:
            if name == "modes":
                address = deployment.ray_address if deployment is not None else None
                verdict = demo_modes.run(narrator, tag, args.users,
                                         lambda mode, ray: start(mode, ray), address)
            else:
                assert deployment is not None
                verdict = _scenario(name)(Stage(narrator, deployment, tag, args.users))
            narrator.verdict(verdict)
            verdicts.append(verdict)
    except Unavailable as exc:
        narrator.console.print(f"[bold red]✘ not available[/] — {exc}. Nothing was run.")
        return EXIT_UNAVAILABLE
    except DeploymentError as exc:
        narrator.console.print(f"[bold red]scimsaga demo: {exc}[/]")
        return EXIT_USAGE
    except KeyboardInterrupt:
        narrator.console.print("[yellow]interrupted[/]")
        return EXIT_FAILED
    finally:
        for own in reversed(started):  # the first started owns the Ray cluster the others joined
            narrator.info(f"stopping {own.label}")
            own.stop()
    if len(verdicts) > 1:
        held = sum(v.held for v in verdicts)
        style = "bold green" if held == len(verdicts) else "bold red"
        narrator.console.print()
        narrator.console.print(f"[{style}]{held} of {len(verdicts)} scenarios showed what they teach.[/]")
    return EXIT_OK if verdicts and all(v.held for v in verdicts) else EXIT_FAILED


def _scenario(name: str) -> Any:
    from . import demo_billing_down, demo_compensation, demo_consistency, demo_fanout

    modules = {"fanout": demo_fanout, "billing-down": demo_billing_down, "compensation": demo_compensation,
               "consistency": demo_consistency}
    return modules[name].run
