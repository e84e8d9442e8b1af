"""A private PostgreSQL cluster for a test session: its own data dir, a free loopback port.

Debian keeps the server binaries off PATH (in /usr/lib/postgresql/<version>/bin), and initdb
refuses to run as root, so as root the cluster runs as the `postgres` user through runuser.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_USER = "postgres"
START_ATTEMPTS = 3
START_TIMEOUT_S = 30


def find_postgres_bin() -> Path | None:
    """The directory holding `initdb` and `pg_ctl`: from PATH, else the newest Debian install."""
    on_path = shutil.which("initdb")
    if on_path:
        # Resolve symlinks: pg_ctl finds `postgres` next to its real location.
        directory = Path(on_path).resolve().parent
        if (directory / "pg_ctl").is_file():
            return directory
    for directory in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version, reverse=True):
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    return None


def require_postgres() -> Path:
    """The binaries' directory, or skip the test; under CI=true a missing PostgreSQL fails."""
    directory = find_postgres_bin()
    if directory is not None:
        return directory
    reason = "PostgreSQL server binaries (initdb, pg_ctl) not found; apt-get install postgresql"
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


class PostgresCluster:
    """initdb + pg_ctl start in a temporary directory; `stop()` throws it all away."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir or require_postgres()
        self.port: int | None = None
        self._root: Path | None = None
        # initdb refuses to run as root; tests on CI machines usually are root.
        self._as_postgres = os.geteuid() == 0

    @property
    def root(self) -> Path:
        if self._root is None:
            raise RuntimeError("cluster not started")
        return self._root

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    def start(self) -> PostgresCluster:
        # Under /tmp, not pytest's tmp_path: the postgres user must reach it, and the socket
        # path (-k) must stay under the 107-byte limit of a Unix socket name.
        self._root = Path(tempfile.mkdtemp(prefix="flows-pg-", dir="/tmp"))
        if self._as_postgres:
            user = pwd.getpwnam(PG_USER)
            os.chown(self._root, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data_dir), "-A", "trust", "-U", PG_USER,
                  "-E", "UTF8", "--no-sync")  # fmt: skip
        for attempt in range(1, START_ATTEMPTS + 1):
            port = _free_port()
            try:
                self._pg_ctl_start(port)
            except subprocess.CalledProcessError:
                # Someone took the port between choosing and binding it: pick another.
                if attempt == START_ATTEMPTS:
                    self._discard()
                    raise
                continue
            self.port = port
            return self
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Immediate shutdown (nothing here is worth a checkpoint) and delete everything."""
        if self._root is None:
            return
        if self.port is not None:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop",
                      check=False)  # fmt: skip
            self.port = None
        self._discard()

    def uri(self, dbname: str = "postgres") -> str:
        """The form operators write; psycopg 3 understands `sslmode`."""
        if self.port is None:
            raise RuntimeError("cluster not started")
        return f"postgres://{PG_USER}@127.0.0.1:{self.port}/{dbname}?sslmode=disable"

    def create_database(self, name: str) -> str:
        """Create database `name` and return its URI."""
        import psycopg
        from psycopg import sql

        # CREATE DATABASE cannot run inside a transaction.
        with psycopg.connect(self.uri(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.uri(name)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _pg_ctl_start(self, port: int) -> None:
        # fsync off and friends: a test cluster never needs to survive a power cut.
        options = (
            f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-o", options,
                  "-w", "-t", str(START_TIMEOUT_S), "start")  # fmt: skip

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        command = [str(self.bin_dir / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", PG_USER, "--", *command]
        result = subprocess.run(
            command,
            cwd=self.root,  # a cwd the postgres user can enter (not /root)
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        if check and result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, command, result.stdout, result.stderr + self._log_tail()
            )

    def _log_tail(self) -> str:
        try:
            return "\n" + self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def _discard(self) -> None:
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One cluster per test session (import this fixture into a conftest to use it)."""
    cluster = PostgresCluster(require_postgres()).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def _version(bin_dir: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", bin_dir.parent.name)) or (0,)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
