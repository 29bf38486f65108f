"""Fixtures every tier shares. One Ray session for the whole run, started only when a test needs it."""

from __future__ import annotations

from scimsaga.settings import keep_ray_on_loopback

keep_ray_on_loopback()  # before anything imports Ray: the test cluster listens on 127.0.0.1 only

import logging  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402

from tests.polling import wait_until  # noqa: E402,F401  (re-exported for tests)


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """The shared Ray session (2 CPUs): integration tests use it directly, e2e runs join it."""
    import ray

    ray.init(address="local", num_cpus=2, namespace="scimsaga-tests", include_dashboard=False,
             log_to_driver=False, logging_level=logging.ERROR, object_store_memory=256 * 1024 * 1024)
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        ray.shutdown()


@pytest.fixture
def namespace() -> str:
    """A Ray namespace of its own, so deployments of different tests never share actor names."""
    return f"t-{uuid.uuid4().hex[:10]}"
