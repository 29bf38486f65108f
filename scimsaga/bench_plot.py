"""PNGs of a ``scimsaga bench`` report (matplotlib, from the ``bench`` extra).

- ``bench-cdf.png``: the latency CDF of each stage, for every run;
- ``bench-fanout-width.png``: p50 and p99 of each stage against the fan-out width, per mode (when the
  report has more than one width);
- ``bench-modes.png``: orchestration against choreography at each width both ran (when it has both).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, NullFormatter

from .bench_report import STAGE_TITLES, STAGES

STAGE_COLORS = {"ack": "tab:blue", "fanout": "tab:orange", "saga": "tab:green"}
MODE_STYLES = {"orchestration": "-", "choreography": "--"}
MODE_COLORS = {"orchestration": "tab:blue", "choreography": "tab:orange"}


def plot_all(report: dict[str, Any], directory: Path) -> list[Path]:
    """Every plot the report has the runs for; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    runs = report["runs"]
    written = [cdf(runs, report["machine"], directory / "bench-cdf.png")]
    if len({r["fanout_width"] for r in runs}) > 1:
        written.append(against_width(runs, report["machine"], directory / "bench-fanout-width.png"))
    if {"orchestration", "choreography"} <= {r["mode"] for r in runs}:
        written.append(modes(runs, report["machine"], directory / "bench-modes.png"))
    return written


def machine_line(machine: dict[str, Any]) -> str:
    packages = machine.get("packages") or {}
    return (f"{machine.get('cores')} cores ({machine.get('cpu')}), Python {machine.get('python')}, "
            f"Ray {packages.get('ray')}, {str(machine.get('when', ''))[:10]}")


def plain_log_axis(axis: Any) -> None:
    """Label a logarithmic x axis with plain numbers at its decades only (2, 3 ... would crowd it)."""
    axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.xaxis.set_minor_formatter(NullFormatter())


def _label(run: dict[str, Any]) -> str:
    return f"{run['mode']}, width {run['fanout_width']}"


def cdf(runs: Sequence[dict[str, Any]], machine: dict[str, Any], path: Path, load: str = "") -> Path:
    """One panel per stage; one line per run: share of requests at or below a latency."""
    fig, axes = plt.subplots(1, len(STAGES), figsize=(13, 4.2), sharey=True)
    for axis, stage in zip(axes, STAGES, strict=True):
        for run in runs:
            points = run["stages"][stage].get("cdf_ms") or []
            if not points:
                continue
            shares = [i / (len(points) - 1) for i in range(len(points))]
            axis.plot([max(p, 1e-3) for p in points], shares, MODE_STYLES.get(run["mode"], "-"),
                      label=_label(run), drawstyle="steps-post")
        axis.set(xscale="log", xlabel="ms", title=STAGE_TITLES[stage])
        plain_log_axis(axis)
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("share of users at or below")
    axes[-1].legend(fontsize=7, loc="lower right")
    under = f", {load}" if load else ""
    fig.suptitle(f"scimsaga bench: latency CDF per stage{under} — {machine_line(machine)}", fontsize=9)
    return _save(fig, path)


def against_width(runs: Sequence[dict[str, Any]], machine: dict[str, Any], path: Path) -> Path:
    """p50 (solid marker) and p99 (hollow) of each stage against the number of extra subscribers."""
    fig, axis = plt.subplots(figsize=(8, 4.6))
    for mode in sorted({r["mode"] for r in runs}):
        rows = sorted((r for r in runs if r["mode"] == mode), key=lambda r: r["fanout_width"])
        widths = [r["fanout_width"] for r in rows]
        for stage in STAGES:
            for figure, marker in (("p50_ms", "o"), ("p99_ms", "^")):
                axis.plot(widths, [r["stages"][stage].get(figure) or float("nan") for r in rows],
                          MODE_STYLES.get(mode, "-"), marker=marker, color=STAGE_COLORS[stage],
                          fillstyle="full" if figure == "p50_ms" else "none",
                          label=f"{stage} {figure[:3]} ({mode})")
    axis.set(yscale="log", xlabel="extra sink subscribers of identity's events (fan-out width)", ylabel="ms",
             title="Latency against fan-out width")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=6, ncol=2)
    fig.suptitle(machine_line(machine), fontsize=8)
    return _save(fig, path)


def modes(runs: Sequence[dict[str, Any]], machine: dict[str, Any], path: Path) -> Path:
    """Orchestration and choreography side by side: each stage's p50 (bar) and p99 (dash) at the
    narrowest width both ran, and the sustained provisioning throughput at every width both ran."""
    both = sorted({r["fanout_width"] for r in runs if r["mode"] == "orchestration"}
                  & {r["fanout_width"] for r in runs if r["mode"] == "choreography"})
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4))
    bar = 0.38
    for i, mode in enumerate(("orchestration", "choreography")):
        by_width = {r["fanout_width"]: r for r in runs if r["mode"] == mode}
        run = by_width[both[0]]
        xs = [s + (i - 0.5) * bar for s in range(len(STAGES))]
        left.bar(xs, [run["stages"][s].get("p50_ms") or 0 for s in STAGES], bar, color=MODE_COLORS[mode],
                 label=f"{mode} p50")
        left.scatter(xs, [run["stages"][s].get("p99_ms") or 0 for s in STAGES], marker="_", s=300,
                     color="black", label="p99" if i else None)
        rates = [by_width[w]["throughput"]["provisioning_per_s"] for w in both]
        right.bar([w + (i - 0.5) * bar for w in range(len(both))], rates, bar, color=MODE_COLORS[mode],
                  label=mode)
    left.set_xticks(range(len(STAGES)), [STAGE_TITLES[s] for s in STAGES], fontsize=7)
    left.set(yscale="log", ylabel="ms", title=f"Latency per stage, fan-out width {both[0]}")
    left.legend(fontsize=7)
    right.set_xticks(range(len(both)), [str(w) for w in both])
    right.set(xlabel="fan-out width (extra sink subscribers)", ylabel="users provisioned / s",
              title="Sustained provisioning throughput")
    right.legend(fontsize=7)
    fig.suptitle(f"Orchestration against choreography — {machine_line(machine)}", fontsize=8)
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
