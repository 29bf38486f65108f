"""The broker's promises (see the docstring of scimsaga/bus/broker.py), one by one.

Delivery goes through a scripted fake Transport; retry times are read from a fake clock the test
moves, so backoff is checked exactly and no test waits for a retry in real time.
"""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import replace

from scimsaga.bus.broker import Broker
from scimsaga.bus.envelope import new_message
from scimsaga.bus.outbox import Record
from tests.polling import wait_until

TOPIC = "identity"
SUBSCRIPTION = "sub<-identity"


def event(event_id: str, key: str, topic: str = TOPIC) -> Record:
    envelope = new_message("identity.UserCreated", key, {"n": event_id}, at="2026-01-01T00:00:00Z",
                           id=event_id)
    return topic, envelope.to_json()


def status_of(broker: Broker, name: str = SUBSCRIPTION) -> dict:
    return next(s for s in broker.status() if s["name"] == name)


def status_when(broker: Broker, **expected) -> dict:
    """The subscription's status once it shows every ``expected`` value (the pump notes its last error
    just after its commit, so one look may see the commit without the error)."""
    def matching():
        status = status_of(broker)
        return status if all(status[k] == v for k, v in expected.items()) else None

    return eventually(matching, f"status {expected}")


def eventually(condition, message: str = "condition"):
    return wait_until(condition, timeout=5.0, interval=0.002, message=message)


def advance_until(clock, condition, step: float, limit: int = 200) -> None:
    """Move the fake clock ``step`` at a time, letting the pump look after each move."""
    for _ in range(limit):
        if condition():
            return
        clock.advance(step)
        clock.wait_for_pump_turns()
    assert condition(), "condition not met while advancing the clock"


# --- publishing ---------------------------------------------------------------------------------


def test_publish_ignores_an_event_id_already_in_the_log(new_broker, transport):
    broker = new_broker(start=False)

    assert broker.publish([event("e1", "k1"), event("e2", "k2")]) == 2
    assert broker.publish([event("e1", "k1")]) == 0
    assert broker.publish([event("e2", "k2"), event("e3", "k3"), event("e3", "k3")]) == 1
    assert broker.topic_size(TOPIC) == 3

    broker.start()
    eventually(lambda: len(transport.processed_by()) == 3)
    assert transport.processed_by() == ["e1", "e2", "e3"]


def test_events_are_delivered_in_publication_order(new_broker, transport):
    broker = new_broker()
    ids = [f"e{i}" for i in range(30)]

    for i, event_id in enumerate(ids):
        broker.publish([event(event_id, f"k{i % 4}")])

    eventually(lambda: len(transport.processed_by()) == len(ids))
    assert transport.processed_by() == ids


def test_only_the_subscribed_topic_is_delivered(new_broker, transport):
    broker = new_broker()

    broker.publish([event("other", "k1", topic="billing"), event("mine", "k1")])

    eventually(lambda: transport.processed_by() == ["mine"])
    assert broker.topic_size("billing") == 1


# --- order per key across failures ------------------------------------------------------------


def test_a_failed_event_holds_back_later_events_of_its_key_and_other_keys_flow_on(
        new_broker, transport, clock, fast_bus):
    broker = new_broker(replace(fast_bus, retry_base=10.0))
    transport.fail("a1", times=1)

    broker.publish([event("a1", "a"), event("b1", "b"), event("a2", "a"), event("b2", "b"),
                    event("a3", "a")])
    eventually(lambda: transport.processed_by() == ["b1", "b2"])

    broker.publish([event("a4", "a"), event("b3", "b")])
    eventually(lambda: transport.processed_by() == ["b1", "b2", "b3"])
    clock.wait_for_pump_turns()
    later_calls = transport.calls_to()[1:]
    assert all(not i.startswith("a") for ids in later_calls for i in ids), later_calls

    clock.advance(10.0)
    eventually(lambda: len(transport.processed_by()) == 7)
    processed = transport.processed_by()
    assert [i for i in processed if i.startswith("a")] == ["a1", "a2", "a3", "a4"]
    assert processed.index("b3") < processed.index("a1")


def test_backoff_doubles_from_the_base_and_is_capped(new_broker, transport, clock, fast_bus):
    broker = new_broker(replace(fast_bus, retry_base=1.0, retry_cap=4.0, max_attempts=7))
    transport.fail("e1")
    start = clock.now

    broker.publish([event("e1", "k")])
    eventually(lambda: len(transport.attempt_times["e1"]) == 1)
    advance_until(clock, lambda: len(transport.attempt_times["e1"]) == 7, step=0.5)

    times = [t - start for t in transport.attempt_times["e1"]]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert broker.dead_letters(SUBSCRIPTION)[0]["attempts"] == 7


