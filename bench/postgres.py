"""A throwaway PostgreSQL for the growth figures: initdb in a temporary directory, a free
loopback port, stopped and deleted at exit. Debian keeps the binaries in
/usr/lib/postgresql/<version>/bin, and initdb refuses root: as root it runs as `postgres`.

Unlike a test cluster it keeps fsync on: the figures are of a database as operators run it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import free_port

USER = "postgres"


def binaries() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda path: int(path.parts[-3]))
    if not candidates:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    return candidates[-1].parent


@contextmanager
def postgres() -> Iterator[str]:
    """A running cluster's URI, as `--postgres-uri` takes it."""
    bin_dir = binaries()
    root = Path(tempfile.mkdtemp(prefix="flows-bench-pg-", dir="/tmp"))
    as_postgres = os.geteuid() == 0
    if as_postgres:
        user = pwd.getpwnam(USER)
        os.chown(root, user.pw_uid, user.pw_gid)

    def run(tool: str, *arguments: str) -> None:
        command = [str(bin_dir / tool), *arguments]
        if as_postgres:
            command = ["runuser", "-u", USER, "--", *command]
        subprocess.run(command, cwd=root, check=True, capture_output=True)

    port = free_port()
    try:
        run("initdb", "-D", str(root / "data"), "-A", "trust", "-U", USER, "-E", "UTF8")
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
        run("pg_ctl", "-D", str(root / "data"), "-l", str(root / "log"), "-o", options, "-w", "start")
        try:
            yield f"postgres://{USER}@127.0.0.1:{port}/postgres?sslmode=disable"
        finally:
            run("pg_ctl", "-D", str(root / "data"), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
