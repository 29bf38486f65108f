"""How the demo speaks: for a projector. Colour, timings in a column, a progress bar on any wait
longer than a second, one verdict line per scenario. Plain text when the output is not a terminal.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.rule import Rule

T = TypeVar("T")

BAR_AFTER = 1.0
"""Seconds a wait may last before it gets a progress bar."""


@dataclass
class Verdict:
    """What a scenario concludes: whether what happened is what it teaches, in one line."""

    scenario: str
    held: bool
    line: str
    checks: list[tuple[str, bool]] = field(default_factory=list)


class Unavailable(Exception):
    """The scenario cannot run in this build; the message says why (exit status 3, nothing was run)."""


@dataclass
class Watched:
    """The outcome of :meth:`Narrator.watch`: the last value seen, whether the goal was met, and when."""

    value: Any
    met: bool
    seconds: float


class Narrator:
    """Everything the demo prints goes through here."""

    def __init__(self, console: Console | None = None, pause: bool = False, verbose: bool = False) -> None:
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.pause_between_steps = pause and sys.stdin.isatty()
        self.verbose = verbose

    # --- lines ----------------------------------------------------------------------------------

    def title(self, name: str, lesson: str) -> None:
        self.console.print()
        self.console.print(Rule(f"[bold]{escape(name)}[/]", style="cyan", align="left"))
        self.console.print(f"[italic]{escape(lesson)}[/]")

    def step(self, text: str) -> None:
        self.pause()
        self.console.print(f"[bold cyan]▸[/] {text}")

    def at(self, ms: float, text: str, style: str = "") -> None:
        """A line of the timeline: milliseconds since the scenario's origin, then what happened."""
        stamp = f"+{ms / 1000:7.2f} s" if ms >= 10_000 else f"+{ms:7.1f} ms"
        body = f"[{style}]{text}[/]" if style else text
        self.console.print(f"  [dim]{stamp}[/]  {body}")

    def info(self, text: str) -> None:
        self.console.print(f"  [dim]{text}[/]")

    def good(self, text: str) -> None:
        self.console.print(f"  [green]✔[/] {text}")

    def bad(self, text: str) -> None:
        self.console.print(f"  [red]✘[/] {text}")

    def note(self, text: str) -> None:
        self.console.print(f"  [yellow]![/] {text}")

    def verdict(self, verdict: Verdict) -> None:
        mark, style = ("✔", "bold green") if verdict.held else ("✘", "bold red")
        for claim, held in verdict.checks:
            if not held:
                self.bad(f"expected: {claim}")
        self.console.print(f"[{style}]{mark} {escape(verdict.scenario)}:[/] [{style}]{verdict.line}[/]")

    def pause(self) -> None:
        if self.pause_between_steps:
            self.console.input("[dim]  (Enter for the next step)[/]")

    # --- waiting --------------------------------------------------------------------------------

    def watch(self, description: Callable[[Any], str], poll: Callable[[], T], done: Callable[[T], bool],
              timeout: float, interval: float = 0.05,
              progress: Callable[[T], tuple[float, float]] | None = None) -> Watched:
        """Poll until ``done`` or ``timeout``; past a second, show a bar (``progress`` gives done/total)."""
        start = time.monotonic()
        value = poll()
        with self._lazy_bar(description(value)) as bar:
            while not done(value):
                elapsed = time.monotonic() - start
                if elapsed > timeout:
                    return Watched(value, False, elapsed)
                completed, total = progress(value) if progress else (elapsed, timeout)
                bar(description(value), completed, total)
                time.sleep(interval)
                value = poll()
        return Watched(value, True, time.monotonic() - start)

    @contextmanager
    def counted(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        """For a loop of ``total`` items: call the yielded function with how many are done."""
        with self._lazy_bar(description) as bar:
            yield lambda done: bar(description, done, total)

    @contextmanager
    def _lazy_bar(self, description: str) -> Iterator[Callable[[str, float, float], None]]:
        start = time.monotonic()
        holder: dict[str, Any] = {}

        def update(text: str, completed: float, total: float) -> None:
            if "progress" not in holder:
                if time.monotonic() - start < BAR_AFTER or not self.console.is_terminal:
                    return
                progress = Progress(TextColumn("  {task.description}"), BarColumn(bar_width=36),
                                    TaskProgressColumn(), TimeElapsedColumn(),
                                    console=self.console, transient=True)
                progress.start()
                holder["progress"] = progress
                holder["task"] = progress.add_task(escape(text), total=total)
            holder["progress"].update(holder["task"], description=escape(text), completed=completed,
                                      total=max(total, 1e-9))

        try:
            yield update
        finally:
            if "progress" in holder:
                holder["progress"].stop()


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.5 is the median); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1))
    return ordered[rank]


def fmt_ms(ms: float) -> str:
    return f"{ms / 1000:.1f} s" if ms >= 10_000 else f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms"