def test_an_event_that_keeps_failing_is_dead_lettered_with_its_last_error_then_its_key_flows(
        new_broker, transport, clock, fast_bus):
    broker = new_broker(replace(fast_bus, max_attempts=3, retry_base=1.0))
    transport.fail("a1")

    broker.publish([event("a1", "a"), event("a2", "a"), event("b1", "b")])
    eventually(lambda: transport.processed_by() == ["b1"])
    advance_until(clock, lambda: broker.dead_letters(SUBSCRIPTION), step=1.0)

    [dead] = broker.dead_letters(SUBSCRIPTION)
    assert dead["event_id"] == "a1"
    assert dead["key"] == "a"
    assert dead["type"] == "identity.UserCreated"
    assert dead["attempts"] == 3
    assert dead["error"] == "boom 3"
    assert dead["dead_at"] == clock.now
    eventually(lambda: transport.processed_by() == ["b1", "a2"])
    assert len(transport.attempt_times["a1"]) == 3


def test_replay_puts_dead_letters_back_in_line(new_broker, transport, clock, fast_bus):
    broker = new_broker(replace(fast_bus, max_attempts=1))
    transport.fail("a1")
    broker.publish([event("a1", "a"), event("a2", "a")])
    eventually(lambda: transport.processed_by() == ["a2"])
    assert [d["event_id"] for d in broker.dead_letters(SUBSCRIPTION)] == ["a1"]

    transport.heal("a1")
    assert broker.replay_dead_letters(SUBSCRIPTION) == 1

    eventually(lambda: transport.processed_by() == ["a2", "a1"])
    assert broker.dead_letters(SUBSCRIPTION) == []
    assert status_of(broker)["dead_letters"] == 0
    assert broker.replay_dead_letters(SUBSCRIPTION) == 0


class ReplayWhileDeadLettering(logging.Handler):
    """When the pump logs that it moves an event to dead letters (inside its commit), ask for a replay
    from another thread, as an operator's ``replay`` call to the broker actor would arrive."""

    def __init__(self, broker: Broker) -> None:
        super().__init__(logging.WARNING)
        self.broker = broker
        self.outcome: dict[str, object] = {}
        self.thread: threading.Thread | None = None
        self.done = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.thread is not None or "dead letters" not in record.getMessage():
            return

        def replay() -> None:
            try:
                self.outcome["replayed"] = self.broker.replay_dead_letters(SUBSCRIPTION)
            except Exception as exc:
                self.outcome["error"] = exc
            finally:
                self.done.set()

        self.thread = threading.Thread(target=replay)
        self.thread.start()
        self.thread.join(0.2)  # let the replay run into the pump's open transaction, if it would


def test_a_replay_asked_for_while_the_pump_commits_is_not_mixed_into_its_transaction(
        new_broker, transport, fast_bus):
    broker = new_broker(replace(fast_bus, max_attempts=1), start=False)
    hook = ReplayWhileDeadLettering(broker)
    logger = logging.getLogger("scimsaga.bus.broker")
    logger.addHandler(hook)
    try:
        transport.fail("a1", times=1)
        broker.publish([event("a1", "a")])
        broker.start()
        assert hook.done.wait(5.0), "the replay did not finish"
    finally:
        logger.removeHandler(hook)

    assert hook.outcome == {"replayed": 1}
    eventually(lambda: transport.processed_by() == ["a1"])
    assert broker.dead_letters(SUBSCRIPTION) == []


# --- durability across a restart --------------------------------------------------------------


def test_position_survives_a_restart(new_broker, transport, clock):
    first = new_broker()
    first.publish([event("e1", "k1"), event("e2", "k2")])
    eventually(lambda: transport.processed_by() == ["e1", "e2"])
    first.stop()

    second = new_broker()
    second.publish([event("e3", "k3")])

    eventually(lambda: transport.processed_by() == ["e1", "e2", "e3"])
    clock.wait_for_pump_turns()
    assert transport.calls_to() == [["e1", "e2"], ["e3"]]
    assert status_of(second)["position"] == 3


def test_retry_state_survives_a_restart(new_broker, transport, clock, fast_bus):
    settings = replace(fast_bus, max_attempts=3, retry_base=10.0)
    first = new_broker(settings)
    transport.fail("a1")
    first.publish([event("a1", "a"), event("b1", "b"), event("a2", "a")])
    eventually(lambda: transport.processed_by() == ["b1"])
    first.stop()
    calls_before_restart = len(transport.calls_to())

    second = new_broker(settings)
    clock.wait_for_pump_turns()
    assert len(transport.calls_to()) == calls_before_restart  # a1 is not due; b1 is not sent again
    assert status_of(second)["retrying"] >= 1

    clock.advance(10.0)
    eventually(lambda: len(transport.attempt_times["a1"]) == 2)
    advance_until(clock, lambda: second.dead_letters(SUBSCRIPTION), step=10.0)

    assert second.dead_letters(SUBSCRIPTION)[0]["attempts"] == 3  # counted across both lives
    eventually(lambda: transport.processed_by() == ["b1", "a2"])


