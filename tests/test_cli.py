"""The `flows` command: version, migrate, a worker apart from the API, flags that fail loudly."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from flows.cli import server_command, settings_from
from flows.settings import Settings, commands_of, flag_name
from tests.support.polling import eventually
from tests.support.service import FlowsProcess, free_port

FLOWS = [sys.executable, "-m", "flows.cli"]


def flows(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FLOWS, *arguments], capture_output=True, text=True, timeout=60, env=env)


def settings_of(command: str, arguments: list[str]) -> Settings:
    """The settings `flows <command> <arguments>` would start with."""
    return settings_from(server_command(command).make_context(command, arguments).params)


def test_version_prints_the_version() -> None:
    result = flows("version")
    assert result.returncode == 0
    assert result.stdout.startswith("Version: ")


def test_migrate_creates_the_schema_in_the_data_dir(tmp_path: Path) -> None:
    result = flows("migrate", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "flows.db").exists()


@pytest.mark.parametrize(
    "flag",
    [
        ["--postgres-aws-enable-iam"],
    ],
)
def test_unsupported_flags_refuse_to_start(tmp_path: Path, flag: list[str]) -> None:
    result = flows("serve", "--data-dir", str(tmp_path), "--listen", "127.0.0.1:0", *flag)
    assert result.returncode == 2
    assert "not supported" in result.stderr


# Flags of each command as README's Configuration table and the reference name them (among others).
_DATABASE_FLAGS = ["--data-dir", "--postgres-uri", "--postgres-aws-enable-iam"]
_ENGINE_FLAGS = [
    "--temporal-address", "--temporal-namespace", "--temporal-task-queue", "--temporal-ssl-client-cert",
    "--temporal-ssl-client-key", "--temporal-encryption-enabled", "--stack", "--stack-url",
    "--stack-client-id", "--stack-client-secret", "--stack-client-secret-file", "--topics", "--nats-url",
    "--publisher-nats-url", "--publisher-nats-enabled", "--publisher-topic-mapping", "--debug",
]  # fmt: skip
_SERVE_FLAGS = [
    "--listen", "--worker", "--auth-clients", "--auth-clients-file", "--auth-signing-key",
    "--auth-signing-key-file", "--auth-enabled", "--wait-timeout", "--sandbox-test-hooks",
]  # fmt: skip
FLAGS_OF = {
    "serve": _SERVE_FLAGS + _DATABASE_FLAGS + _ENGINE_FLAGS,
    "worker": _DATABASE_FLAGS + _ENGINE_FLAGS,
    "migrate": _DATABASE_FLAGS,
}


@pytest.mark.parametrize("command", sorted(FLAGS_OF))
def test_help_lists_every_flag_with_its_environment_variable(command: str) -> None:
    result = flows(command, "--help")
    assert result.returncode == 0, result.stderr
    listed = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]", result.stdout)) - {"--help"}
    settings = {flag_name(name) for name, field in Settings.model_fields.items() if command in commands_of(field)}
    assert listed == settings, "the help lists exactly the settings the command takes"
    assert set(FLAGS_OF[command]) <= listed
    for flag in listed:
        assert f"[env: {flag[2:].replace('-', '_').upper()}]" in result.stdout, flag
    assert "(default: 127.0.0.1:8080)" in result.stdout or command != "serve"


@pytest.mark.parametrize(
    ("arguments", "worker"),
    [([], True), (["--worker"], True), (["--worker=false"], False), (["--worker", "false"], False),
     (["--worker", "true"], True), (["--worker=0"], False)],
)  # fmt: skip
def test_a_boolean_flag_takes_its_value_attached_apart_or_none(arguments: list[str], worker: bool) -> None:
    arguments = [*arguments, "--listen", "127.0.0.1:0"]  # a flag after the boolean is not its value
    assert settings_of("serve", arguments).worker is worker


def test_a_flag_left_out_reads_its_environment_variable_and_a_given_one_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WAIT_TIMEOUT", "7")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "from-env")
    settings = settings_of("serve", ["--temporal-namespace", "given"])
    assert settings.wait_timeout == 7
    assert settings.temporal_namespace == "given"


# (command, flags, what the one line says): each is refused before anything starts.
MISTAKES = [
    ("serve", ["--listen", "127.0.0.1:notaport"], "--listen '127.0.0.1:notaport': must be host:port"),
    ("serve", ["--listen", "127.0.0.1:70000"], "--listen '127.0.0.1:70000': must be host:port"),
    ("serve", ["--worker=flase"], "--worker 'flase': must be true or false"),
    ("serve", ["--worker", "flase"], "--worker 'flase': must be true or false"),
    ("serve", ["--wait-timeout", "-1"], "--wait-timeout '-1': must be greater than 0"),
    ("serve", ["--wait-timeout", "abc"], "--wait-timeout 'abc': must be a number"),
    ("serve", ["--wait-timeout", "nan"], "--wait-timeout 'nan': must be a finite number"),
    ("serve", ["--auth-clients", "no-secret"], "--auth-clients entry 1: expected id:secret"),
    ("serve", ["--auth-signing-key", "short"], "--auth-signing-key must be at least 32 bytes"),
    ("serve", ["--postgres-uri", "mysql://user:pw@host/db"], "--postgres-uri: must be a postgres:// URI"),
    ("worker", ["--debug=maybe"], "--debug 'maybe': must be true or false"),
    ("migrate", ["--postgres-aws-enable-iam"], "--postgres-aws-enable-iam is not supported"),
]


@pytest.mark.parametrize(("command", "flags", "message"), MISTAKES)
def test_a_bad_value_is_one_line_and_exit_status_2_before_anything_starts(
    tmp_path: Path, command: str, flags: list[str], message: str
) -> None:
    data_dir = tmp_path / "data"
    result = flows(command, "--data-dir", str(data_dir), *flags)
    _assert_refused_in_one_line(result, message)
    assert not data_dir.exists(), "nothing was started"
    assert "pw" not in result.stderr, "a URI's password is never quoted"


def test_a_bad_environment_variable_is_named(tmp_path: Path) -> None:
    result = flows("serve", "--data-dir", str(tmp_path / "data"), env={**os.environ, "WORKER": "flase"})
    _assert_refused_in_one_line(result, "WORKER (--worker) 'flase': must be true or false")


def test_an_unusable_data_dir_is_one_line(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    for arguments in (["serve", "--listen", "127.0.0.1:0"], ["migrate"]):
        result = flows(*arguments, "--data-dir", str(not_a_dir))
        _assert_refused_in_one_line(result, f"cannot use --data-dir {not_a_dir}: not a directory")


def test_a_worker_on_a_data_dir_without_a_database_is_one_line(tmp_path: Path) -> None:
    result = flows("worker", "--data-dir", str(tmp_path))
    _assert_refused_in_one_line(result, f"no Flows database in {tmp_path}")
    assert list(tmp_path.iterdir()) == [], "the worker created nothing there"


@pytest.mark.parametrize("command", ["serve", "worker", "migrate"])
def test_an_unreachable_postgresql_is_one_line(tmp_path: Path, command: str) -> None:
    flags = ["--postgres-uri", "postgres://flows:pw@127.0.0.1:1/x"]
    if command == "serve":
        flags += ["--listen", "127.0.0.1:0"]
    result = flows(command, "--data-dir", str(tmp_path / "data"), *flags)
    _assert_refused_in_one_line(result, "cannot open PostgreSQL at 127.0.0.1:1/x (--postgres-uri): ")
    assert "pw" not in result.stderr


def test_a_missing_postgresql_database_is_one_line(postgres_cluster) -> None:  # a session fixture
    result = flows("migrate", "--postgres-uri", postgres_cluster.uri("no_such_database"))
    _assert_refused_in_one_line(result, f"cannot open PostgreSQL at 127.0.0.1:{postgres_cluster.port}/no_such_database")
    assert "does not exist" in result.stderr


def test_a_database_of_an_unknown_revision_keeps_serve_from_starting_and_says_why(tmp_path: Path) -> None:
    # What a newer Flows left: the migration fails, in the child process that runs it.
    with contextlib.closing(sqlite3.connect(tmp_path / "flows.db")) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        connection.execute("INSERT INTO alembic_version VALUES ('9999')")
        connection.commit()
    result = flows("serve", "--data-dir", str(tmp_path), "--listen", "127.0.0.1:0")
    assert result.returncode == 1, result.stderr
    assert "Can't locate revision identified by '9999'" in result.stderr


def test_an_unreachable_temporal_is_one_line(tmp_path: Path) -> None:
    result = flows("migrate", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    result = flows("worker", "--data-dir", str(tmp_path), "--temporal-address", "127.0.0.1:1")
    _assert_refused_in_one_line(result, "cannot reach Temporal at 127.0.0.1:1: ")


def _assert_refused_in_one_line(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"flows: {message}"), lines[0]


def test_an_api_only_node_with_a_separate_worker_runs_instances(tmp_path: Path) -> None:
    api = FlowsProcess(tmp_path / "data", "--worker=false").start()
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen([*FLOWS, "worker", "--data-dir", str(api.data_dir)], stdout=output, stderr=output)
    try:
        # A loaded machine may take longer than runWorkflow's wait to start a Python process.
        eventually(lambda: "worker polling" in log.read_text() or worker.poll() is not None, timeout=60)
        assert worker.poll() is None, log.read_text()
        created = httpx.post(f"{api.url}/workflows", json={"stages": [{"noop": {}}, {"noop": {}}]})
        workflow_id = created.json()["data"]["id"]
        run = httpx.post(f"{api.url}/workflows/{workflow_id}/instances?wait=true", timeout=10)
        assert run.status_code == 201
        instance = run.json()["data"]
        assert instance["terminated"] is True
        assert [row["stage"] for row in instance["status"]] == [0, 1]
    finally:
        worker.send_signal(signal.SIGTERM)
        api.stop()
    assert worker.wait(30) == 0


def test_serve_runs_on_postgresql_and_an_existing_temporal(
    tmp_path: Path,
    postgres_cluster,  # session fixture from tests.support.postgres
) -> None:
    temporal = subprocess.Popen(
        [
            _temporal_binary(), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
            "--port", str(port := free_port()), "--http-port", str(free_port()),
            "--metrics-port", str(free_port()), "--log-level", "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    uri = postgres_cluster.create_database("flows_external")
    service = FlowsProcess(tmp_path / "data", "--postgres-uri", uri, "--temporal-address", f"127.0.0.1:{port}")
    try:
        service.start()
        created = httpx.post(f"{service.url}/workflows", json={"stages": [{"noop": {}}]})
        workflow_id = created.json()["data"]["id"]
        run = httpx.post(f"{service.url}/workflows/{workflow_id}/instances?wait=true", timeout=10)
        assert run.json()["data"]["terminated"] is True
        assert not (service.data_dir / "temporal.pid").exists(), "no embedded Temporal was started"
    finally:
        service.stop()
        temporal.terminate()
        temporal.wait(30)


def _temporal_binary() -> str:
    from flows.engine.devserver import find_temporal_binary

    return str(find_temporal_binary())


def test_an_unreachable_nats_ends_serve_in_one_line(tmp_path: Path) -> None:
    result = flows("serve", "--data-dir", str(tmp_path / "data"), "--listen", "127.0.0.1:0", "--nats-url", "nats://u:pw@127.0.0.1:1")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "pw" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("flows: cannot reach NATS at 127.0.0.1:1 (--nats-url): "), result.stderr
