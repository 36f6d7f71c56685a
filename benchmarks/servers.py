"""Private PostgreSQL and Redis servers for `manage.py fault_inject` (docs/reliability.md).

The restart faults stop a real server in the middle of a batch run and start it again. The
servers of a machine are shared (the test suite, other programs), so the harness never stops
those: it starts its own, on free ports of 127.0.0.1, in a temporary directory, and deletes
them afterwards:

- PostgreSQL: `initdb` (trust authentication, role postgres), `pg_ctl start`; a restart is
  `pg_ctl stop -m immediate` (what a crash does: every connection cut, open transactions
  lost, the WAL replayed at the next start), a downtime, then `pg_ctl start`. The cluster
  belongs to the `postgres` system user when the harness runs as root (PostgreSQL refuses
  to run as root).
- Redis: `redis-server` without persistence (as a cache-style broker runs: a restart loses
  every queued message); a restart is `SHUTDOWN NOSAVE`, a downtime, then the same command.

`Servers.describe()` / `Servers.attach()` hand the running servers to the child process that
runs the trials (it must connect to them from its start, so it is a process of its own).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import redis

READY_SECONDS = 30


class ServerFailed(Exception):
    """A private server could not be set up, started or stopped; the message says why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check, *, what: str, seconds: float = READY_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise ServerFailed(f"{what} was not ready within {seconds:.0f} s.")


def postgres_bin() -> Path:
    """The directory of `initdb` and `pg_ctl`: LEDGERLINE_PG_BIN, else the PATH, else the
    newest /usr/lib/postgresql/<version>/bin (Debian keeps them off the PATH)."""
    configured = os.environ.get("LEDGERLINE_PG_BIN")
    if configured:
        return Path(configured)
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not versions:
        raise ServerFailed(
            "The restart faults need PostgreSQL's server programs (initdb, pg_ctl) to start a "
            "server of their own: install them or set LEDGERLINE_PG_BIN to their directory."
        )
    return versions[-1].parent


@dataclass
class PostgresServer:
    directory: str  # holds data/, the log and the socket
    port: int
    bin: str
    user: str  # the system user that owns and runs the cluster

    @property
    def data(self) -> str:
        return str(Path(self.directory) / "data")

    @property
    def log(self) -> str:
        return str(Path(self.directory) / "postgres.log")

    def url(self, database: str = "postgres", application_name: str = "") -> str:
        query = f"?application_name={application_name}" if application_name else ""
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}{query}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(Path(self.bin) / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if check and done.returncode:
            tail = (done.stderr or done.stdout)[-2000:]
            raise ServerFailed(f"{' '.join(args[:2])} failed ({done.returncode}): {tail}")
        return done

    @classmethod
    def create(cls) -> PostgresServer:
        user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        directory = tempfile.mkdtemp(prefix="ledgerline-faults-pg-")
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam(user)
            except KeyError:
                raise ServerFailed(
                    "Running as root, the harness needs a `postgres` system user to own its "
                    "PostgreSQL server (PostgreSQL refuses to run as root)."
                ) from None
            os.chown(directory, entry.pw_uid, entry.pw_gid)
        server = cls(directory=directory, port=free_port(), bin=str(postgres_bin()), user=user)
        server._run(
            "initdb", "-D", server.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-sync",
        )  # fmt: skip
        return server

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c max_connections=100 -c shared_buffers=128MB"
        )
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l", self.log, "-w", "start")
        _wait(self.ready, what="The private PostgreSQL server")

    def ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url(), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def restart(self, downtime: float) -> str:
        """A crash-like stop (immediate mode), `downtime` seconds down, a start (the WAL is
        replayed). Says what it did."""
        pid = self.pid()
        self.stop("immediate")
        time.sleep(downtime)
        self.start()
        return (
            f"PostgreSQL (postmaster {pid}) stopped in immediate mode, down {downtime:g} s, "
            f"started again (postmaster {self.pid()})"
        )

    def pid(self) -> int | None:
        try:
            return int((Path(self.data) / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def destroy(self) -> None:
        with contextlib.suppress(ServerFailed):
            if self.pid():
                self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class RedisServer:
    directory: str
    port: int
    pid: int = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def create(cls) -> RedisServer:
        if not shutil.which("redis-server"):
            raise ServerFailed(
                "The restart faults need `redis-server` to start a Redis of their own: install "
                "it (Debian: apt-get install redis-server)."
            )
        return cls(directory=tempfile.mkdtemp(prefix="ledgerline-faults-redis-"), port=free_port())

    def start(self) -> None:
        log = Path(self.directory) / "redis.log"
        process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.directory,
                "--logfile",
                str(log),
                "--daemonize",
                "no",
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid = process.pid
        _wait(self.ready, what="The private Redis server")

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=2)

    def ready(self) -> bool:
        try:
            with self.client() as c:
                return bool(c.ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        with contextlib.suppress(redis.RedisError), self.client() as c:
            c.shutdown(nosave=True)
        _wait(lambda: not self.ready(), what="The private Redis server's shutdown")
        _reap(self.pid)

    def restart(self, downtime: float) -> str:
        old = self.pid
        self.stop()
        time.sleep(downtime)
        self.start()
        return (
            f"Redis (pid {old}) shut down without saving (every queued message lost), down "
            f"{downtime:g} s, started again (pid {self.pid})"
        )

    def destroy(self) -> None:
        """Stop the server on the port, whichever process (this one or the trials' child,
        after a restart) started it, and delete its directory."""
        if self.ready():
            with contextlib.suppress(ServerFailed):
                self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _reap(pid: int) -> None:
    """Collect an exited child of this process (a server it started), so no zombie stays."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


@dataclass
class Servers:
    """The private PostgreSQL and Redis of one fault_inject invocation."""

    postgres: PostgresServer
    redis: RedisServer
    database: str = "ledgerline_faults"

    ENV = "LEDGERLINE_FAULT_SERVERS"

    @classmethod
    def up(cls) -> Servers:
        postgres = PostgresServer.create()
        redis_server = RedisServer.create()
        servers = cls(postgres=postgres, redis=redis_server)
        try:
            postgres.start()
            postgres.create_database(servers.database)
            redis_server.start()
        except BaseException:
            servers.down()
            raise
        return servers

    def down(self) -> None:
        self.redis.destroy()
        self.postgres.destroy()

    @property
    def database_url(self) -> str:
        return self.postgres.url(self.database)

    def describe(self) -> str:
        return json.dumps(
            {"postgres": asdict(self.postgres), "redis": asdict(self.redis), "db": self.database}
        )

    @classmethod
    def attach(cls) -> Servers | None:
        """The servers the parent process started (LEDGERLINE_FAULT_SERVERS), if any."""
        raw = os.environ.get(cls.ENV)
        if not raw:
            return None
        data = json.loads(raw)
        return cls(
            postgres=PostgresServer(**data["postgres"]),
            redis=RedisServer(**data["redis"]),
            database=data["db"],
        )
