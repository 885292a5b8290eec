"""One PostgreSQL and one Redis for the scale-out tests, and two fresh processes per test.

The servers are this package's own, not the session's shared ones: these tests stop, restart
and kill things, which must never disturb other tests' databases.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.servers import (
    PostgresServer,
    RedisServer,
    S3Server,
    ServerUnavailable,
    unavailable,
)
from tests.scaleout.cluster import Cluster, Pair, TcpProxy


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    try:
        pg = PostgresServer()
        redis = RedisServer()
    except ServerUnavailable as exc:
        unavailable(str(exc))
        raise  # unreachable: unavailable() skips or fails
    try:
        pg.start()
        redis.start()
    except ServerUnavailable as exc:
        pg.close()
        redis.close()
        unavailable(str(exc))
        raise
    try:
        yield Cluster(pg, redis, tmp_path_factory.mktemp("scaleout"))
    finally:
        pg.close()
        redis.close()


@pytest.fixture
def pair(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[Pair]:
    """Processes A and B on a fresh copy of the migrated database, ready to serve.

    Files on the shared data directory, or with `parametrize("pair", ["s3"], indirect=True)`
    in a real S3-compatible store (SeaweedFS) with a data directory for each process."""
    label = request.node.name.removeprefix("test_")[:20].replace("[", "_").rstrip("]")
    storage: dict[str, str] | None = None
    if getattr(request, "param", "shared-dir") == "s3":
        s3: S3Server = request.getfixturevalue("s3_server")
        bucket = f"scaleout-{label.replace('_', '-').lower()}"
        s3.create_bucket(bucket)
        storage = s3.env(bucket)
    pair = cluster.pair(label, storage=storage)
    try:
        yield pair
    finally:
        pair.close()
        # Servers must start again for the next test, whatever this one did to them.
        cluster.redis.start()
        cluster.pg.start()


@pytest.fixture
def redis_link_of_a(cluster: Cluster) -> Iterator[TcpProxy]:
    """A line between process A and Redis that the test can cut (B's link stays up)."""
    proxy = TcpProxy(cluster.redis.port)
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
def pair_a_via_link(
    cluster: Cluster, redis_link_of_a: TcpProxy, request: pytest.FixtureRequest
) -> Iterator[Pair]:
    """Like `pair`, but A reaches Redis through `redis_link_of_a`."""
    pair = cluster.pair("link", a_redis_url=redis_link_of_a.url)
    try:
        yield pair
    finally:
        pair.close()
