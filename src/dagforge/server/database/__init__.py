"""The platform's database: registries, run journal, leases and schedules.

``--database-url`` is ``sqlite:///path`` (the embedded default, ``<data-dir>/dagforge.sqlite3``)
or ``postgresql://user:password@host:port/db`` (driven by psycopg 3). The schema is made
by the alembic migrations shipped in this package: ``dagforge db upgrade`` creates or
migrates it, and :func:`open_database` refuses a database whose schema is missing or
older than this release, with a message saying what to run. The embedded default
upgrades itself (``create=True``), as the server always created its own SQLite file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dagforge.errors import RegistryError
from dagforge.server.database.journal import SqlDatabase, StorageFault

__all__ = [
    "SchemaError",
    "SqlDatabase",
    "StorageFault",
    "current_revision",
    "head_revision",
    "open_database",
    "sqlite_url",
    "upgrade",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class SchemaError(RegistryError):
    """The database has no dagforge schema, or an older one: run ``dagforge db upgrade``."""


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path)}"


def _driver_url(url: str) -> str:
    """The SQLAlchemy URL for a user's URL (psycopg 3 for PostgreSQL)."""
    if not isinstance(url, str) or "://" not in url:
        raise RegistryError(
            f"--database-url {url!r} is not a URL; use sqlite:///path or postgresql://host/db"
        )
    scheme, rest = url.split("://", 1)
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        return "postgresql+psycopg://" + rest
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise RegistryError(
                f"--database-url {redact(url)!r}: a SQLite URL is sqlite:///relative/path or "
                "sqlite:////absolute/path"
            )
        return url
    raise RegistryError(
        f"--database-url {redact(url)!r}: unsupported scheme {scheme!r}; "
        "use sqlite:///path or postgresql://user@host:port/db"
    )


def redact(url: str) -> str:
    """``url`` without its password (safe for messages and logs)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _engine(url: str, pool_size: int) -> Any:
    from sqlalchemy import create_engine, event

    driver = _driver_url(url)
    if driver.startswith("sqlite"):
        path = driver[len("sqlite:///") :]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(driver, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # take the write lock up front: a reader that later writes can never deadlock
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(
        driver,
        pool_size=pool_size,
        max_overflow=2 * pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(None)
    return ScriptDirectory.from_config(cfg).get_current_head() or ""


def current_revision(engine: Any) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: str) -> tuple[str | None, str]:
    """Create or migrate the schema at ``url`` to this release's; (before, after) revisions."""
    from alembic import command
    from sqlalchemy.exc import SQLAlchemyError

    engine = _engine(url, 1)
    try:
        before = current_revision(engine)
        with engine.begin() as conn:
            command.upgrade(_alembic_config(conn), "head")
        return before, head_revision()
    except SQLAlchemyError as exc:
        raise StorageFault(f"cannot migrate {redact(url)}: {exc}") from exc
    finally:
        engine.dispose()


def open_database(url: str, *, create: bool = False, pool_size: int = 10) -> SqlDatabase:
    """Connect to ``url`` and check its schema is this release's.

    ``create=True`` (the embedded SQLite default) migrates instead of refusing.
    """
    from sqlalchemy.exc import SQLAlchemyError

    if create:
        upgrade(url)
    engine = _engine(url, pool_size)
    try:
        have = current_revision(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StorageFault(f"cannot open the database {redact(url)}: {exc}") from exc
    head = head_revision()
    if have != head:
        engine.dispose()
        state = "has no dagforge schema" if have is None else f"is at schema revision {have!r}"
        raise SchemaError(
            f"the database {redact(url)} {state}, but this dagforge needs revision {head!r}; "
            f"run `dagforge db upgrade --database-url {redact(url)}` first"
        )
    return SqlDatabase(engine, redact(url))


def default_url(data_dir: str | Path) -> str:
    return sqlite_url(Path(data_dir) / "dagforge.sqlite3")


def env_url() -> str | None:
    return os.environ.get("DAGFORGE_DATABASE_URL") or None
