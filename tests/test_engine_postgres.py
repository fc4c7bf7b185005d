"""The same specs on PostgreSQL (Debian's server, started here on 127.0.0.1) give what DuckDB
gives: every metric at day, week and month grains, breakdowns with comparisons, `check`,
`explain`, `cohorts`, and time zones, on the real Sparkify and Olist datasets. Only the
specs' `engine:` block differs."""

from __future__ import annotations

from typing import Any

import pytest

from engines.parity import EngineParity
from engines.postgres_server import PostgresServer

from northstar import Project
from northstar.errors import DataError

pytestmark = pytest.mark.engines


@pytest.fixture(scope="session")
def engine(postgres_server: PostgresServer) -> dict[str, Any]:
    return {"type": "postgres", "url": postgres_server.url}


class TestPostgres(EngineParity):
    pass


def test_url_credentials_come_from_the_environment(postgres_server: PostgresServer, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from engines.parity import build

    monkeypatch.setenv("NS_TEST_PGUSER", postgres_server.user)
    url = postgres_server.url.replace(f"//{postgres_server.user}@", "//${NS_TEST_PGUSER}:s3cret@")
    project = Project.load(build("sparkify", tmp_path / "a", {"type": "postgres", "url": url}))
    assert project.query("upgrades", grain="month")["upgrades"].sum() > 0  # trust auth ignores the password

    monkeypatch.delenv("NS_TEST_PGUSER")
    with pytest.raises(DataError, match="NS_TEST_PGUSER is not set"):
        Project.load(build("sparkify", tmp_path / "b", {"type": "postgres", "url": url})).engine


def test_a_refused_connection_is_one_line_without_the_password(tmp_path) -> None:  # noqa: ANN001
    from engines.parity import build
    from engines.postgres_server import free_port

    url = f"postgresql://someone:hunter2@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(DataError) as info:
        Project.load(build("sparkify", tmp_path, {"type": "postgres", "url": url})).engine
    message = str(info.value)
    assert "cannot connect to PostgreSQL at 127.0.0.1" in message
    assert "hunter2" not in message and "\n" not in message
