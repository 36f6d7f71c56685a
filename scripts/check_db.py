"""Stop `make test` early, with a clear message, when PostgreSQL is not reachable."""

import os
import sys

import environ
import psycopg

url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
cfg = environ.Env.db_url_config(url)
if "postgres" not in cfg["ENGINE"]:
    sys.exit(f"The test suite runs on PostgreSQL; DATABASE_URL={url} is not a PostgreSQL URL.")
try:
    psycopg.connect(
        host=cfg.get("HOST") or "127.0.0.1",
        port=cfg.get("PORT") or 5432,
        user=cfg.get("USER") or None,
        password=cfg.get("PASSWORD") or None,
        dbname=cfg.get("NAME") or "postgres",
        connect_timeout=5,
    ).close()
except psycopg.OperationalError as exc:
    sys.exit(
        f"Cannot reach PostgreSQL at {url}:\n  {exc}\n"
        "Start it (e.g. `pg_ctlcluster 15 main start`) or set DATABASE_URL to a server you can use."
    )
