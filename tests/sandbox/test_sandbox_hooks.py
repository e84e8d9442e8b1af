"""Test hooks of the sandbox: the request recording and holds (before and after commit)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_support import SandboxServer, balances
from sqlalchemy import func, select

from flows.sandbox.tables import sandbox_requests
from flows.storage.database import Database, sqlalchemy_url
from tests.support.polling import eventually
from tests.support.service import FlowsProcess
from tests.support.stack import HOOKS, hold, new_ledger, waiting


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """A sandbox serving its test hooks."""
    path = tmp_path_factory.mktemp("hooked") / "flows.sqlite"
    server = SandboxServer(sqlalchemy_url(None, path), test_hooks=True).start()
    yield server
    server.stop()


def recorded(url: str, since: int = 0, **params: Any) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}{HOOKS}/requests", params={"since": since, **params})
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def last_id(url: str) -> int:
    found = recorded(url)
    return found[-1]["id"] if found else 0


def post_transaction(url: str, ledger: str, amount: int, key: str | None = None, timeout: float = 30) -> httpx.Response:
    body = {"postings": [{"source": "world", "destination": "users:held", "amount": amount, "asset": "USD"}], "metadata": {}}
    headers = {"Idempotency-Key": key} if key else {}
    return httpx.post(f"{url}/api/ledger/v2/{ledger}/transactions", json=body, headers=headers, timeout=timeout)


def test_requests_are_recorded(hooked: SandboxServer) -> None:
    url = hooked.url
    ledger = new_ledger(url)
    start = last_id(url)
    post_transaction(url, ledger, 5, key="rec-1")
    httpx.get(f"{url}/api/ledger/v2/{ledger}/accounts/users:held", params={"expand": "volumes"})
    httpx.post(f"{url}/api/ledger/v2/{ledger}/transactions", content=b"not json")
    found = recorded(url, start)
    assert [(r["method"], r["path"], r["status"]) for r in found] == [
        ("POST", f"/api/ledger/v2/{ledger}/transactions", 200),
        ("GET", f"/api/ledger/v2/{ledger}/accounts/users:held", 200),
        ("POST", f"/api/ledger/v2/{ledger}/transactions", 400),
    ]
    first, second, third = found
    assert first["idempotencyKey"] == "rec-1" and first["query"] == ""
    assert first["body"] == {
        "postings": [{"source": "world", "destination": "users:held", "amount": 5, "asset": "USD"}],
        "metadata": {},
    }
    assert second["query"] == "expand=volumes" and second["body"] is None and second["idempotencyKey"] is None
    assert third["body"] == "not json"
    assert first["id"] < second["id"] < third["id"] and first["receivedAt"].endswith("Z")
    assert recorded(url, second["id"]) == [third]
    assert recorded(url, start, path=f"/api/ledger/v2/{ledger}/accounts") == [second]
    # Hook calls themselves are not recorded; a clear forgets, and ids keep increasing.
    assert httpx.delete(f"{url}{HOOKS}/requests").status_code == 204
    assert recorded(url) == []
    httpx.get(f"{url}/api/ledger/v2/{ledger}")
    [after_clear] = recorded(url)
    assert after_clear["id"] > third["id"]


def test_after_commit_hold_commits_then_waits(hooked: SandboxServer) -> None:
    url = hooked.url
    ledger = new_ledger(url)
    path = f"/api/ledger/v2/{ledger}/transactions"
    hold_id = hold(url, "POST", path, "after-commit")
    with ThreadPoolExecutor(1) as pool:
        pending: Future[httpx.Response] = pool.submit(post_transaction, url, ledger, 7)
        eventually(lambda: waiting(url, hold_id) == 1)
        # The write is durable and recorded while its answer is held back.
        assert balances(url, ledger, "users:held") == {"USD": 7}
        [seen] = recorded(url, path=path)
        assert seen["status"] == 200
        assert not pending.done()
        state = httpx.get(f"{url}{HOOKS}/holds/{hold_id}").json()["data"]
        assert state == {
            "id": hold_id, "method": "POST", "path": path, "when": "after-commit",
            "count": None, "caught": 1, "waiting": 1, "released": False,
        }  # fmt: skip
        assert httpx.delete(f"{url}{HOOKS}/holds/{hold_id}").status_code == 204
        answer = pending.result(10)
    assert answer.status_code == 200 and answer.json()["data"]["id"] == 1
    assert httpx.get(f"{url}{HOOKS}/holds/{hold_id}").status_code == 404


def test_before_commit_hold_waits_before_anything_is_written(hooked: SandboxServer) -> None:
    url = hooked.url
    ledger = new_ledger(url)
    hold_id = hold(url, "POST", f"/api/ledger/v2/{ledger}/*", "before-commit")
    with ThreadPoolExecutor(1) as pool:
        pending: Future[httpx.Response] = pool.submit(post_transaction, url, ledger, 3)
        eventually(lambda: waiting(url, hold_id) == 1)
        assert balances(url, ledger, "users:held") == {}
        # Other methods and paths pass.
        assert httpx.get(f"{url}/api/ledger/v2/{ledger}/transactions").status_code == 200
        httpx.delete(f"{url}{HOOKS}/holds/{hold_id}")
        assert pending.result(10).status_code == 200
    assert balances(url, ledger, "users:held") == {"USD": 3}


def test_a_caller_that_gives_up_during_a_hold_and_retries_with_its_key_moves_money_once(
    hooked: SandboxServer,
) -> None:
    """What a worker killed with its request in flight sees after a restart."""
    url = hooked.url
    ledger = new_ledger(url)
    hold_id = hold(url, "POST", f"/api/ledger/v2/{ledger}/transactions", "after-commit", count=1)
    try:
        post_transaction(url, ledger, 9, key="crash-1", timeout=0.5)
    except httpx.ReadTimeout:
        pass
    else:
        raise AssertionError("the held request should not have been answered")
    assert waiting(url, hold_id) == 1
    retried = post_transaction(url, ledger, 9, key="crash-1")
    assert retried.status_code == 200 and retried.headers["Idempotency-Hit"] == "true"
    assert retried.json()["data"]["id"] == 1
    httpx.delete(f"{url}{HOOKS}/holds/{hold_id}")
    assert balances(url, ledger, "users:held") == {"USD": 9}
    listed = httpx.get(f"{url}/api/ledger/v2/{ledger}/transactions").json()["cursor"]["data"]
    assert len(listed) == 1
    # The sandbox is still fine after answering a caller that had gone.
    assert httpx.get(f"{url}/api/ledger/v2/{ledger}").status_code == 200


def test_hold_requests_are_validated(hooked: SandboxServer) -> None:
    url = hooked.url
    for body in (
        {"method": "POST", "path": "/api/x", "when": "later"},
        {"method": "POST", "path": "relative", "when": "after-commit"},
        {"method": "POST", "path": "/api/x", "when": "after-commit", "count": 0},
        {"path": "/api/x", "when": "after-commit"},
    ):
        response = httpx.post(f"{url}{HOOKS}/holds", json=body)
        assert response.status_code == 400 and response.json()["errorCode"] == "VALIDATION"
    assert httpx.get(f"{url}{HOOKS}/holds/nope").status_code == 404
    assert httpx.delete(f"{url}{HOOKS}/holds/nope").status_code == 404
    hold_id = hold(url, "get", "/api/ledger/v2/never/", "before-commit")
    assert any(h["id"] == hold_id and h["method"] == "GET" and h["path"] == "/api/ledger/v2/never" for h in httpx.get(f"{url}{HOOKS}/holds").json()["data"])
    httpx.delete(f"{url}{HOOKS}/holds/{hold_id}")


def test_the_recording_keeps_the_latest_requests_only(tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("pruned") / "flows.sqlite"
    server = SandboxServer(sqlalchemy_url(None, path), test_hooks=True, record_limit=5).start()
    try:
        for _ in range(12):
            httpx.get(f"{server.url}/api/ledger/v2/main")
        ids = [r["id"] for r in recorded(server.url)]
        assert ids[-1] == 12 and 5 <= len(ids) < 10 and ids == sorted(ids)
    finally:
        server.stop()


HOOK_ROUTES = [
    ("GET", "/requests"),
    ("DELETE", "/requests"),
    ("GET", "/holds"),
    ("POST", "/holds"),
    ("GET", "/holds/any"),
    ("DELETE", "/holds/any"),
]


def assert_hooks_unknown(url: str) -> None:
    for method, route in HOOK_ROUTES:
        response = httpx.request(method, f"{url}{HOOKS}{route}", json={"method": "POST", "path": "/*", "when": "before-commit"})
        assert response.status_code == 404, (method, route, response.text)
        assert response.json()["errorCode"] == "NOT_FOUND"


async def test_hooks_are_off_unless_enabled(tmp_path_factory: pytest.TempPathFactory) -> None:
    url = sqlalchemy_url(None, tmp_path_factory.mktemp("unhooked") / "flows.sqlite")
    server = SandboxServer(url).start()
    try:
        assert_hooks_unknown(server.url)
        # The hold asked for above parks nothing, and nothing is recorded.
        ledger = new_ledger(server.url)
        assert post_transaction(server.url, ledger, 5, timeout=10).status_code == 200
        assert balances(server.url, ledger, "users:held") == {"USD": 5}
        database = Database(url)
        try:
            async with database.read() as conn:
                assert (await conn.execute(select(func.count()).select_from(sandbox_requests))).scalar_one() == 0
        finally:
            await database.close()
    finally:
        server.stop()


def test_flows_serve_serves_the_hooks_only_with_its_flag(tmp_path: Path, sqlite_service: FlowsProcess) -> None:
    # The session's service runs with --sandbox-test-hooks (tests/conftest.py).
    assert httpx.get(f"{sqlite_service.url}{HOOKS}/requests", params={"since": 0}).status_code == 200
    service = FlowsProcess(tmp_path / "data").start()
    try:
        assert_hooks_unknown(service.url)
    finally:
        service.stop()
