"""The client commands against a `flows serve --auth-clients …`: OAuth2 client credentials from
the flags, the environment or a file; a client's scopes decide what it may do."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.helpers import FLOWS, Cli, assert_one_line_failure, serve
from tests.support.service import FlowsProcess

CLIENTS = "operator:operator-s3cret,viewer:viewer-s3cret:orchestration:read"
NOOP = '{"stages": [{"noop": {}}]}'


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowsProcess]:
    yield from serve(tmp_path_factory, "client-auth", "--auth-clients", CLIENTS)


@pytest.fixture(scope="module")
def cli(service: FlowsProcess) -> Cli:
    return Cli(service.url)


def test_without_credentials_a_call_is_refused_in_one_line(cli: Cli) -> None:
    assert_one_line_failure(cli("workflows", "list"), "missing bearer token")


def test_client_credentials_on_the_command_line_get_a_token(cli: Cli) -> None:
    credentials = ["--client-id", "operator", "--client-secret", "operator-s3cret"]
    created = cli.json("workflows", "create", "-", *credentials, input=NOOP)
    assert created in cli.json("workflows", "list", *credentials)


def test_the_secret_comes_from_a_file_named_in_the_environment(service: FlowsProcess, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("operator-s3cret\n")
    environment = {**os.environ, "FLOWS_SERVER": service.url, "FLOWS_CLIENT_ID": "operator", "FLOWS_CLIENT_SECRET_FILE": str(secret)}
    environment.pop("FLOWS_CLIENT_SECRET", None)
    result = subprocess.run([*FLOWS, "workflows", "create", "-"], input=NOOP, capture_output=True, text=True, timeout=30, env=environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Created workflow ")


def test_a_read_only_client_lists_but_cannot_create(cli: Cli) -> None:
    viewer = {"FLOWS_CLIENT_ID": "viewer", "FLOWS_CLIENT_SECRET": "viewer-s3cret"}
    assert isinstance(cli.json("workflows", "list", env=viewer), list)
    result = cli("workflows", "create", "-", input=NOOP, env=viewer)
    assert_one_line_failure(result, "insufficient scope: this request needs orchestration:write")


def test_a_wrong_secret_is_one_line(cli: Cli) -> None:
    result = cli("workflows", "list", "--client-id", "operator", "--client-secret", "wrong")
    assert_one_line_failure(result, "cannot get a token for client 'operator': unknown client or wrong client secret")
    assert "wrong" not in result.stderr.replace("wrong client secret", "")


@pytest.mark.parametrize(
    "credentials",
    [
        ["--client-id", "operator"],
        ["--client-secret", "operator-s3cret"],
        ["--client-id", "operator", "--client-secret-file", "/no/such/file"],
    ],
)
def test_incomplete_credentials_are_a_usage_mistake(cli: Cli, credentials: list[str]) -> None:
    result = cli("workflows", "list", *credentials)
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1, result.stderr
