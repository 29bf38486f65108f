"""The bus on Ray: throughput and light-load latency, against a bare Ray call-and-gather, 1 to 32 subscribers.

    flock /tmp/scimsaga-ray.lock .venv/bin/python -m bench.bus [--json bench/results/bus.json]
        [--plot bench/results/bus.png] [--subscribers 1,2,4,8,16,32] [--events 100000] [--pings 300]

For each number of subscribers N, a fresh deployment (broker and N sink actors, durable log in a
temporary data directory) on a local Ray cluster of 2 CPUs:

- throughput: the driver publishes ``--events`` events to the broker in batches of 500 (as an outbox
  relay does), back to back; figure = events / (time of the last acknowledgement the broker committed,
  over all N subscriptions, minus the time the first publish was sent), the median of ``--rounds``
  such streams. Every sink must hold every event, once, in order per key, or the run fails;
- latency at light load: one event at a time, publish to the last of N acknowledgements (as the broker
  commits them), interleaved with a bare call-and-gather of ``ping`` to the same N actors, so both
  see the same machine at the same moment; p50 and p99 of each.

The figures go to stdout and, with ``--json``, to a file with the machine described (and its load
average before and after each run: the machine is shared, and a busy neighbour shows in the figures);
``--plot`` draws them (needs the ``bench`` extra: ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

from scimsaga.settings import keep_ray_on_loopback

keep_ray_on_loopback()  # before Ray is imported: the benchmark's cluster listens on 127.0.0.1 only

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import ray  # noqa: E402

from scimsaga.actors.sink import EVENT_TYPE, TOPIC, expected, verdict  # noqa: E402
from scimsaga.actors.topology import sink_topology  # noqa: E402
from scimsaga.bus.envelope import new_message  # noqa: E402
from scimsaga.bus.outbox import Record  # noqa: E402
from scimsaga.bus.ray_transport import RayPublisher  # noqa: E402
from scimsaga.cluster import LOCAL_SYSTEM_CONFIG, Cluster  # noqa: E402
from scimsaga.settings import BusSettings, Settings, utc_now  # noqa: E402

from .machine import describe  # noqa: E402

PUBLISH_BATCH = 500
KEYS = 100
GOALS = {"throughput_events_per_s": 20_000, "latency_p50_over_bare": 2.0}


def records(count: int, first_seq: int = 1) -> list[Record]:
    """``count`` events spread over KEYS keys, numbered per key from ``first_seq``, each stamped with
    the time it was made (to the millisecond, as an outbox stamps them)."""
    out = []
    for i in range(count):
        key = f"user-{i % KEYS:03d}"
        seq = first_seq + i // KEYS
        out.append((TOPIC, new_message(EVENT_TYPE, key, {"seq": seq}, at=utc_now()).to_json()))
    return out


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class Run:
    """One deployment of N sinks on the shared local Ray cluster."""

    def __init__(self, subscribers: int, bus: BusSettings) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="scimsaga-bench-"))
        self.sinks = [f"sink-{i}" for i in range(1, subscribers + 1)]
        settings = Settings(data_dir=self.data_dir, namespace=f"bench-{uuid.uuid4().hex[:8]}", bus=bus)
        self.cluster = Cluster(settings, topology=sink_topology(subscribers, source=False))
        self.cluster.start()
        if not self.cluster.wait_ready(timeout=300):
            raise RuntimeError(f"{subscribers} sinks did not become ready")
        self.broker = self.cluster.handle("broker")
        self.publish = RayPublisher(settings.namespace, timeout=120)
        """What an outbox relay publishes with: records packed into one call, acknowledged once logged."""
        self.handles = [self.cluster.handle(name) for name in self.sinks]

    def status(self) -> list[dict[str, Any]]:
        subscriptions: list[dict[str, Any]] = ray.get(self.broker.status.remote(), timeout=60)
        return subscriptions

    def acked_through(self, offset: int, poll: float) -> float:
        """Wait until every subscription acknowledged up to ``offset``; when the last ack was committed."""
        while True:
            subscriptions = self.status()
            if all(s["position"] >= offset and s["lag"] == 0 for s in subscriptions):
                return max(float(s["last_ack_at"]) for s in subscriptions)
            time.sleep(poll)

    def stop(self) -> None:
        self.cluster.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def throughput(run: Run, events: int, rounds: int) -> dict[str, Any]:
    """``rounds`` streams of ``events`` each, one after the other; the median round is the figure."""
    per_key = events // KEYS
    rates: list[float] = []
    publish_rates: list[float] = []
    for round_ in range(rounds):
        batch = records(events, first_seq=1 + round_ * per_key)
        started = time.time()
        for at in range(0, events, PUBLISH_BATCH):
            run.publish(batch[at:at + PUBLISH_BATCH])
        published = time.time()
        last_ack = run.acked_through((round_ + 1) * events, poll=0.25)
        rates.append(events / (last_ack - started))
        publish_rates.append(events / (published - started))
    wanted = expected([f"user-{k:03d}" for k in range(KEYS)], rounds * per_key)
    for name, handle in zip(run.sinks, run.handles, strict=True):
        problems = verdict(ray.get(handle.sequences.remote(), timeout=120), wanted)
        if problems:
            raise RuntimeError(f"{name} did not get every event exactly once in order: {problems[:3]}")
    rate = statistics.median(rates)
    return {
        "events": events,
        "rounds": rounds,
        "events_per_s": round(rate),
        "deliveries_per_s": round(rate * len(run.sinks)),
        "events_per_s_each_round": [round(r) for r in rates],
        "publish_events_per_s": round(statistics.median(publish_rates)),
    }


def latency(run: Run, pings: int, first_offset: int, warmup: int = 20, gap: float = 0.01) -> dict[str, Any]:
    """One event at a time, interleaved with a bare call-and-gather to the same actors.

    The driver looks at the broker's figures only ``gap`` after publishing (and then every 2 ms), so
    its looking does not slow the delivery it measures; the broker's own commit times say when.
    """
    bus_ms: list[float] = []
    bare_ms: list[float] = []
    events = records(warmup + pings, first_seq=10**6)
    for i, event in enumerate(events):
        start = time.perf_counter()
        ray.get([handle.ping.remote() for handle in run.handles], timeout=60)
        bare = (time.perf_counter() - start) * 1000
        time.sleep(gap)
        sent = time.time()
        run.publish([event])
        time.sleep(gap)
        acked = run.acked_through(first_offset + i, poll=0.002)
        if i >= warmup:  # the first rounds warm up connections and caches
            bus_ms.append((acked - sent) * 1000)
            bare_ms.append(bare)
    return {
        "samples": len(bus_ms),
        "bus_p50_ms": round(statistics.median(bus_ms), 3),
        "bus_p99_ms": round(percentile(bus_ms, 99), 3),
        "bare_p50_ms": round(statistics.median(bare_ms), 3),
        "bare_p99_ms": round(percentile(bare_ms, 99), 3),
        "p50_ratio": round(statistics.median(bus_ms) / statistics.median(bare_ms), 2),
    }


def measure(subscribers: int, events: int, rounds: int, pings: int, bus: BusSettings) -> dict[str, Any]:
    run = Run(subscribers, bus)
    try:
        figures: dict[str, Any] = {"subscribers": subscribers, "load_average_before": os.getloadavg()[0]}
        figures["throughput"] = throughput(run, events, rounds)
        figures["latency"] = latency(run, pings, first_offset=rounds * events + 1)
        figures["load_average_after"] = os.getloadavg()[0]
        return figures
    finally:
        run.stop()


def scaled_events(subscribers: int, events: int) -> int:
    """Fewer events for many subscribers, so each run stays around ten seconds; whole rounds of keys."""
    count = events if subscribers <= 4 else max(20_000, events * 4 // subscribers)
    return count // KEYS * KEYS


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["figures"]
    n = [r["subscribers"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(n, [r["throughput"]["events_per_s"] for r in rows], "o-",
              label="events / s, publish to last ack")
    left.axhline(GOALS["throughput_events_per_s"], color="grey", linestyle=":", label="goal at 4 subscribers")
    left.plot(n, [r["throughput"]["deliveries_per_s"] for r in rows], "^--", color="tab:purple",
              label="deliveries / s (events x subscribers)")
    left.set(xscale="log", xlabel="subscribers", ylabel="per second", title="Throughput (durable log)")
    left.set_ylim(bottom=0)
    left.set_xticks(n, [str(x) for x in n])
    left.legend(fontsize=8)
    for key, style, label in (("bus_p50_ms", "o-", "bus p50"), ("bus_p99_ms", "o--", "bus p99"),
                              ("bare_p50_ms", "s-", "bare Ray p50"), ("bare_p99_ms", "s--", "bare Ray p99")):
        right.plot(n, [r["latency"][key] for r in rows], style, label=label)
    right.set(xscale="log", yscale="log", xlabel="subscribers", ylabel="ms",
              title="Latency at light load: publish to last ack")
    right.set_xticks(n, [str(x) for x in n])
    right.legend()
    machine = result["machine"]
    fig.suptitle(f"scimsaga bus on {machine['cores']} cores ({machine['cpu']}), "
                 f"Ray {machine['packages']['ray']}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", default="1,2,4,8,16,32",
                        help="comma-separated numbers of subscribers (default: 1,2,4,8,16,32)")
    parser.add_argument("--events", type=int, default=100_000, help="events per throughput run, up to 4 subs")
    parser.add_argument("--rounds", type=int, default=3, help="throughput streams per run; the median counts")
    parser.add_argument("--pings", type=int, default=300, help="light-load latency samples per run")
    parser.add_argument("--batch-size", type=int, default=BusSettings().batch_size,
                        help="the bus's batch size (default: BusSettings' own)")
    parser.add_argument("--json", type=Path, help="write the result here as JSON")
    parser.add_argument("--plot", type=Path, help="draw the figures into this PNG (needs matplotlib)")
    args = parser.parse_args()
    counts = [int(n) for n in args.subscribers.split(",")]
    bus = BusSettings(batch_size=args.batch_size, idle_poll=1.0)

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR, object_store_memory=256 * 1024 * 1024,
             _system_config=LOCAL_SYSTEM_CONFIG)  # as scimsaga up starts its cluster
    try:
        rows = []
        for n in counts:
            row = measure(n, scaled_events(n, args.events), args.rounds, args.pings, bus)
            t, lat = row["throughput"], row["latency"]
            print(f"{n:>3} subscribers: {t['events_per_s']:>7} events/s "
                  f"= {t['deliveries_per_s']:>6} deliveries/s (rounds of {t['events']} events: "
                  f"{t['events_per_s_each_round']}, published at {t['publish_events_per_s']}/s)   "
                  f"latency bus p50 {lat['bus_p50_ms']:.2f} ms "
                  f"p99 {lat['bus_p99_ms']:.2f} ms   bare Ray p50 {lat['bare_p50_ms']:.2f} ms "
                  f"p99 {lat['bare_p99_ms']:.2f} ms   ratio {lat['p50_ratio']:.2f}", flush=True)
            rows.append(row)
    finally:
        ray.shutdown()
    result = {"benchmark": "bus", "machine": describe(), "settings": {"batch_size": args.batch_size,
              "publish_batch": PUBLISH_BATCH, "keys": KEYS}, "goals": GOALS, "figures": rows}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.plot:
        try:
            plot(result, args.plot)
        except ImportError:
            print("no plot: matplotlib is not installed (pip install -e '.[bench]')")


if __name__ == "__main__":
    main()