# --- an unavailable subscriber --------------------------------------------------------------------


def test_an_unavailable_subscriber_costs_no_attempts_and_no_dead_letters(new_broker, transport, fast_bus):
    broker = new_broker(replace(fast_bus, max_attempts=1))
    transport.down.add("sub")

    broker.publish([event("e1", "k1")])
    eventually(lambda: len(transport.calls_to()) >= 3, "three refused deliveries")

    status = status_of(broker)
    assert status["state"] == "unavailable"
    assert "sub is down" in status["last_error"]
    assert (status["position"], status["lag"], status["retrying"], status["dead_letters"]) == (0, 1, 0, 0)

    transport.down.discard("sub")
    eventually(lambda: transport.processed_by() == ["e1"])
    assert broker.dead_letters(SUBSCRIPTION) == []
    eventually(lambda: status_of(broker)["delivered"] == 1)
    assert status_of(broker)["redelivered"] == 0


def test_a_slow_or_down_subscriber_slows_only_itself(new_broker, transport):
    broker = new_broker(subscribers=("fast", "slow"))
    transport.down.add("slow")

    broker.publish([event("e1", "k1"), event("e2", "k2")])

    eventually(lambda: transport.processed_by("fast") == ["e1", "e2"])
    assert transport.processed_by("slow") == []
    assert status_of(broker, "slow<-identity")["lag"] == 2
    transport.down.discard("slow")
    eventually(lambda: transport.processed_by("slow") == ["e1", "e2"])


# --- batches ------------------------------------------------------------------------------------


def test_batch_size_bounds_what_is_in_flight(new_broker, transport, fast_bus):
    broker = new_broker(replace(fast_bus, batch_size=3), start=False)
    ids = [f"e{i}" for i in range(10)]
    broker.publish([event(i, f"k{n % 2}") for n, i in enumerate(ids)])
    transport.gate = threading.Event()

    broker.start()
    assert transport.at_gate.wait(5.0)
    status = status_of(broker)
    assert (status["in_flight"], status["state"]) == (3, "delivering")
    assert transport.calls_to() == [["e0", "e1", "e2"]]

    transport.gate.set()
    eventually(lambda: len(transport.processed_by()) == 10)
    assert transport.processed_by() == ids
    assert all(len(batch) <= 3 for batch in transport.calls_to())
    eventually(lambda: status_of(broker)["in_flight"] == 0)


# --- status ---------------------------------------------------------------------------------------


def test_status_counts_lag_retrying_and_dead_letters(new_broker, transport, clock, fast_bus):
    broker = new_broker(replace(fast_bus, max_attempts=2, retry_base=1.0), start=False)
    broker.publish([event("e1", "k1"), event("e2", "k2"), event("e3", "k3"), event("e4", "k4")])
    clock.advance(2.5)

    before = status_of(broker)
    assert before["topic"] == TOPIC
    assert before["subscriber"] == "sub"
    assert (before["position"], before["lag"], before["retrying"], before["dead_letters"]) == (0, 4, 0, 0)
    assert before["oldest_unacked_age_s"] == 2.5
    assert (before["delivered"], before["in_flight"]) == (0, 0)

    transport.fail("e1")
    broker.start()
    retrying = status_when(broker, delivered=3, last_error="boom 1")
    assert (retrying["position"], retrying["lag"], retrying["retrying"], retrying["dead_letters"]) == (
        4, 1, 1, 0)

    clock.advance(1.0)
    eventually(lambda: status_of(broker)["dead_letters"] == 1)
    dead = status_of(broker)
    assert (dead["position"], dead["lag"], dead["retrying"], dead["dead_letters"]) == (4, 0, 0, 1)
    assert dead["oldest_unacked_age_s"] == 0.0


def test_status_counts_redeliveries(new_broker, transport, clock, fast_bus):
    broker = new_broker(replace(fast_bus, retry_base=1.0))
    transport.fail("e1", times=1)

    broker.publish([event("e1", "k1")])
    eventually(lambda: status_of(broker)["retrying"] == 1)
    clock.advance(1.0)

    eventually(lambda: transport.processed_by() == ["e1"])
    eventually(lambda: status_of(broker)["delivered"] == 1)
    assert status_of(broker)["redelivered"] == 1
