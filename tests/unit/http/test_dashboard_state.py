"""The dashboard's JSON: topology with counters per arrow, the bus, saga waterfalls, and the cache."""

from __future__ import annotations

import falcon
import pytest
from falcon import testing

from scimsaga.http.dashboard_state import ViewSource, build_view, published, topology
from scimsaga.http.dashboard_timeline import RecentWrites, WriteRecord, classify, epoch_ms, waterfall
from scimsaga.http.middleware import RequestId
from tests.unit.http.dashboard_fakes import FakeOperations, saga, status, subscription

BASE = "/scim/v2"


def edge(view_or_topology, edge_id):
    found = view_or_topology.get("topology", view_or_topology)
    edges = found["edges"]
    return next(e for e in edges if e["id"] == edge_id)


def test_the_topology_has_the_idp_the_front_door_identity_the_bus_services_and_the_coordinator():
    nodes = topology(status(), {}, BASE)["nodes"]
    assert [n["id"] for n in nodes] == ["idp", "frontdoor", "identity", "broker", "billing", "profile",
                                        "access", "saga"]
    assert next(n for n in nodes if n["id"] == "saga")["label"] == "Coordinator"
    assert next(n for n in nodes if n["id"] == "billing")["detail"] == "customers: open 3"


def test_a_service_added_to_the_topology_appears_with_its_arrow():
    """Topology is data: a marketing service in the status is drawn, with its subscription's counters."""
    state = status()
    state["services"].append({"name": "marketing", "state": "up", "processed": 2, "outbox": 0})
    state["subscriptions"].append(subscription("marketing", "identity", delivered=2, lag=1))
    view = topology(state, {}, BASE)
    assert "marketing" in [n["id"] for n in view["nodes"]]
    arrow = edge(view, "bus-marketing")
    assert (arrow["count"], arrow["lag"], arrow["label"]) == (2, 1, "identity")


def test_requests_from_the_idp_and_calls_into_identity_are_counted_by_route():
    totals = {f"{BASE}/Users": 5, f"{BASE}/Users/{{resource_id}}": 7, f"{BASE}/ServiceProviderConfig": 1,
              "unrouted": 2, "/dashboard/api/view": 40, "/metrics": 3}
    view = topology(status(), totals, BASE)
    assert edge(view, "idp-frontdoor")["count"] == 15  # SCIM only: not the dashboard's own polling
    assert edge(view, "frontdoor-identity")["count"] == 12  # requests that reached a resource


def test_arrows_into_and_out_of_the_bus_count_deliveries_lag_dead_letters_and_publications():
    state = status(users=3)
    billing = next(s for s in state["subscriptions"] if s["name"] == "billing<-billing.commands")
    billing.update(lag=4, dead_letters=1)
    view = topology(state, {}, BASE)
    bus_billing = edge(view, "bus-billing")
    assert (bus_billing["count"], bus_billing["lag"], bus_billing["dead_letters"]) == (3, 4, 1)
    assert bus_billing["back"] == 3  # billing's replies, read by the coordinator
    coordinator = edge(view, "bus-saga")
    assert coordinator["count"] == 6 + 3 * 3  # identity events plus the replies of three services
    assert coordinator["back"] == 12 + 3 + 8 + 3  # the commands it sent, on four command topics
    assert edge(view, "bus-identity")["back"] == 6  # identity's events


def test_published_counts_a_topic_once_from_its_furthest_reader():
    subs = [subscription("a", "t", delivered=5, lag=2), subscription("b", "t", delivered=1, lag=0, dead=1)]
    assert published(subs) == {"t": 7}


