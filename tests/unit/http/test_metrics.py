"""/metrics: the Prometheus text exposition format, parsed back with the reference parser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from falcon import testing
from prometheus_client.parser import text_string_to_metric_families

from scimsaga.cluster import LocalCluster
from scimsaga.http.app import HttpSettings, create_app
from scimsaga.settings import Settings
from tests.unit.http.dashboard_fakes import FakeOperations

TOKEN = "metrics-token"
USER = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@example.com"}


class Ready:
    def ready(self) -> bool:
        return True


@pytest.fixture
def operations() -> FakeOperations:
    return FakeOperations()


@pytest.fixture
def api(tmp_path: Path, operations: FakeOperations) -> Iterator[testing.TestClient]:
    cluster = LocalCluster(Settings(data_dir=tmp_path / "data"))
    app = create_app(cluster.identity(), Ready(), HttpSettings(token=TOKEN), operations)
    yield testing.TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})
    cluster.stop()


def scrape(api: testing.TestClient) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of a scrape, by sample name and labels."""
    response = api.simulate_get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_request_latencies_are_a_histogram_by_method_route_template_and_status(api):
    for name in ("ada", "bob"):
        assert api.simulate_post("/scim/v2/Users", json={**USER, "userName": name}).status_code == 201
    created = api.simulate_post("/scim/v2/Users", json={**USER, "userName": "eve"}).json
    api.simulate_get(f"/scim/v2/Users/{created['id']}")
    api.simulate_get("/scim/v2/Users/nobody")
    samples = scrape(api)
    counts = samples["scimsaga_http_request_duration_seconds_count"]
    route = "/scim/v2/Users/{resource_id}"
    assert counts[(("code", "201"), ("method", "POST"), ("route", "/scim/v2/Users"))] == 3
    assert counts[(("code", "200"), ("method", "GET"), ("route", route))] == 1
    assert counts[(("code", "404"), ("method", "GET"), ("route", route))] == 1
    buckets = samples["scimsaga_http_request_duration_seconds_bucket"]
    post = {dict(labels)["le"]: value for labels, value in buckets.items()
            if dict(labels)["method"] == "POST"}
    assert post["+Inf"] == 3
    assert list(post.values()) == sorted(post.values())  # cumulative


def test_a_request_refused_for_its_token_is_counted_without_a_route(api):
    assert api.simulate_get("/scim/v2/Users", headers={"Authorization": "Bearer wrong"}).status_code == 401
    counts = scrape(api)["scimsaga_http_request_duration_seconds_count"]
    assert counts[(("code", "401"), ("method", "GET"), ("route", "unrouted"))] == 1


def test_bus_lag_and_dead_letters_per_subscription_saga_outcomes_and_processed_counts(api, operations):
    billing = next(s for s in operations.state["subscriptions"] if s["name"] == "billing<-billing.commands")
    billing.update(lag=7, dead_letters=2, oldest_unacked_age_s=1.5)
    operations.state["sagas"] = {"completed": 3, "compensated": 1, "running": 2}
    samples = scrape(api)
    labels = (("subscriber", "billing"), ("subscription", "billing<-billing.commands"),
              ("topic", "billing.commands"))
    assert samples["scimsaga_bus_lag"][labels] == 7
    assert samples["scimsaga_bus_dead_letters"][labels] == 2
    assert samples["scimsaga_bus_delivered_total"][labels] == 3
    assert samples["scimsaga_bus_oldest_unacked_age_seconds"][labels] == 1.5
    assert samples["scimsaga_sagas"] == {(("state", "completed"),): 3, (("state", "compensated"),): 1,
                                         (("state", "running"),): 2}
    assert samples["scimsaga_service_processed_total"][(("service", "billing"),)] == 3
    assert samples["scimsaga_service_down"][(("service", "billing"),)] == 0
    assert samples["scimsaga_operations_up"][()] == 1


def test_a_deployment_that_does_not_answer_leaves_its_figures_out_and_says_so(api, operations):
    operations.fail_with = TimeoutError("broker restarting")
    api.simulate_get("/scim/v2/Users")
    samples = scrape(api)
    assert samples["scimsaga_operations_up"][()] == 0
    assert "scimsaga_bus_lag" not in samples
    assert "scimsaga_http_request_duration_seconds_count" in samples


def test_metrics_need_the_bearer_token(api):
    assert api.simulate_get("/metrics", headers={"Authorization": ""}).status_code == 401


def test_a_scraper_that_asks_for_openmetrics_gets_it(api):
    response = api.simulate_get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")
