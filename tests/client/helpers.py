"""Driving the `flows` client commands in tests: in the test's process with Click's CliRunner
(fast), or as a real `python -m flows` process where what a person sees end to end matters."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from flows.cli import flows
from tests.support.service import FlowsProcess, serving

FLOWS = [sys.executable, "-m", "flows"]

# The caller's own settings must not reach the commands under test, nor its terminal's size
# (pytest-xdist's workers set COLUMNS=80): output piped elsewhere is as wide as its lines.
_CLEAN = {
    "FLOWS_SERVER": None, "FLOWS_CLIENT_ID": None, "FLOWS_CLIENT_SECRET": None, "FLOWS_CLIENT_SECRET_FILE": None,
    "COLUMNS": None, "LINES": None,
}  # fmt: skip


@dataclass
class Cli:
    """`flows …` against one server."""

    server: str

    def __call__(self, *arguments: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        runner = CliRunner(env={**_CLEAN, **(env or {})})
        return runner.invoke(flows, [*arguments, "--server", self.server], input=input, catch_exceptions=False)

    def ok(self, *arguments: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
        """The command's stdout; it must have succeeded."""
        result = self(*arguments, input=input, env=env)
        assert result.exit_code == 0, result.stderr or result.stdout
        return result.stdout

    def json(self, *arguments: str, input: str | None = None, env: dict[str, str] | None = None) -> Any:
        """The command's `--output json`, parsed."""
        return json.loads(self.ok(*arguments, "--output", "json", input=input, env=env))

    def popen(self, *arguments: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """The command as a real process, its output piped (so not a terminal)."""
        command = [*FLOWS, *arguments, "--server", self.server]
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def assert_one_line_failure(result: Result | subprocess.CompletedProcess[str], message: str, exit_code: int = 1) -> None:
    code = result.exit_code if isinstance(result, Result) else result.returncode
    assert code == exit_code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"flows: {message}"), result.stderr
    assert result.stdout == ""


def serve(tmp_path_factory: pytest.TempPathFactory, name: str, *flags: str) -> Iterator[FlowsProcess]:
    yield from serving(FlowsProcess(Path(tmp_path_factory.mktemp(name)) / "data", *flags))