def test_a_completed_saga_is_a_waterfall_from_the_post_to_the_activation():
    request = WriteRecord("req-1", "POST", f"{BASE}/Users", 201, received=epoch_ms(
        "2026-11-29T23:00:01.350Z") / 1000, answered=epoch_ms("2026-11-29T23:00:01.358Z") / 1000)
    row = waterfall(saga(), request)
    assert row["from_request"] is True
    assert [(s["label"], s["kind"]) for s in row["segments"]] == [
        ("POST → 201", "request"), ("outbox → bus", "bus"), ("profile", "step"), ("access", "step"),
        ("billing", "step"), ("UserActivated", "finish")]
    assert row["segments"][0]["end_ms"] == pytest.approx(8, abs=0.5)
    assert row["segments"][2]["start_ms"] == pytest.approx(18, abs=0.5)  # the saga began 18 ms after the POST
    assert row["segments"][2]["end_ms"] == pytest.approx(60, abs=0.5)
    assert {m["label"]: m["at_ms"] for m in row["marks"]}["201"] == pytest.approx(8, abs=0.5)
    assert row["duration_ms"] == pytest.approx(193, abs=0.5)
    assert row["user"] == "ada@example.com"


def test_a_compensated_saga_shows_the_rejection_then_the_undo_in_reverse_order():
    row = waterfall(saga(rejected=True), None)
    assert row["from_request"] is False
    assert [(s["label"], s["kind"]) for s in row["segments"]] == [
        ("profile", "step"), ("access", "step"), ("billing", "failed"), ("access", "compensation"),
        ("profile", "compensation"), ("UserCompensated", "finish")]
    assert row["segments"][0]["start_ms"] == 0  # no request known: time 0 is the saga's start


def test_a_saga_still_waiting_ends_in_a_segment_that_grows_until_now():
    running = saga()
    running["status"] = "running"
    running["history"] = running["history"][:4]  # profile and access done
    running["steps"][2]["state"] = "running"  # billing's command is out, no reply yet
    last = epoch_ms(running["history"][-1]["at"])
    segments = waterfall(running, None, now_ms=last + 5000)["segments"]
    assert segments[-1]["kind"] == "waiting"
    assert segments[-1]["label"] == "waiting for billing"
    assert segments[-1]["end_ms"] - segments[-1]["start_ms"] == pytest.approx(5000)
    finished = waterfall(saga(), None, now_ms=last + 5000)["segments"]
    assert "waiting" not in [s["kind"] for s in finished]


def test_parallel_steps_start_when_their_command_went_out():
    parallel = saga()
    parallel["history"] = [{"at": "2026-11-29T23:00:01.000Z", "event": "started"},
                           {"at": "2026-11-29T23:00:01.040Z", "event": "access: access.AccessRevoked"},
                           {"at": "2026-11-29T23:00:01.090Z", "event": "billing: billing.CustomerClosed"}]
    started = epoch_ms("2026-11-29T23:00:01.005Z") / 1000
    parallel["steps"] = [{"name": "access", "started": started}, {"name": "billing", "started": started}]
    segments = waterfall(parallel, None)["segments"]
    assert [(s["start_ms"], s["end_ms"]) for s in segments] == [(5.0, 40.0), (5.0, 90.0)]


@pytest.mark.parametrize(("event", "expected"), [
    ("profile: profile.ProfileCreated (u1)", ("profile", "step")),
    ("billing: billing.CustomerRejected: costCenter 'XX-1'", ("billing", "failed")),
    ("access: access.AccessRevoked (compensated)", ("access", "compensation")),
    ("billing: no reply yet, asking again (attempt 2)", ("billing", "retry")),
    ("profile: compensation refused (disk full), attempt 1", ("profile", "failed")),
    ("identity.UserActivated; completed", (None, "finish")),
    ("waits for the user's running saga", (None, "note")),
])
def test_history_entries_are_classified_by_what_they_say(event, expected):
    assert classify(event, ["profile", "access", "billing"]) == expected


