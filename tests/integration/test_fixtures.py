"""The real-server fixtures start real servers: PostgreSQL and moto's S3 over HTTP."""

from __future__ import annotations

import uuid

import pytest
import s3fs
import sqlalchemy as sa

from tests.fixtures.plugin import PgServer, S3Bucket


def _current_database(url: str) -> tuple[str, str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text("select current_database(), version()")).one()
            return str(row[0]), str(row[1])
    finally:
        engine.dispose()


def test_pg_server_is_real_postgres(pg_server: PgServer) -> None:
    assert pg_server.host == "127.0.0.1"
    assert pg_server.url("x") == f"postgresql+psycopg://postgres@127.0.0.1:{pg_server.port}/x"
    engine = sa.create_engine(pg_server.url("postgres"))
    try:
        with engine.connect() as conn:
            version = conn.execute(sa.text("select version()")).scalar_one()
    finally:
        engine.dispose()
    assert version.startswith("PostgreSQL ")


def test_pg_database_url_is_a_fresh_database(pg_database_url: str) -> None:
    engine = sa.create_engine(pg_database_url)
    try:
        with engine.begin() as conn:
            tables = conn.execute(
                sa.text("select count(*) from pg_tables where schemaname = 'public'")
            ).scalar_one()
            assert tables == 0
            conn.execute(sa.text("create table t (id int primary key, name text)"))
            conn.execute(sa.text("insert into t values (1, 'héllo')"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("select name from t")).scalar_one() == "héllo"
    finally:
        engine.dispose()
    dbname, version = _current_database(pg_database_url)
    assert pg_database_url.endswith("/" + dbname)
    assert version.startswith("PostgreSQL ")


_seen_databases: list[str] = []


@pytest.mark.parametrize("use", [1, 2])
def test_pg_database_url_differs_between_uses(pg_database_url: str, use: int) -> None:
    dbname, _ = _current_database(pg_database_url)
    engine = sa.create_engine(pg_database_url)
    try:
        with engine.begin() as conn:
            # Fresh every time: the table the first use created is not here.
            conn.execute(sa.text("create table marker (use int)"))
    finally:
        engine.dispose()
    assert dbname not in _seen_databases
    _seen_databases.append(dbname)
    if use == 2:
        assert len(_seen_databases) == 2


def test_pg_database_url_is_dropped_afterwards(pg_server: PgServer) -> None:
    # The databases of earlier tests are gone; only the cluster's own remain.
    with pg_server.connect() as conn:
        names = {row[0] for row in conn.execute("select datname from pg_database")}
    assert not any(name.startswith("relayml_test_") for name in names), names
    assert {"postgres", "template0", "template1"} <= names


def test_s3_bucket_round_trip(s3_bucket: S3Bucket) -> None:
    assert s3_bucket.url == f"s3://{s3_bucket.name}/artifacts"
    assert s3_bucket.storage_options == {
        "endpoint_url": s3_bucket.endpoint_url,
        "key": "testing",
        "secret": "testing",
    }
    assert s3_bucket.endpoint_url.startswith("http://127.0.0.1:")
    fs = s3fs.S3FileSystem(**s3_bucket.storage_options)
    path = f"{s3_bucket.url}/run-{uuid.uuid4().hex[:8]}/model.bin"
    payload = b"\x00relayml\xff" * 1000
    with fs.open(path, "wb") as f:
        f.write(payload)
    with fs.open(path, "rb") as f:
        assert f.read() == payload
    listing = fs.ls(s3_bucket.url.removeprefix("s3://"), detail=False, refresh=True)
    assert len(listing) == 1
    assert fs.find(s3_bucket.url) == [path.removeprefix("s3://")]
    assert fs.size(path) == len(payload)


def test_s3_buckets_are_fresh(s3_bucket: S3Bucket) -> None:
    fs = s3fs.S3FileSystem(**s3_bucket.storage_options)
    assert fs.find(s3_bucket.url) == []
