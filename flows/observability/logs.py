"""Logs a person can read, or a machine: one handler on stderr, text or one JSON object a line.

Flows' own loggers (`flows.*`) log at INFO, or DEBUG with `--debug`; the libraries' (SQLAlchemy,
aiosqlite, httpx, Temporal's SDK, NATS…) stay at WARNING unless `--debug-libraries`, since their
debug lines bury ours. uvicorn's startup lines stay; its access log is on with `--debug`.

The fields a line is about (`instance_id`, `workflow_id`, `stage`, `activity`, `attempt`…) are
passed as `extra` and become keys of the JSON object; the text line says them in its message.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

FIELDS = ("instance_id", "workflow_id", "stage", "stage_type", "outcome", "activity", "attempt", "next_attempt_in", "error")
"""`extra` keys a JSON line carries when a log call gives them."""

QUIET_UNLESS_ASKED = ("aiosqlite", "sqlalchemy", "httpx", "httpcore", "temporalio", "nats", "asyncio", "alembic", "grpc", "opentelemetry")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the known fields, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                line[field] = value
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class _TemporalActivityFailures(logging.Filter):
    """Temporal's SDK logs every failed activity attempt with its traceback; the worker's
    interceptor (flows.observability.activities) logs each attempt itself, in one line, with a
    traceback only for a bug, so the SDK's record is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "__temporal_error_identifier", None) != "ActivityFailure"


def configure_logging(*, debug: bool, debug_libraries: bool, json_lines: bool) -> None:
    """Replace whatever logging was set up with Flows' handler and levels."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(_TemporalActivityFailures())
    root = logging.getLogger()
    for previous in root.handlers[:]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug_libraries else logging.WARNING)
    for name in QUIET_UNLESS_ASKED:
        logging.getLogger(name).setLevel(logging.NOTSET if debug_libraries else logging.WARNING)
    logging.getLogger("flows").setLevel(logging.DEBUG if debug or debug_libraries else logging.INFO)
    # uvicorn's own handlers would print a second, differently formatted copy.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn").setLevel(logging.INFO)
    logging.getLogger("uvicorn.access").setLevel(logging.INFO if debug else logging.WARNING)