def test_the_view_joins_sagas_to_the_requests_the_front_door_saw():
    writes = RecentWrites(BASE, clock=lambda: 1_800_000_000.0)
    sagas = [saga(correlation_id="unknown"), saga(user_id="u2")]
    view = build_view(status(), sagas, {}, writes, BASE, now=1.0)
    assert [row["from_request"] for row in view["sagas"]["recent"]] == [False, False]
    assert view["sagas"]["counts"] == {"completed": 3}
    assert view["chaos"] == {"services": ["identity", "billing", "profile", "access", "saga"],
                             "kill_only": ["broker"]}
    assert view["error"] is None


class Created:
    def on_post(self, req, resp):
        resp.status = falcon.HTTP_201

    def on_get(self, req, resp):
        resp.media = {}


def test_without_a_coordinator_the_sagas_panel_says_why_it_is_empty():
    state = status()
    state["services"] = [s for s in state["services"] if s["name"] != "saga"]
    view = build_view(state, None, {}, None, BASE, now=1.0, sagas_error="ClusterError: no actor 'saga'")
    assert view["sagas"]["error"].startswith("no coordinator in this deployment (choreography)")
    assert "saga" not in [n["id"] for n in view["topology"]["nodes"]]


def test_recent_writes_remember_the_newest_writes_by_request_id():
    ticks = iter(range(100))
    writes = RecentWrites(BASE, capacity=2, clock=lambda: float(next(ticks)))
    app = falcon.App(middleware=[RequestId(), writes])
    app.add_route(f"{BASE}/Users", Created())
    app.add_route("/elsewhere", Created())
    client = testing.TestClient(app)
    for i in range(3):
        client.simulate_post(f"{BASE}/Users", headers={"X-Request-Id": f"r{i}"})
    client.simulate_get(f"{BASE}/Users", headers={"X-Request-Id": "read"})
    client.simulate_post("/elsewhere", headers={"X-Request-Id": "outside"})
    assert writes.get("r0") is None  # the oldest made room
    assert writes.get("read") is None  # reads are not remembered
    assert writes.get("outside") is None  # nor writes outside the SCIM API
    record = writes.get("r2")
    assert record is not None
    assert (record.method, record.code, record.received < record.answered) == ("POST", 201, True)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_view_is_built_once_per_half_second_however_many_browsers_poll():
    operations, clock = FakeOperations(), Clock()
    source = ViewSource(operations, dict, None, BASE, ttl=0.5, clock=clock)
    for _ in range(30):
        source.view()
    assert operations.status_calls == 1
    clock.now += 0.6
    source.view()
    assert operations.status_calls == 2


def test_a_deployment_that_does_not_answer_is_shown_as_an_error_not_a_failure():
    operations = FakeOperations()
    operations.fail_with = TimeoutError("the broker did not answer within 10s")
    view = ViewSource(operations, dict, None, BASE, ttl=0).view()
    assert view["error"] == "TimeoutError: the broker did not answer within 10s"
    assert view["sagas"]["error"].startswith("TimeoutError")
    assert [n["id"] for n in view["topology"]["nodes"]] == ["idp", "frontdoor", "broker"]


def test_while_an_actor_restarts_the_last_status_stays_on_the_page_with_the_error():
    operations = FakeOperations()
    source = ViewSource(operations, dict, None, BASE, ttl=0)
    source.view()
    operations.fail_with = TimeoutError("saga is restarting")
    view = source.view()
    assert view["error"] == "TimeoutError: saga is restarting"
    assert "billing" in [n["id"] for n in view["topology"]["nodes"]]


def test_while_one_request_builds_the_view_the_others_get_the_previous_one_at_once():
    operations, clock = FakeOperations(), Clock()
    source = ViewSource(operations, dict, None, BASE, ttl=0.5, clock=clock)
    first = source.view()
    clock.now += 1
    with source._building:  # another request is building right now
        assert source.view() is first
    assert operations.status_calls == 1
    assert source.view() is not first
    assert operations.status_calls == 2


def test_without_an_operations_port_the_view_says_so():
    view = ViewSource(None, lambda: {f"{BASE}/Users": 2}, None, BASE).view()
    assert "without an operations port" in view["error"]
    assert view["http"]["requests"] == 2
