"""/dashboard over falcon.testing: the browser's sign-in, the page and its files, the operator's API.

The identity port is the real identity host of a LocalCluster (no Ray); the operations port is a fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from falcon import testing

from scimsaga.cluster import LocalCluster
from scimsaga.http.app import HttpSettings, create_app
from scimsaga.http.dashboard_auth import COOKIE, Sessions
from scimsaga.settings import Settings
from tests.unit.http.dashboard_fakes import FakeOperations, saga

TOKEN = "workshop-token"
USER = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@example.com"}


class Ready:
    def ready(self) -> bool:
        return True


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    cluster = LocalCluster(Settings(data_dir=tmp_path / "data"))
    yield cluster
    cluster.stop()


@pytest.fixture
def operations() -> FakeOperations:
    return FakeOperations()


@pytest.fixture
def browser(cluster: LocalCluster, operations: FakeOperations) -> testing.TestClient:
    """A client with no token, as a browser arrives."""
    return testing.TestClient(create_app(cluster.identity(), Ready(), HttpSettings(token=TOKEN), operations))


def sign_in(browser: testing.TestClient, token: str = TOKEN) -> testing.Result:
    return browser.simulate_post("/dashboard/login", body=f"token={token}",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})


@pytest.fixture
def session(browser: testing.TestClient) -> dict[str, str]:
    response = sign_in(browser)
    return {COOKIE: response.cookies[COOKIE].value}


def test_the_dashboard_sends_a_browser_without_a_session_to_the_login_form(browser):
    response = browser.simulate_get("/dashboard")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/dashboard/login")
    form = browser.simulate_get("/dashboard/login")
    assert form.status_code == 200
    assert form.headers["Content-Type"].startswith("text/html")
    assert '<form method="post" action="/dashboard/login">' in form.text
    assert "script-src 'self'" in form.headers["Content-Security-Policy"]


def test_a_wrong_token_is_refused_on_the_form_and_sets_no_cookie(browser):
    response = sign_in(browser, "guess")
    assert response.status_code == 401
    assert "does not open this deployment" in response.text
    assert COOKIE not in response.cookies


def test_the_right_token_sets_an_http_only_strict_cookie_that_does_not_hold_the_token(browser):
    response = sign_in(browser)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/dashboard")
    cookie = response.cookies[COOKIE]
    assert cookie.http_only
    assert cookie.same_site == "Strict"
    assert cookie.path == "/dashboard"
    assert TOKEN not in cookie.value


def test_a_signed_in_browser_gets_the_page_its_script_and_stylesheet(browser, session):
    page = browser.simulate_get("/dashboard", cookies=session)
    assert page.status_code == 200
    assert '<script src="/dashboard/static/dashboard.js" defer></script>' in page.text
    assert 'id="topology"' in page.text
    assert "//" not in page.text.replace("<!doctype", "")  # nothing from another origin
    script = browser.simulate_get("/dashboard/static/dashboard.js")
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert "/dashboard/api/view" in script.text
    stylesheet = browser.simulate_get("/dashboard/static/dashboard.css")
    assert stylesheet.headers["Content-Type"].startswith("text/css")
    assert browser.simulate_get("/dashboard/static/secrets.txt").status_code == 401  # not a dashboard file
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert browser.simulate_get("/dashboard/static/secrets.txt", headers=bearer).status_code == 404
    assert browser.simulate_get("/dashboard/login", cookies=session).status_code == 303  # already signed in


def test_a_tampered_or_expired_cookie_is_no_session(browser, session):
    expires, _, signature = session[COOKIE].partition(".")
    forged = f"{int(expires) + 3600}.{signature}"
    assert browser.simulate_get("/dashboard", cookies={COOKIE: forged}).status_code == 303
    stale = Sessions(TOKEN, lifetime=-1).issue()
    assert browser.simulate_get("/dashboard", cookies={COOKIE: stale}).status_code == 303
    other = Sessions("another-token").issue()
    assert browser.simulate_get("/dashboard", cookies={COOKIE: other}).status_code == 303


def test_the_scim_api_stays_bearer_only(browser, session):
    response = browser.simulate_post("/scim/v2/Users", json=USER, cookies=session)
    assert response.status_code == 401
    assert browser.simulate_get("/metrics", cookies=session).status_code == 401


def test_the_view_needs_a_session_or_the_bearer_token(browser, session):
    assert browser.simulate_get("/dashboard/api/view").status_code == 401
    view = browser.simulate_get("/dashboard/api/view", cookies=session)
    assert view.status_code == 200
    assert view.headers["Content-Type"] == "application/json"
    by_bearer = browser.simulate_get("/dashboard/api/view", headers={"Authorization": f"Bearer {TOKEN}"})
    assert by_bearer.status_code == 200
    assert [n["id"] for n in view.json["topology"]["nodes"]][:4] == ["idp", "frontdoor", "identity", "broker"]


def test_the_view_counts_scim_requests_and_times_a_saga_from_its_post(browser, session, operations):
    bearer = {"Authorization": f"Bearer {TOKEN}", "X-Request-Id": "req-ada"}
    created = browser.simulate_post("/scim/v2/Users", json=USER, headers=bearer)
    assert created.status_code == 201
    browser.simulate_get(f"/scim/v2/Users/{created.json['id']}", headers=bearer)
    operations.sagas = [saga(user_id=created.json["id"], correlation_id="req-ada")]
    view = browser.simulate_get("/dashboard/api/view", cookies=session).json
    idp = next(e for e in view["topology"]["edges"] if e["id"] == "idp-frontdoor")
    assert idp["count"] == 2
    [row] = view["sagas"]["recent"]
    assert row["from_request"] is True
    assert row["segments"][0]["label"] == "POST → 201"


def test_a_chaos_switch_reaches_the_operations_port(browser, session, operations):
    response = browser.simulate_post("/dashboard/api/chaos", json={"service": "billing", "down": True},
                                     cookies=session)
    assert response.status_code == 200, response.text
    assert response.json == {"service": "billing",
                             "faults": {"down": True, "latency_ms": 0, "fail_rate": 0.0}}
    up = {"service": "billing", "down": False, "latency_ms": 0, "fail_rate": 0}
    back_up = browser.simulate_post("/dashboard/api/chaos", json=up, cookies=session)
    assert back_up.json["faults"]["down"] is False
    killed = browser.simulate_post("/dashboard/api/chaos", json={"service": "broker", "kill": True},
                                   cookies=session)
    assert killed.json == {"service": "broker", "killed": True}
    assert operations.killed == ["broker"]


@pytest.mark.parametrize(("body", "status"), [
    ({"service": "nobody", "down": True}, 404),
    ({"service": "broker", "down": True}, 404),
    ({"service": "billing", "latency_ms": -1}, 400),
    ({"service": "billing", "fail_rate": 2}, 400),
    ({"service": "billing", "down": "yes"}, 400),
    ({"service": "billing", "explode": True}, 400),
    ({"service": "billing", "kill": True, "down": True}, 400),
    ({"down": True}, 400),
    (["billing"], 400),
])
def test_a_bad_chaos_request_is_a_scim_error_and_switches_nothing(browser, session, operations, body, status):
    response = browser.simulate_post("/dashboard/api/chaos", json=body, cookies=session)
    assert response.status_code == status, response.text
    assert response.json["status"] == str(status)
    assert operations.faults == {}
    assert operations.killed == []


def test_chaos_refuses_a_cross_site_form_and_a_foreign_origin(browser, session, operations):
    form = browser.simulate_post("/dashboard/api/chaos", body="service=billing&down=true", cookies=session,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415
    foreign = browser.simulate_post("/dashboard/api/chaos", json={"service": "billing", "down": True},
                                    cookies=session, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    same = browser.simulate_post("/dashboard/api/chaos", json={"service": "billing", "down": True},
                                 cookies=session, headers={"Origin": "http://falconframework.org"})
    assert same.status_code == 200
    assert operations.faults["billing"]["down"] is True


def test_the_operators_api_passes_status_and_sagas_through(browser, operations):
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    operations.sagas = [saga(user_id=f"u{i}") for i in range(5)]
    assert browser.simulate_get("/dashboard/api/status", headers=bearer).json == operations.state
    assert len(browser.simulate_get("/dashboard/api/sagas", params={"limit": "2"}, headers=bearer).json) == 2
    refused = browser.simulate_get("/dashboard/api/sagas", params={"limit": "0"}, headers=bearer)
    assert refused.status_code == 400


def test_a_deployment_that_does_not_answer_is_a_503_for_the_api_and_a_banner_for_the_page(
        browser, session, operations):
    operations.fail_with = TimeoutError("the saga actor is restarting")
    response = browser.simulate_get("/dashboard/api/status", cookies=session)
    assert response.status_code == 503
    assert "restarting" in response.json["detail"]
    assert "Traceback" not in response.text
    assert "restarting" in browser.simulate_get("/dashboard/api/view", cookies=session).json["error"]


def test_without_an_operations_port_the_api_says_so(cluster):
    client = testing.TestClient(create_app(cluster.identity(), Ready(), HttpSettings(token=TOKEN)))
    response = client.simulate_get("/dashboard/api/status", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 503
    assert "without an operations port" in response.json["detail"]


def test_signing_out_clears_the_cookie(browser, session):
    response = browser.simulate_post("/dashboard/logout", cookies=session)
    assert response.status_code == 303
    assert response.cookies[COOKIE].value == ""
