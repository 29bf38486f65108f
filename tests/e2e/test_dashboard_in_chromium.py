"""The dashboard in a real headless Chromium (Debian's, installed by `make test`), against a real
`scimsaga up`: sign in, watch users being provisioned, switch billing down and up with the page's own
buttons, and see the lag rise and drain. Screenshots are kept in test-artifacts/.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from tests.e2e.conftest import Running
from tests.polling import wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def chromium() -> Iterator[BrowserContext]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it (apt-get)"
    profile = tempfile.mkdtemp(prefix="scimsaga-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True,
            viewport={"width": 1920, "height": 1080})
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(chromium: BrowserContext, server: Running) -> Iterator[Page]:
    page = chromium.new_page()
    elsewhere: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(server.root)
            else elsewhere.append(request.url))
    yield page
    page.close()
    assert elsewhere == [], "the dashboard must not load anything from another origin"


def create_users(server: Running, prefix: str, count: int) -> list[str]:
    ids = []
    for i in range(count):
        created = requests.post(f"{server.url}/Users", headers=server.headers, timeout=30,
                                json={"schemas": [USER_SCHEMA], "userName": f"{prefix}-{i}@example.com"})
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    return ids


def all_active(server: Running, ids: list[str]) -> bool:
    return all(requests.get(f"{server.url}/Users/{user_id}", headers=server.headers, timeout=30)
               .json().get("active") is True for user_id in ids)


def lag_cell(page: Page, subscription: str):
    return page.locator(f'tr[data-sub="{subscription}"] td.lag')


@pytest.mark.timeout(240)
def test_a_trainer_signs_in_and_watches_billing_go_down_and_come_back(page: Page, server: Running):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(f"{server.root}/dashboard")
    expect(page).to_have_url(f"{server.root}/dashboard/login")
    page.fill("#token", "not-the-token")
    page.click("#sign-in")
    expect(page.locator(".error")).to_contain_text("does not open this deployment")
    page.fill("#token", server.token)
    page.click("#sign-in")
    expect(page).to_have_url(f"{server.root}/dashboard")
    for node in ("idp", "frontdoor", "identity", "broker", "billing", "profile", "access", "saga"):
        expect(page.locator(f"#node-{node}")).to_be_visible(timeout=WAIT_MS)

    # Three users provisioned: counters on the arrows move, and each saga gets its waterfall.
    ids = create_users(server, "watched", 3)
    wait_until(lambda: all_active(server, ids), timeout=60, message="the first users active")
    page.wait_for_function(
        "() => Number(document.querySelector('#edge-idp-frontdoor')?.dataset.count) >= 3", timeout=WAIT_MS)
    completed = page.locator('.saga-row[data-status="completed"]')
    expect(completed).to_have_count(3, timeout=WAIT_MS)
    first = completed.first
    expect(first.locator(".seg.request")).to_have_count(1)  # the POST → 201, from the front door
    expect(first.locator(".seg.step")).to_have_count(3)  # profile, access, billing
    expect(first.locator(".mark")).to_contain_text("201")
    expect(page.locator("#edge-bus-billing")).to_have_attribute("data-count", "3", timeout=WAIT_MS)

    # Billing down with the page's own button; users still created; the lag grows.
    page.click('button[data-service="billing"][data-action="down"]')
    expect(page.locator("#node-billing")).to_have_attribute("data-state", "down", timeout=WAIT_MS)
    expect(page.locator('.chaos-row[data-service="billing"] [data-role="state"]')).to_have_text("down")
    waiting = create_users(server, "waiting", 5)
    expect(lag_cell(page, "billing<-billing.commands")).to_have_text("5", timeout=WAIT_MS)
    expect(page.locator("#edge-bus-billing .badge")).to_contain_text("lag 5")
    expect(page.locator('.saga-row[data-status="running"]')).to_have_count(5, timeout=WAIT_MS)
    page.screenshot(path=str(ARTIFACTS / "dashboard-billing-down.png"), full_page=True)

    # Billing back up: the lag drains and every saga completes.
    page.click('button[data-service="billing"][data-action="up"]')
    expect(page.locator("#node-billing")).to_have_attribute("data-state", "up", timeout=WAIT_MS)
    expect(lag_cell(page, "billing<-billing.commands")).to_have_text("0", timeout=WAIT_MS)
    wait_until(lambda: all_active(server, waiting), timeout=60, message="the waiting users active")
    expect(completed).to_have_count(8, timeout=WAIT_MS)
    expect(page.locator("#edge-bus-billing .badge")).to_have_count(0)
    expect(page.locator("#http-total")).not_to_have_text("HTTP 0")
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    # A rejected cost center: the waterfall shows the failure and the undo.
    rejected = requests.post(f"{server.url}/Users", headers=server.headers, timeout=30, json={
        "schemas": [USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": "rejected@example.com",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"costCenter": "XX-1"}})
    assert rejected.status_code == 201
    undone = page.locator('.saga-row[data-status="compensated"]')
    expect(undone).to_have_count(1, timeout=WAIT_MS)
    expect(undone.locator(".seg.failed")).to_have_count(1)
    expect(undone.locator(".seg.compensation")).to_have_count(2)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path=str(ARTIFACTS / "dashboard-1280.png"), full_page=True)
