"""The broker's fan-out timing: from an event's ``occurred_at`` to the last subscription's acknowledgement.

Checked on :class:`FanoutTimer` itself with times the test chooses, and through a real Broker whose
subscribers are an in-process transport that acknowledges everything (no Ray).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

import pytest

from scimsaga.bus.broker import Broker, FanoutTimer, Reservoir, SubscriptionSpec, occurred_at, summarize
from scimsaga.bus.consumer import Delivered, DeliveryReport
from scimsaga.bus.envelope import new_message
from scimsaga.settings import BusSettings
from tests.polling import wait_until

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
AT = "2026-01-01T00:00:00.000Z"
CREATED = "identity.UserCreated"


def body(key: str = "u1", at: str = AT, type_: str = CREATED) -> str:
    return new_message(type_, key, {"user": {"type": "not the envelope's"}}, at=at).to_json()


def three_subscribers() -> FanoutTimer:
    return FanoutTimer([SubscriptionSpec("identity", name) for name in ("saga", "access", "sink-1")]
                       + [SubscriptionSpec("billing", "saga")])


def types(timer: FanoutTimer, topic: str = "identity") -> dict:
    return timer.summary(topic)["types"]


def test_occurred_at_is_read_from_the_envelope_without_parsing_it_all():
    assert occurred_at(body(at="2026-01-01T00:00:01.250Z")) == pytest.approx(T0 + 1.25)
    assert occurred_at('{"payload": {}, "occurred_at": "2026-01-01T00:00:02+00:00"}') == pytest.approx(T0 + 2)


def test_an_event_is_timed_when_the_last_subscription_acknowledges_it():
    timer = three_subscribers()
    timer.acknowledged("saga<-identity", [(1, body(), CREATED)], T0 + 0.010)
    timer.acknowledged("access<-identity", [(1, body(), CREATED)], T0 + 0.020)
    assert types(timer) == {}
    assert timer.summary("identity")["waiting"] == 1
    timer.acknowledged("sink-1<-identity", [(1, body(), CREATED)], T0 + 0.045)
    figures = types(timer)[CREATED]
    assert (figures["events"], figures["window"], figures["p50_ms"], figures["max_ms"]) == (1, 1, 45.0, 45.0)
    assert timer.summary("identity")["waiting"] == 0


def test_a_topic_with_one_subscription_is_timed_at_its_acknowledgement():
    timer = three_subscribers()
    reply = "billing.CustomerCreated"
    timer.acknowledged("saga<-billing", [(7, body(type_=reply), reply)], T0 + 0.003)
    assert types(timer, "billing")["billing.CustomerCreated"]["p50_ms"] == 3.0
    assert timer.summary("billing")["waiting"] == 0


def test_event_types_are_timed_apart():
    timer = three_subscribers()
    for name in ("saga<-identity", "access<-identity", "sink-1<-identity"):
        timer.acknowledged(name, [(1, body(), CREATED), (2, body(type_="identity.UserActivated"),
                                                        "identity.UserActivated")], T0 + 0.5)
    assert set(types(timer)) == {CREATED, "identity.UserActivated"}
    assert types(timer)[CREATED]["events"] == 1


def test_acknowledging_again_never_makes_up_a_figure():
    """A rewound subscription acknowledges an event again: before the others did, nothing changes;
    after the event was timed, it waits for the others, who never acknowledge it again."""
    timer = three_subscribers()
    for _ in range(3):
        timer.acknowledged("saga<-identity", [(1, body(), CREATED)], T0 + 0.1)
    assert types(timer) == {}
    timer.acknowledged("access<-identity", [(1, body(), CREATED)], T0 + 0.2)
    timer.acknowledged("sink-1<-identity", [(1, body(), CREATED)], T0 + 0.3)
    timer.acknowledged("saga<-identity", [(1, body(), CREATED)], T0 + 9.0)
    figures = types(timer)[CREATED]
    assert (figures["events"], figures["max_ms"]) == (1, 300.0)


def test_memory_of_unfinished_events_is_bounded():
    specs = [SubscriptionSpec("identity", "a"), SubscriptionSpec("identity", "b")]
    timer = FanoutTimer(specs, waiting_limit=3)
    timer.acknowledged("a<-identity", [(n, body(f"u{n}"), CREATED) for n in range(1, 6)], T0 + 1)
    summary = timer.summary("identity")
    assert (summary["waiting"], summary["forgotten"]) == (3, 2)
    timer.acknowledged("b<-identity", [(1, body(), CREATED), (5, body(), CREATED)], T0 + 1)
    assert types(timer)[CREATED]["events"] == 1  # event 1 was forgotten; event 5 is timed


def test_what_is_not_an_envelope_is_not_timed():
    timer = FanoutTimer([SubscriptionSpec("t", "a")])
    timer.acknowledged("a<-t", [(1, "not json", "x"), (2, '{"no": "time"}', "x")], T0)
    assert timer.summary("t")["types"] == {}


def test_the_reservoir_keeps_the_most_recent_samples_and_counts_them_all():
    reservoir = Reservoir(size=3)
    for seconds in (5.0, 0.001, 0.002, 0.003):
        reservoir.add(seconds)
    count, samples = reservoir.snapshot()
    assert (count, samples) == (4, [0.001, 0.002, 0.003])
    summary = summarize(count, samples)
    assert (summary["events"], summary["window"], summary["max_ms"]) == (4, 3, 3.0)
    assert len(summary["cdf_ms"]) == 101
    reservoir.remember(count, summary)
    assert reservoir.snapshot() is summary  # nothing added since: the summary is not computed again


class AckEverything:
    """A Transport to subscribers that acknowledge every event at once."""

    def deliver(self, subscriber: str, batch: Sequence[Delivered], timeout: float) -> DeliveryReport:
        return DeliveryReport(acked=[offset for offset, _ in batch])


def test_the_broker_shows_each_topics_fanout_on_each_of_its_subscriptions(tmp_path):
    specs = [SubscriptionSpec("identity", "saga"), SubscriptionSpec("identity", "sink-1")]
    broker = Broker(tmp_path / "bus.sqlite", specs, AckEverything(), BusSettings(idle_poll=0.005),
                    clock=lambda: T0 + 0.25)
    broker.start()
    try:
        broker.publish([("identity", body(f"u{n}")) for n in range(10)])

        def timed():
            status = broker.status()
            figures = [s["fanout"]["types"].get(CREATED, {}) for s in status]
            return status if all(f.get("events") == 10 for f in figures) else None

        status = wait_until(timed, timeout=10, message="every event timed")
    finally:
        broker.stop()
    fanout = status[0]["fanout"]
    assert fanout == status[1]["fanout"]
    assert fanout["waiting"] == 0
    assert fanout["types"][CREATED]["p50_ms"] == 250.0  # the clock's now minus occurred_at
