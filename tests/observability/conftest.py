from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.observability.pg import PgCluster, PostgresUnavailable, server_bin


@pytest.fixture(scope="session")
def pg_bin() -> Path:
    try:
        return server_bin()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL server cannot be installed here: {exc}")


@pytest.fixture(scope="session")
def pg_cluster(pg_bin: Path) -> Iterator[PgCluster]:
    """One cluster for the test session, stopped and deleted afterwards."""
    cluster = PgCluster(pg_bin).init()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture()
def pg_url(pg_cluster: PgCluster, _db_names: Iterator[str]) -> str:
    """A fresh, empty database in the session cluster."""
    name = next(_db_names)

    async def create() -> None:
        conn = await asyncpg.connect(pg_cluster.url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
    asyncio.run(create())
    return pg_cluster.database_url(name)


@pytest.fixture(scope="session")
def _db_names() -> Iterator[str]:
    return (f"usage_test_{i}" for i in itertools.count(1))


@pytest.fixture()
def own_pg_cluster(pg_bin: Path) -> Iterator[PgCluster]:
    """A cluster of the test's own, for tests that stop and restart the server."""
    cluster = PgCluster(pg_bin).init()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
