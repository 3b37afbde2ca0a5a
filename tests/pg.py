"""The PostgreSQL of a test run: one fresh database per run (per pytest process), dropped
when that process ends, and a schema in it per test location.

The server is the machine's PostgreSQL 15 on 127.0.0.1:5432 (trust auth, user postgres; set
``CAPGRAPH_TEST_POSTGRES`` to use another). It is never restarted or reconfigured here: other
work shares it. Child processes of a test (spawned) inherit the run's database through the
environment and never drop it.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import secrets
from pathlib import Path
from urllib.parse import quote

import psycopg

from capgraph.storage.postgres_schema import migrate

ADMIN_URL = os.environ.get("CAPGRAPH_TEST_POSTGRES",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
_RUN_DB = "CAPGRAPH_TEST_PG_DATABASE"


def _server_url(database: str, options: str = "") -> str:
    base = ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{database}" + (f"?options={quote(options)}" if options else "")


def run_database() -> str:
    """The name of this run's database, created on first use."""
    name = os.environ.get(_RUN_DB)
    if name:
        return name
    name = f"capgraph_test_{secrets.token_hex(6)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    os.environ[_RUN_DB] = name
    creator = os.getpid()

    def drop() -> None:
        if os.getpid() == creator:
            with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())

    atexit.register(drop)
    return name


def fresh_database() -> tuple[str, str]:
    """A database of its own (name, URL) inside the run's naming scheme, dropped with
    ``drop_database``: for a server that needs a whole database (the migrate command, the
    copy command, several hosts)."""
    name = f"{run_database()}_{secrets.token_hex(3)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    return name, _server_url(name)


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def schema_url(schema: str) -> str:
    """The URL of ``schema`` in the run's database (unmigrated)."""
    return _server_url(run_database(), f"-csearch_path={schema}")


def location_url(where: Path) -> str:
    """The URL of a migrated schema named after ``where``: the same location gives the same
    data, in this process or another."""
    schema = "t_" + hashlib.sha256(str(where).encode()).hexdigest()[:24]
    with psycopg.connect(_server_url(run_database()), autocommit=True) as conn, \
            conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(7)")
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'.encode())
    url = schema_url(schema)
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
    return url
