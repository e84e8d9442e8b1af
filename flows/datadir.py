"""The data directory: where a single-machine Flows keeps its state.

It holds the SQLite database, the embedded Temporal's database, log, pidfile and address,
and the generated token-signing key: it and everything in it are private to the user running
Flows (0700 and 0600, tightened at every start). Only one `flows serve` may use a directory at a time:
two of them would each start a Temporal on the same SQLite file and corrupt it, so the
directory is locked for the lifetime of the process that opened it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

from flows.errors import FlowsError

logger = logging.getLogger("flows")

LOCK_FILE = "flows.lock"
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


class DataDirLocked(FlowsError):
    """Another process holds the data directory's lock."""


class DataDirNotOurs(FlowsError):
    """The data directory, or something in it, belongs to another user."""


class DataDirUnusable(FlowsError):
    """The data directory cannot be created, made private or locked (a file, no permission)."""


def default_data_dir() -> Path:
    """`$XDG_DATA_HOME/flows`, else `~/.local/share/flows` (the XDG default)."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    # The XDG spec says a relative value is invalid and must be ignored.
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "flows"
    return Path.home() / ".local" / "share" / "flows"


class DataDir:
    """An opened, locked data directory. Use `open_data_dir` to get one."""

    def __init__(self, path: Path, lock_fd: int | None) -> None:
        self.path = path
        self._lock_fd: int | None = lock_fd

    @classmethod
    def unlocked(cls, path: Path) -> DataDir:
        """The data dir of a `flows serve` on this host, for a worker or `migrate` beside it."""
        return cls(path, None)

    @property
    def database_path(self) -> Path:
        return self.path / "flows.db"

    @property
    def temporal_db_path(self) -> Path:
        return self.path / "temporal.db"

    @property
    def temporal_log_path(self) -> Path:
        return self.path / "temporal.log"

    @property
    def temporal_pid_path(self) -> Path:
        return self.path / "temporal.pid"

    @property
    def temporal_address_path(self) -> Path:
        return self.path / "temporal.address"

    @property
    def sandbox_url_path(self) -> Path:
        """Where `flows serve` says its sandbox stack listens, for a `flows worker` beside it."""
        return self.path / "sandbox.url"

    @property
    def signing_key_path(self) -> Path:
        return self.path / "auth.key"

    @property
    def issuer_key_path(self) -> Path:
        """The built-in issuer's RSA key pair (PEM), which signs its tokens."""
        return self.path / "auth-issuer.pem"

    @property
    def locked(self) -> bool:
        return self._lock_fd is not None

    def close(self) -> None:
        """Release the lock. Idempotent."""
        if self._lock_fd is None:
            return
        fd, self._lock_fd = self._lock_fd, None
        # Closing the descriptor drops the flock; unlocking first makes the release explicit.
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DataDir({str(self.path)!r}, locked={self.locked})"


def open_data_dir(path: Path | str) -> DataDir:
    """Create `path` (mode 0700) if needed, make it and its files private, take its lock.

    Raises `DataDirLocked` if another process (or another `DataDir` in this process) holds it,
    `DataDirNotOurs` if it belongs to another user, `DataDirUnusable` if it cannot be used.
    """
    directory = Path(path).expanduser().absolute()
    with _unusable(directory):
        _ensure_private_dir(directory)
        lock_fd = _acquire_lock(directory)
    return DataDir(directory, lock_fd)


def prepare_data_dir(path: Path | str) -> DataDir:
    """`open_data_dir` without the lock: for `flows migrate`, which may run beside a `flows serve`."""
    directory = Path(path).expanduser().absolute()
    with _unusable(directory):
        _ensure_private_dir(directory)
    return DataDir.unlocked(directory)


@contextlib.contextmanager
def _unusable(directory: Path) -> Iterator[None]:
    try:
        yield
    except OSError as error:
        reason = error.strerror or str(error)
        where = f" ({error.filename})" if error.filename and str(error.filename) != str(directory) else ""
        raise DataDirUnusable(f"cannot use --data-dir {directory}: {reason}{where}") from error


def _ensure_private_dir(directory: Path) -> None:
    # It holds a signing key and the whole state: nobody else may read it, whatever mode an
    # existing directory was given (a mkdir with the default umask makes it world-readable).
    if not directory.is_dir():
        directory.parent.mkdir(parents=True, exist_ok=True)
        try:
            directory.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            if not directory.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(directory)) from None
    tightened = _make_private(directory)
    if tightened:
        logger.warning(
            "tightened permissions in %s (others could read them): %s",
            directory,
            ", ".join(tightened),
        )


def _make_private(directory: Path) -> list[str]:
    """Directories 0700 and files 0600 (the top directory included); what had to change.

    Symbolic links are left alone: their target is not ours to change.
    """
    tightened = []
    for path, is_dir in _entries(directory):
        status = path.lstat()
        if status.st_uid != os.geteuid():
            raise DataDirNotOurs(f"{path} belongs to another user (uid {status.st_uid}); pass a --data-dir of your own")
        wanted = PRIVATE_DIR if is_dir else PRIVATE_FILE
        mode = stat.S_IMODE(status.st_mode)
        if mode & ~wanted:
            path.chmod(mode & wanted)
            tightened.append(f"{path.relative_to(directory.parent)} {mode:04o} → {mode & wanted:04o}")
    return tightened


def _entries(directory: Path) -> list[tuple[Path, bool]]:
    """The directory, its subdirectories and regular files (no symbolic links)."""
    found = [(directory, True)]
    for root, dirs, files in os.walk(directory):
        for name in dirs:
            if not os.path.islink(os.path.join(root, name)):
                found.append((Path(root, name), True))
        for name in files:
            path = Path(root, name)
            if path.is_file() and not path.is_symlink():
                found.append((path, False))
    return found


def _acquire_lock(directory: Path) -> int:
    lock_path = directory / LOCK_FILE
    # Python opens descriptors non-inheritable, so child processes (the Temporal server)
    # never carry the lock past our own death.
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(fd)
        os.close(fd)
        suffix = f" (pid {holder})" if holder else ""
        raise DataDirLocked(f"another flows serve is using {directory}{suffix}; stop it or pass a different --data-dir") from None
    except BaseException:
        os.close(fd)
        raise
    _write_holder(fd)
    return fd


def _write_holder(fd: int) -> None:
    # The pid is only a hint for the error message of whoever finds the lock taken.
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    except OSError:
        return ""
    return text if text.isdigit() else ""
