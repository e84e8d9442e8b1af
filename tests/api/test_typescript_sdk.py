"""The official TypeScript SDK (`@formance/formance-sdk` 7.x, zod-validated) against `flows serve`.

The SDK is installed once into tests/sdk_ts/node_modules (gitignored) from the committed lock file;
then `node smoke.mjs <url>` drives a full cycle and exits 0 only if every response parsed. Without
node/npm, or when npm cannot install (offline), the tests skip, except under CI=true where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Api
from tests.support.service import FlowsProcess

PROJECT = Path(__file__).resolve().parent.parent / "sdk_ts"
SDK_PACKAGE = PROJECT / "node_modules" / "@formance" / "formance-sdk" / "package.json"
INSTALL_TIMEOUT_S = 600
SMOKE_TIMEOUT_S = 180


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the TypeScript SDK tests must run)")
    pytest.skip(reason)


def _wanted_version() -> str:
    return str(json.loads((PROJECT / "package.json").read_text())["dependencies"]["@formance/formance-sdk"])


def _installed_version() -> str | None:
    if not SDK_PACKAGE.exists():
        return None
    return str(json.loads(SDK_PACKAGE.read_text()).get("version"))


@pytest.fixture(scope="session")
def node_project() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are needed for the TypeScript SDK tests")
    assert node is not None and npm is not None
    if _installed_version() != _wanted_version():
        command = [npm, "ci" if (PROJECT / "package-lock.json").exists() else "install", "--no-audit", "--no-fund"]
        try:
            installed = subprocess.run(
                command, cwd=PROJECT, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            _unavailable(f"`{' '.join(command[1:])}` timed out after {INSTALL_TIMEOUT_S} s")
            raise
        if installed.returncode != 0:
            _unavailable(f"npm could not install the TypeScript SDK:\n{installed.stderr[-2000:]}")
    version = _installed_version()
    assert version is not None and version.startswith("7."), version
    return PROJECT


def _smoke(project: Path, *arguments: str) -> None:
    node = shutil.which("node")
    assert node is not None
    result = subprocess.run(
        [node, "smoke.mjs", *arguments],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "all ok" in result.stdout


def test_typescript_sdk_full_cycle(node_project: Path, sqlite_api: Api) -> None:
    _smoke(node_project, sqlite_api.url)


def test_typescript_sdk_with_client_credentials(node_project: Path, auth_service: FlowsProcess) -> None:
    # A Node process of its own: its token cache is not shared with the Python SDK's.
    _smoke(node_project, auth_service.url, "tester", "tester-secret")
