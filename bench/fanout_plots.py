"""The suite's PNGs (``bench/fanout_suite.py``), into ``bench/results``:

- ``fanout-cdf.png``: latency CDF of each stage of scimsaga (both modes, no sinks), with the HTTP
  ceiling, scim2-server and the anti-pattern on the acknowledgement panel, and the anti-pattern's
  acknowledgement (its user is provisioned when it answers) on the saga panel;
- ``fanout-width.png``: p50 of each stage against the number of subscribers of identity's events,
  per mode, with the bare Ray call-and-gather to as many actors;
- ``fanout-modes.png``: orchestration against choreography (``scimsaga.bench_plot.modes``);
- ``fanout-paced-cdf.png``: each stage's CDF when scimsaga keeps up (the paced runs);
- ``fanout-throughput.png``: requests per second of everything measured, at concurrency 8.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from scimsaga.bench_plot import MODE_STYLES, STAGE_COLORS, machine_line, modes, plain_log_axis
from scimsaga.bench_plot import cdf as stage_cdf
from scimsaga.bench_report import STAGE_TITLES, STAGES

BASELINE_STYLES = {
    "HTTP ceiling": ("tab:gray", ":"),
    "scim2-server": ("tab:purple", "-."),
    "anti-pattern (sync)": ("tab:red", (0, (5, 1, 1, 1))),
}


def plot_suite(result: dict[str, Any], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    runs = result["scimsaga"]["runs"]
    written = [
        cdf(result, directory / "fanout-cdf.png"),
        width(result, directory / "fanout-width.png"),
        throughput(result, directory / "fanout-throughput.png"),
    ]
    if {"orchestration", "choreography"} <= {r["mode"] for r in runs}:
        written.append(modes(runs, result["machine"], directory / "fanout-modes.png"))
    if result["scimsaga"].get("paced"):
        written.append(
            stage_cdf(
                result["scimsaga"]["paced"],
                result["machine"],
                directory / "fanout-paced-cdf.png",
                f"paced at {result['settings']['paced_rate']:g} users/s",
            )
        )
    return written


def _steps(axis: Any, points: list[float], label: str, color: str, style: Any) -> None:
    if points:
        shares = [i / (len(points) - 1) for i in range(len(points))]
        axis.plot(
            [max(p, 1e-3) for p in points],
            shares,
            color=color,
            linestyle=style,
            label=label,
            drawstyle="steps-post",
        )


def cdf(result: dict[str, Any], path: Path) -> Path:
    fig, axes = plt.subplots(1, len(STAGES), figsize=(14, 4.6), sharey=True)
    runs = [
        r
        for r in result["scimsaga"]["runs"]
        if r["fanout_width"] == min(x["fanout_width"] for x in result["scimsaga"]["runs"])
    ]
    for axis, stage in zip(axes, STAGES, strict=True):
        for run in runs:
            _steps(
                axis,
                run["stages"][stage].get("cdf_ms") or [],
                f"scimsaga {run['mode']}",
                STAGE_COLORS[stage],
                MODE_STYLES[run["mode"]],
            )
        if stage == "ack":
            for name, part, key in (
                ("HTTP ceiling", "http_ceiling", "post"),
                ("scim2-server", "peer", "post"),
                ("anti-pattern (sync)", "antipattern", "post"),
            ):
                color, style = BASELINE_STYLES[name]
                _steps(axis, result[part][key].get("cdf_ms") or [], name, color, style)
        if stage == "saga":
            color, style = BASELINE_STYLES["anti-pattern (sync)"]
            _steps(
                axis,
                result["antipattern"]["post"].get("cdf_ms") or [],
                "anti-pattern (answers when done)",
                color,
                style,
            )
        axis.set(xscale="log", xlabel="ms", title=STAGE_TITLES[stage])
        plain_log_axis(axis)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel("share of requests at or below")
    users = result["settings"]["users"]
    fig.suptitle(
        f"{users} users, 8 in flight, every user active within the run — {machine_line(result['machine'])}",
        fontsize=9,
    )
    return _save(fig, path)


def width(result: dict[str, Any], path: Path) -> Path:
    fig, axis = plt.subplots(figsize=(9, 5))
    runs = result["scimsaga"]["runs"]
    for mode in sorted({r["mode"] for r in runs}):
        rows = sorted((r for r in runs if r["mode"] == mode), key=lambda r: len(r["identity_subscribers"]))
        xs = [len(r["identity_subscribers"]) for r in rows]
        for stage in STAGES:
            axis.plot(
                xs,
                [r["stages"][stage].get("p50_ms") or float("nan") for r in rows],
                marker="o",
                color=STAGE_COLORS[stage],
                linestyle=MODE_STYLES[mode],
                label=f"{stage} p50, {mode}",
            )
    ceiling = result["actor_ceiling"]["rows"]
    axis.plot(
        [r["actors"] for r in ceiling],
        [r["bare_p50_ms"] for r in ceiling],
        marker="s",
        color="black",
        linestyle=":",
        label="bare Ray call-and-gather p50 (light load)",
    )
    axis.plot(
        [r["actors"] for r in ceiling],
        [r["bus_p50_ms"] for r in ceiling],
        marker="s",
        color="tab:brown",
        linestyle=":",
        label="one event through the bus p50 (light load)",
    )
    axis.set(
        xscale="log",
        yscale="log",
        xlabel="subscribers of identity's events (actors)",
        ylabel="ms",
        title=f"Latency against fan-out width, {result['settings']['users']} users at 8 in flight",
    )
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=7, ncol=2)
    fig.suptitle(machine_line(result["machine"]), fontsize=8)
    return _save(fig, path)


def throughput(result: dict[str, Any], path: Path) -> Path:
    bars: list[tuple[str, float, str]] = [
        ("HTTP ceiling\nPOST", result["http_ceiling"]["post"]["per_s"], "tab:gray"),
        ("scim2-server\nPOST", result["peer"]["post"]["per_s"], "tab:purple"),
        ("anti-pattern\nPOST = provisioned", result["antipattern"]["post"]["per_s"], "tab:red"),
    ]
    for mode in ("orchestration", "choreography"):
        run = min(
            (r for r in result["scimsaga"]["runs"] if r["mode"] == mode),
            key=lambda r: r["fanout_width"],
            default=None,
        )
        if run is not None:
            bars.append((f"scimsaga {mode[:5]}.\nPOST acked", run["throughput"]["ack_per_s"], "tab:blue"))
            bars.append(
                (f"scimsaga {mode[:5]}.\nprovisioned", run["throughput"]["provisioning_per_s"], "tab:green")
            )
    bars.append(("scim2-server\nfiltered GET", result["peer"]["filtered_get"]["per_s"], "tab:purple"))
    if "filtered_get" in result["scimsaga"]:
        bars.append(("scimsaga\nfiltered GET", result["scimsaga"]["filtered_get"]["per_s"], "tab:blue"))
    fig, axis = plt.subplots(figsize=(12, 4.6))
    axis.bar(range(len(bars)), [b[1] for b in bars], color=[b[2] for b in bars])
    for i, (_, value, _) in enumerate(bars):
        axis.annotate(f"{value:.0f}", (i, value), ha="center", va="bottom", fontsize=8)
    axis.set_xticks(range(len(bars)), [b[0] for b in bars], fontsize=7)
    axis.set(ylabel="per second, 8 in flight", title="Throughput side by side (no sinks)")
    fig.suptitle(machine_line(result["machine"]), fontsize=8)
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
